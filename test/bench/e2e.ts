/**
 * e2eRatio: works/s completed end to end over HTTP (submitted → released, observed on
 * the event stream) ÷ works/s of the same engine driven with no HTTP: the emulated
 * engine in this process, or for win32 the C loop of the same pool/mutex operations
 * (native-loop.ts) under the same Wine. Both sides are warm alike: the in-process
 * engine is built once, with the service's pool limits, and warmed by the same untimed
 * round as the service; the C loop makes an untimed pass of the same works before the
 * one it times. So no side's pool grows inside its timed interval.
 *
 * e2eCapacityPerSec: the median of the HTTP side's rounds — what the service completes
 * end to end on this machine now.
 *
 * eventP99Ms: engine `released` stamp → SSE frame received, with works submitted at a
 * steady half of e2eCapacityPerSec (stamps mapped to this process's clock, see
 * clock-offset.ts): latency, not queueing. The p99 of each second's works, median over
 * the seconds, so that one stall of this shared machine does not make the figure; the
 * p99 over the whole run is reported beside it (raw p99MsOverall). eventP99MsAt1000PerSec is the same at a fixed
 * 1,000 works/s, an overload figure wherever that exceeds the capacity. Each reports the
 * submit rate it achieved; a run below 95% of its target rate is marked invalid.
 */
import { selectEngine } from '../../src/engine/select.js';
import type { Engine } from '../../src/engine/types.js';
import type { BenchEngine, BenchService } from './service.js';
import { BENCH_POOL } from './service.js';
import { abRounds, median, percentile, round } from './stats.js';
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

/** The emulated engine in this process, started once and kept, as the service keeps its own. */
class InProcessEngine {
  private released = 0;
  private target = 0;
  private wake: () => void = () => {};
  private next = 0;

  private constructor(private readonly engine: Engine) {
    engine.onPhase((p) => { if (p.type === 'released' && ++this.released === this.target) this.wake(); });
  }

  static async start(): Promise<InProcessEngine> {
    const engine = await selectEngine('emulated', { pool: BENCH_POOL });
    await engine.start();
    for (let m = 0; m < BENCH_MUTEXES; m++) engine.openMutex(`Local\\bench-${m}`);
    return new InProcessEngine(engine);
  }

  /** works/s for `works` works, submitted at once, until the last is released. */
  async run(works: number): Promise<number> {
    this.released = 0;
    this.target = works;
    const done = new Promise<void>((resolve) => { this.wake = resolve; });
    const began = process.hrtime.bigint();
    for (let i = 0; i < works; i++) {
      const n = this.next++;
      this.engine.submit({ workId: `w${n}`, acquire: { kind: 'mutex', name: `Local\\bench-${n % BENCH_MUTEXES}` }, setEventOnReturn: null, acquireTimeoutMs: 60_000, spinMs: 0, holdMs: 0, mayRunLong: false });
    }
    await done;
    return works / (Number(process.hrtime.bigint() - began) / 1e9);
  }

  close(): Promise<void> { return this.engine.close({ timeoutMs: 5_000 }); }
}

async function nativeLoop(works: number): Promise<number> {
  const { runNativeLoop } = await import('./native-loop.js');
  const result = await runNativeLoop(['throughput', String(works), String(BENCH_MUTEXES), String(BENCH_POOL.minThreads), String(BENCH_POOL.maxThreads)]);
  return Number(result['worksPerSec']);
}

/** Untimed seconds at the measured rate before eventP99Ms's windows. */
const EVENT_LATENCY_WARM_UP_S = 5;

export interface SteadyLatency {
  /** p99 of each second's works (in arrival order), the median over the seconds: the figure. */
  p99Ms: number;
  /** Percentiles over every work of the run; a stall of the machine for a moment lands in these. */
  p50Ms: number; p99MsOverall: number; maxMs: number; samples: number;
  windowP99Ms: number[];
  targetPerSec: number; achievedPerSec: number;
  /** False when the achieved submit rate was below 95% of the target: the figure is not at the stated load. */
  valid: boolean;
}

/** Released stamp → frame received at a steady `perSecond` for `seconds`, after a warm-up at the same rate. */
export async function eventLatency(service: BenchService, perSecond: number, seconds: number, warmUpSeconds: number): Promise<SteadyLatency> {
  const rate = Math.max(1, Math.round(perSecond));
  const { report, expected, worksPerSec } = await steadyDelivery(service, { subscribers: 1, perSecond: rate, seconds, warmUpSeconds });
  if (report.received[0]! < expected) throw new Error(`only ${report.received[0]} of ${expected} works were seen released`);
  const windowP99Ms: number[] = [];
  for (let at = 0; at + rate <= report.latenciesNs.length; at += rate) windowP99Ms.push(round(percentile(report.latenciesNs.subarray(at, at + rate), 99) / 1e6));
  const latencies = report.latenciesNs.sort();
  const ms = (p: number) => round(percentile(latencies, p, true) / 1e6);
  return {
    p99Ms: median(windowP99Ms), windowP99Ms,
    p50Ms: ms(50), p99MsOverall: ms(99), maxMs: ms(100), samples: latencies.length,
    targetPerSec: rate, achievedPerSec: round(worksPerSec, 0), valid: worksPerSec >= 0.95 * rate,
  };
}

export async function measureEndToEnd(engine: BenchEngine, service: BenchService, quick: boolean) {
  const works = quick ? 2000 : 4000;
  const inProcess = engine === 'emulated' ? await InProcessEngine.start() : undefined;
  let ab;
  try {
    const baseline = inProcess !== undefined ? () => inProcess.run(works) : () => nativeLoop(works);
    // Quick rounds are half as long, and on a loaded machine one in three is hit by a burst: more of them.
    ab = await abRounds(quick ? 9 : 7, () => overHttp(service, works), baseline);
  } finally {
    await inProcess?.close();
  }
  const capacity = ab.candidateMedian;
  // An odd number of one-second windows, so that the median is one of them. The warm-up
  // lets the pool settle from the capacity rounds' bursts to the steady rate. Under Wine
  // the tail drifts over tens of seconds (consecutive 9-s blocks at one rate: 60, 18 and
  // 14 ms), so the windows span more than one such swing.
  const atHalf = await eventLatency(service, capacity / 2, quick ? 25 : 45, EVENT_LATENCY_WARM_UP_S);
  const at1000 = await eventLatency(service, 1000, quick ? 5 : 9, 1);
  return {
    e2eRatio: round(ab.ratio),
    e2eCapacityPerSec: round(capacity, 0),
    eventP99Ms: atHalf.p99Ms,
    eventP99MsAt1000PerSec: at1000.p99Ms,
    invalid: [...(atHalf.valid ? [] : ['eventP99Ms']), ...(at1000.valid ? [] : ['eventP99MsAt1000PerSec'])],
    raw: {
      httpWorksPerSec: ab.candidate.map((v) => round(v, 0)),
      [engine === 'emulated' ? 'inProcessWorksPerSec' : 'nativeLoopWorksPerSec']: ab.baseline.map((v) => round(v, 0)),
      eventLatencyAtHalfCapacity: atHalf,
      eventLatencyAt1000PerSec: { ...at1000, overload: 1000 > capacity },
    },
  };
}
