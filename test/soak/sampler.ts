/**
 * What the soak samples every 5 s, read from GET /metrics as an operator's Prometheus
 * would: memory, event-loop lag, OS handles, pool threads, retained works, SSE
 * subscribers. Nothing is read through a side door.
 */
import type { SoakClient } from './client.js';

export const SAMPLED = {
  heapUsedBytes: 'tpmutex_nodejs_heap_size_used_bytes',
  rssBytes: 'tpmutex_process_resident_memory_bytes',
  externalBytes: 'tpmutex_nodejs_external_memory_bytes',
  eventLoopLagP99Seconds: 'tpmutex_nodejs_eventloop_lag_p99_seconds',
  handles: 'tpmutex_process_handles',
  poolThreads: 'tpmutex_pool_threads',
  retainedWorks: 'tpmutex_works_retained',
  sseSubscribers: 'tpmutex_sse_subscribers',
  mutexesOpen: 'tpmutex_mutexes_open',
} as const;

export type Sample = { t: number } & Record<keyof typeof SAMPLED, number>;

/** The value of each unlabelled series in a Prometheus text exposition. */
export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    if (!series.includes('{')) values.set(series, Number(line.slice(space + 1)));
  }
  return values;
}

/** One sample, `t` seconds into the run; throws when /metrics lacks a sampled series. */
export async function sample(client: SoakClient, t: number): Promise<Sample> {
  const answer = await client.call('GET', '/metrics', [200]);
  if (answer?.status !== 200) throw new Error(`GET /metrics → ${answer?.status ?? 'no answer'}`);
  const values = parseExposition(answer.text);
  const result = { t } as Sample;
  for (const [key, name] of Object.entries(SAMPLED) as [keyof typeof SAMPLED, string][]) {
    const value = values.get(name);
    if (value === undefined) throw new Error(`/metrics has no ${name}`);
    result[key] = value;
  }
  return result;
}
