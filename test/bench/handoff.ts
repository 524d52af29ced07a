/**
 * handoffRatio: p50 of released(prev) → acquired(next) on one contended mutex, on the
 * emulated engine in this process, ÷ p50 of a raw two-thread Atomics ping-pong (one
 * thread hands a word to the other: the floor of any cross-thread handoff), measured
 * alternately in the same run.
 */
import { Worker } from 'node:worker_threads';
import { selectEngine } from '../../src/engine/select.js';
import type { Phase } from '../../src/engine/types.js';
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

export async function measureHandoff(quick: boolean) {
  const ab = await abRounds(quick ? 3 : 5, () => engineHandoff(quick ? 500 : 2000), () => pingPong(quick ? 2000 : 10000));
  return {
    handoffRatio: round(ab.candidateMedian / ab.baselineMedian),
    raw: { engineHandoffP50Ns: ab.candidate, atomicsPingPongP50Ns: ab.baseline },
  };
}
