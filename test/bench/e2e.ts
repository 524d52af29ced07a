/**
 * e2eRatio: works/s completed end to end over HTTP (submitted → released, observed on
 * the event stream) ÷ works/s of the same engine driven with no HTTP: the emulated
 * engine in this process, or for win32 the C loop of the same pool/mutex operations
 * (native-loop.ts) under the same Wine.
 * eventP99Ms: engine `released` stamp → SSE frame received, p99, with works submitted
 * at a steady 1,000/s (stamps mapped to this process's clock, see clock-offset.ts).
 */
import { selectEngine } from '../../src/engine/select.js';
import type { BenchEngine, BenchService } from './service.js';
import { abRounds, percentile, round } from './stats.js';
import { BENCH_MUTEXES, benchWork, steadyDelivery, SubscriberGroup } from './subscribers.js';

async function overHttp(service: BenchService, works: number): Promise<number> {
  const group = await SubscriberGroup.followReleased(service, 1);
  try {
    const began = process.hrtime.bigint();
    for (let i = 0; i < works; i += 64) await Promise.all(Array.from({ length: Math.min(64, works - i) }, (_, j) => service.submit(benchWork(i + j))));
    const report = await group.delivered(works);
    if (report.received[0]! < works) throw new Error(`only ${report.received[0]} of ${works} works were seen released`);
    return works / (Number(process.hrtime.bigint() - began) / 1e9);
  } finally {
    await group.close();
  }
}

async function emulatedInProcess(works: number): Promise<number> {
  const engine = await selectEngine('emulated', { pool: { minThreads: 4, maxThreads: 16 } });
  await engine.start();
  for (let m = 0; m < BENCH_MUTEXES; m++) engine.openMutex(`Local\\bench-${m}`);
  let released = 0;
  const done = new Promise<void>((resolve) => engine.onPhase((p) => { if (p.type === 'released' && ++released === works) resolve(); }));
  const began = process.hrtime.bigint();
  for (let i = 0; i < works; i++) engine.submit({ workId: `w${i}`, mutex: `Local\\bench-${i % BENCH_MUTEXES}`, acquireTimeoutMs: 60_000, spinMs: 0, holdMs: 0, mayRunLong: false });
  await done;
  const seconds = Number(process.hrtime.bigint() - began) / 1e9;
  await engine.close({ timeoutMs: 5_000 });
  return works / seconds;
}

async function nativeLoop(works: number): Promise<number> {
  const result = await (await import('./native-loop.js')).runNativeLoop(['throughput', String(works), String(BENCH_MUTEXES), '4', '16']);
  return Number(result['worksPerSec']);
}

/** Released stamp → frame received, ns, ascending, with works submitted at `perSecond` for `seconds`. */
async function eventLatency(service: BenchService, perSecond: number, seconds: number): Promise<Float64Array> {
  const { report, expected } = await steadyDelivery(service, { subscribers: 1, perSecond, seconds, warmUpSeconds: 1 });
  if (report.received[0]! < expected) throw new Error(`only ${report.received[0]} of ${expected} works were seen released`);
  return report.latenciesNs.sort();
}

export async function measureEndToEnd(engine: BenchEngine, service: BenchService, quick: boolean) {
  const works = quick ? 1000 : 4000;
  const baseline = engine === 'emulated' ? emulatedInProcess : nativeLoop;
  const ab = await abRounds(quick ? 3 : 5, () => overHttp(service, works), () => baseline(works));
  const latencies = await eventLatency(service, 1000, quick ? 2 : 5);
  const ms = (p: number) => round(percentile(latencies, p, true) / 1e6);
  return {
    e2eRatio: round(ab.candidateMedian / ab.baselineMedian),
    eventP99Ms: ms(99),
    raw: {
      httpWorksPerSec: ab.candidate.map((v) => round(v, 0)),
      [engine === 'emulated' ? 'inProcessWorksPerSec' : 'nativeLoopWorksPerSec']: ab.baseline.map((v) => round(v, 0)),
      eventLatencyMs: { p50: ms(50), p99: ms(99), max: ms(100), samples: latencies.length },
    },
  };
}
