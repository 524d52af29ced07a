/**
 * handoffRatio: p50 of released(prev) → acquired(next) on one contended mutex ÷ the p50
 * of a raw baseline measured alternately in the same run.
 * - emulated: the engine in this process ÷ a raw two-thread Atomics ping-pong (one
 *   thread hands a word to the other: the floor of any cross-thread handoff).
 * - win32: the service under Wine (stamps from its event stream) ÷ the C loop of the
 *   same pool/mutex operations under the same Wine (native-loop.ts). Both measure from
 *   returned(prev): the pool releases the mutex right after the callback returns, but
 *   the `released` stamp comes from a wait callback that races the next owner's wake-up
 *   (it is often later than the next `acquired`, which the service clamps it to), so
 *   released → acquired has a median near or below zero on both sides.
 */
import { Worker } from 'node:worker_threads';
import { selectEngine } from '../../src/engine/select.js';
import type { Phase } from '../../src/engine/types.js';
import type { WorkView } from '../../src/schemas/work.js';
import { SseClient } from '../e2e/sse.js';
import type { BenchEngine, BenchService } from './service.js';
import { abRounds, median, round } from './stats.js';

/** One-way latency of handing a word between two threads, ns (p50 over `hops`). */
async function pingPong(hops: number): Promise<number> {
  const shared = new Int32Array(new SharedArrayBuffer(16));
  const stamps = new BigInt64Array(new SharedArrayBuffer(8 * 2 * hops));
  const source = `
    const { workerData: { shared, stamps, hops, me } } = require('node:worker_threads');
    for (let i = 0; i < hops; i++) {
      const turn = i * 2 + me;
      let seen;
      while ((seen = Atomics.load(shared, 0)) !== turn) Atomics.wait(shared, 0, seen);
      stamps[turn] = process.hrtime.bigint();
      Atomics.store(shared, 0, turn + 1);
      Atomics.notify(shared, 0);
    }`;
  const workers = [0, 1].map((me) => new Worker(source, { eval: true, workerData: { shared, stamps, hops, me } }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  const gaps: number[] = [];
  for (let i = 1; i < 2 * hops; i++) gaps.push(Number(stamps[i]! - stamps[i - 1]!));
  return median(gaps);
}

/** p50 of released(prev).atNs → acquired(next).atNs, ns, over `works` contended works. */
async function engineHandoff(works: number): Promise<number> {
  const engine = await selectEngine('emulated', { pool: { minThreads: 4, maxThreads: 4 } });
  await engine.start();
  const phases: Phase[] = [];
  let terminal = 0;
  const done = new Promise<void>((resolve) => engine.onPhase((p) => {
    phases.push(p);
    if (p.type === 'released' && ++terminal === works) resolve();
  }));
  engine.openMutex('Local\\bench-handoff');
  for (let i = 0; i < works; i++) engine.submit({ workId: `w${i}`, mutex: 'Local\\bench-handoff', acquireTimeoutMs: 60_000, spinMs: 0, holdMs: 0, mayRunLong: false });
  await done;
  await engine.close({ timeoutMs: 5_000 });
  const acquired = phases.filter((p) => p.type === 'acquired').sort((a, b) => a.fencingToken - b.fencingToken);
  const releasedAt = new Map(phases.filter((p) => p.type === 'released').map((p) => [p.workId, p.atNs]));
  const gaps: number[] = [];
  for (let i = 1; i < acquired.length; i++) gaps.push(Number(acquired[i]!.atNs - releasedAt.get(acquired[i - 1]!.workId)!));
  return median(gaps);
}

let serviceRun = 0;

/** p50 of <from>(prev) → acquired(next), from the released events of works on one mutex of the service. */
async function serviceHandoff(service: BenchService, works: number, from: 'releasedAtNs' | 'returnedAtNs'): Promise<number> {
  const mutex = `bench-handoff-${++serviceRun}`;
  const stream = await SseClient.open(service.baseUrl, `/v1/events?types=work.released&mutex=${mutex}`);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < works; i++) pending.push(service.submit({ mutex, holdMs: 0 }));
  await Promise.all(pending);
  await stream.waitFor(() => stream.frames.length >= works, 120_000, `${works} released on ${mutex}`);
  stream.close();
  const done = stream.frames.map((f) => f.json['work'] as WorkView).sort((a, b) => a.fencingToken! - b.fencingToken!);
  const gaps: number[] = [];
  for (let i = 1; i < done.length; i++) gaps.push(Number(BigInt(done[i]!.acquiredAtNs!) - BigInt(done[i - 1]![from]!)));
  return median(gaps);
}

async function nativeHandoff(works: number): Promise<number> {
  return Number((await (await import('./native-loop.js')).runNativeLoop(['handoff', String(works), '4', '16']))['returnedP50Ns']);
}

export async function measureHandoff(engine: BenchEngine, service: BenchService, quick: boolean) {
  const works = quick ? 500 : 2000;
  const ab = engine === 'emulated'
    ? await abRounds(quick ? 3 : 5, () => engineHandoff(works), () => pingPong(quick ? 2000 : 10000))
    : await abRounds(quick ? 3 : 5, () => serviceHandoff(service, works, 'returnedAtNs'), () => nativeHandoff(works));
  return {
    handoffRatio: round(ab.candidateMedian / ab.baselineMedian),
    raw: engine === 'emulated'
      ? { engineHandoffP50Ns: ab.candidate, atomicsPingPongP50Ns: ab.baseline }
      : { measuredFrom: 'returned(prev)', serviceHandoffP50Ns: ab.candidate, nativeLoopHandoffP50Ns: ab.baseline },
  };
}
