/**
 * What the soak samples every 5 s, read from GET /metrics as an operator's Prometheus
 * would: memory, event-loop lag, OS handles, pool threads, retained works, SSE
 * subscribers. Nothing is read through a side door.
 */
import type { SoakClient } from './client.js';

export const SAMPLED = {
  heapUsedBytes: 'tpmutex_nodejs_heap_size_used_bytes',
  heapAfterMajorGcBytes: 'tpmutex_heap_used_after_major_gc_bytes',
  rssBytes: 'tpmutex_process_resident_memory_bytes',
  externalBytes: 'tpmutex_nodejs_external_memory_bytes',
  eventLoopLagP99Seconds: 'tpmutex_nodejs_eventloop_lag_p99_seconds',
  handles: 'tpmutex_process_handles',
  poolThreads: 'tpmutex_pool_threads',
  retainedWorks: 'tpmutex_works_retained',
  sseSubscribers: 'tpmutex_sse_subscribers',
  mutexesOpen: 'tpmutex_mutexes_open',
  majorGcs: 'tpmutex_nodejs_gc_duration_seconds_count{kind="major"}',
} as const;

export type Sample = { t: number } & Record<keyof typeof SAMPLED, number>;

/** The value of each series in a Prometheus text exposition, by its name and labels as written. */
export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
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
    // A labelled histogram series appears with its first observation: no major GC yet is 0.
    const value = values.get(name) ?? (key === 'majorGcs' ? 0 : undefined);
    if (value === undefined) throw new Error(`/metrics has no ${name}`);
    result[key] = value;
  }
  return result;
}
