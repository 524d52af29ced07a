/**
 * e2eRatio: works/s completed end to end over HTTP (submitted → released, observed on
 * the event stream) ÷ works/s of the same engine driven with no HTTP: the emulated
 * engine in this process, or for win32 the C loop of the same pool/mutex operations
 * (native-loop.ts) under the same Wine.
 * eventP99Ms: engine `released` stamp → SSE frame received, p99, with works submitted
 * at a steady 1,000/s (stamps mapped to this process's clock, see clock-offset.ts).
 */
import { selectEngine } from '../../src/engine/select.js';
import { SseClient } from '../e2e/sse.js';
import type { BenchEngine, BenchService } from './service.js';
import { abRounds, percentile, round } from './stats.js';

const MUTEXES = 64;
const body = (i: number) => ({ mutex: `bench-${i % MUTEXES}`, holdMs: 0 });
const releasedCount = (stream: SseClient) => stream.frames.filter((f) => f.event === 'work.released').length;

async function overHttp(service: BenchService, works: number): Promise<number> {
  const stream = await SseClient.open(service.baseUrl, '/v1/events?types=work.released');
  const began = process.hrtime.bigint();
  for (let i = 0; i < works; i += 64) await Promise.all(Array.from({ length: Math.min(64, works - i) }, (_, j) => service.api.submitOk(body(i + j))));
  await stream.waitFor(() => releasedCount(stream) >= works, 120_000, `${works} released`);
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  stream.close();
  return works / seconds;
}

async function emulatedInProcess(works: number): Promise<number> {
  const engine = await selectEngine('emulated', { pool: { minThreads: 4, maxThreads: 16 } });
  await engine.start();
  for (let m = 0; m < MUTEXES; m++) engine.openMutex(`Local\\bench-${m}`);
  let released = 0;
  const done = new Promise<void>((resolve) => engine.onPhase((p) => { if (p.type === 'released' && ++released === works) resolve(); }));
  const began = process.hrtime.bigint();
  for (let i = 0; i < works; i++) engine.submit({ workId: `w${i}`, mutex: `Local\\bench-${i % MUTEXES}`, acquireTimeoutMs: 60_000, spinMs: 0, holdMs: 0, mayRunLong: false });
  await done;
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  await engine.close({ timeoutMs: 5_000 });
  return works / seconds;
}

async function nativeLoop(works: number): Promise<number> {
  const result = await (await import('./native-loop.js')).runNativeLoop(['throughput', String(works), String(MUTEXES), '4', '16']);
  return Number(result['worksPerSec']);
}

/** Submits at `perSecond` for `seconds`; returns released-stamp → frame-received latencies in ms. */
async function eventLatency(service: BenchService, perSecond: number, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const stream = await SseClient.open(service.baseUrl, '/v1/events?types=work.released');
  const seen = stream.frames.length;
  const original = stream.frames.push.bind(stream.frames);
  // Stamp each frame as it is parsed, on this process's monotonic clock.
  stream.frames.push = (...frames) => {
    const now = process.hrtime.bigint();
    for (const f of frames) {
      const releasedAtNs = (f.json['work'] as { releasedAtNs?: string } | undefined)?.releasedAtNs;
      if (releasedAtNs) latencies.push(Number(now - service.toLocalNs(BigInt(releasedAtNs))) / 1e6);
    }
    return original(...frames);
  };
  const total = perSecond * seconds;
  const began = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = began + (i * 1000) / perSecond - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(service.api.submitOk(body(i)));
  }
  await Promise.all(pending);
  await stream.waitFor(() => stream.frames.length - seen >= total, 120_000, 'latency run released');
  stream.close();
  return latencies;
}

export async function measureEndToEnd(engine: BenchEngine, service: BenchService, quick: boolean) {
  const works = quick ? 1000 : 4000;
  const baseline = engine === 'emulated' ? emulatedInProcess : nativeLoop;
  const ab = await abRounds(quick ? 3 : 5, () => overHttp(service, works), () => baseline(works));
  const latencies = await eventLatency(service, 1000, quick ? 2 : 5);
  return {
    e2eRatio: round(ab.candidateMedian / ab.baselineMedian),
    eventP99Ms: round(percentile(latencies, 99)),
    raw: {
      httpWorksPerSec: ab.candidate.map((v) => round(v, 0)),
      [engine === 'emulated' ? 'inProcessWorksPerSec' : 'nativeLoopWorksPerSec']: ab.baseline.map((v) => round(v, 0)),
      eventLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), samples: latencies.length },
    },
  };
}
