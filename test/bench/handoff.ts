/**
 * handoffRatio: p50 of returned(prev) → acquired(next) on one contended mutex of the
 * service, stamped by its engine and read from its event stream — the same interval,
 * through the service, on both engines — ÷ the p50 of a raw baseline measured
 * alternately in the same run:
 * - emulated: a raw two-thread Atomics ping-pong (one thread hands a word to the other:
 *   the floor of any cross-thread handoff);
 * - win32: the C loop of the same pool/mutex operations under the same Wine
 *   (native-loop.ts), returned(prev) → acquired(next) too, after an untimed warm-up pass.
 *
 * Why from returned: the pool releases the mutex right after the callback returns, and
 * returned is the last stamp before that release. The `released` stamp comes later and,
 * on win32, from a wait callback that races the next owner's wake-up (and is clamped to
 * the next acquisition), so it is not the same event on the two engines.
 *
 * Contention is made, not hoped for: a holder takes the mutex (untilSignaled), every
 * measured work is submitted and answered while it holds (so up to maxThreads−1 of them
 * wait on the mutex in the pool, the rest queue behind), and only then is the holder
 * signalled. Each handoff therefore has a waiter ready; the submit rate of the HTTP
 * client never paces it.
 */
import { Worker } from 'node:worker_threads';
import type { WorkView } from '../../src/schemas/work.js';
import { Api } from '../e2e/api.js';
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

let serviceRun = 0;

/** p50 of returned(prev) → acquired(next), ns, over `works` works queued behind a holder on one mutex of the service. */
async function serviceHandoff(service: BenchService, works: number): Promise<number> {
  const api = new Api(service.baseUrl);
  const mutex = `bench-handoff-${++serviceRun}`;
  const stream = await SseClient.open(service.baseUrl, `/v1/events?types=work.released&mutex=${mutex}`);
  try {
    const holder = await service.submit({ mutex, untilSignaled: true });
    for (let state = holder.state; state !== 'holding';) {
      if (state !== 'queued' && state !== 'waiting') throw new Error(`handoff holder ${holder.id} is ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      state = (await api.work(holder.id)).body.state;
    }
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < works; i++) pending.push(service.submit({ mutex, holdMs: 0 }));
    await Promise.all(pending);
    const signalled = await api.signal(holder.id);
    if (signalled.status !== 202) throw new Error(`signal ${holder.id}: ${signalled.status}`);
    await stream.waitFor(() => stream.frames.length >= works + 1, 120_000, `${works + 1} released on ${mutex}`);
  } finally {
    stream.close();
  }
  const done = stream.frames.map((f) => f.json['work'] as WorkView).sort((a, b) => a.fencingToken! - b.fencingToken!);
  const gaps: number[] = [];
  for (let i = 1; i < done.length; i++) gaps.push(Number(BigInt(done[i]!.acquiredAtNs!) - BigInt(done[i - 1]!.returnedAtNs!)));
  return median(gaps);
}

async function nativeHandoff(works: number): Promise<number> {
  return Number((await (await import('./native-loop.js')).runNativeLoop(['handoff', String(works), '4', '16']))['returnedP50Ns']);
}

export async function measureHandoff(engine: BenchEngine, service: BenchService, quick: boolean) {
  const works = quick ? 500 : 2000;
  const rounds = quick ? 5 : 7;
  const baseline = engine === 'emulated' ? () => pingPong(quick ? 5000 : 10_000) : () => nativeHandoff(works);
  const ab = await abRounds(rounds, () => serviceHandoff(service, works), baseline);
  return {
    handoffRatio: round(ab.ratio),
    raw: {
      measuredFrom: 'returned(prev)',
      serviceHandoffP50Ns: ab.candidate,
      [engine === 'emulated' ? 'atomicsPingPongP50Ns' : 'nativeLoopHandoffP50Ns']: ab.baseline,
    },
  };
}
