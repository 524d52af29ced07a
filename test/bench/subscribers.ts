/**
 * A group of SSE subscribers on their own worker thread (subscriber-worker.ts), following
 * one URL of the service, each on its own connection, counting `work.released` frames and
 * their delivery latency.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { BenchService } from './service.js';
import type { SubscriberInit, SubscriberReport } from './subscriber-worker.js';

/** The works every figure submits over HTTP: holdMs 0, spread over 64 mutexes. */
export const BENCH_MUTEXES = 64;
export const benchWork = (i: number) => ({ mutex: `bench-${i % BENCH_MUTEXES}`, holdMs: 0 });

export class SubscriberGroup {
  private constructor(private readonly worker: Worker) {}

  /** `count` subscribers to the service's `work.released` events. */
  static followReleased(service: BenchService, count: number): Promise<SubscriberGroup> {
    return SubscriberGroup.open({ url: `${service.baseUrl}/v1/events?types=work.released`, count, offsetNs: Number(service.clockOffsetNs) });
  }

  static async open(init: SubscriberInit): Promise<SubscriberGroup> {
    const worker = new Worker(new URL('./subscriber-worker.js', import.meta.url), { workerData: init });
    const failed = once(worker, 'error').then(([error]) => { throw error as Error; });
    await Promise.race([once(worker, 'message'), failed]);
    return new SubscriberGroup(worker);
  }

  /** What was received since the last reset; `reset` starts counting from zero after this report. */
  async report(reset = false): Promise<SubscriberReport> {
    const answer = once(this.worker, 'message') as Promise<[SubscriberReport]>;
    this.worker.postMessage({ type: 'report', reset });
    return (await answer)[0];
  }

  /** Until every subscriber has `expected` frames (or broke), or nothing arrived for 10 s; the final report. */
  async delivered(expected: number): Promise<SubscriberReport> {
    let last = -1;
    let quietSince = Date.now();
    for (;;) {
      const report = await this.report();
      const total = report.received.reduce((sum, n) => sum + n, 0);
      if (report.received.every((n, i) => n >= expected || report.broken[i] !== '') || Date.now() - quietSince > 10_000) return report;
      if (total !== last) { last = total; quietSince = Date.now(); }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    this.worker.postMessage({ type: 'close' });
    await once(this.worker, 'exit');
  }
}

/** Submits at a steady `perSecond` for `seconds`; resolves with the rate achieved once every answer is in. */
export async function submitSteadily(submit: (i: number) => Promise<unknown>, perSecond: number, seconds: number): Promise<number> {
  const total = perSecond * seconds;
  const began = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = began + (i * 1000) / perSecond - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(submit(i));
  }
  await Promise.all(pending);
  return total / ((Date.now() - began) / 1000);
}

/**
 * Delivery to `subscribers` followers of `work.released` while works are submitted at a
 * steady `perSecond` for `seconds`, after a warm-up at the same rate (JIT, pool growth,
 * socket buffers) that is not counted. The report counts only the measured works.
 */
export async function steadyDelivery(service: BenchService, options: { subscribers: number; perSecond: number; seconds: number; warmUpSeconds: number }) {
  const group = await SubscriberGroup.followReleased(service, options.subscribers);
  const submit = (i: number) => service.submit(benchWork(i));
  try {
    await submitSteadily(submit, options.perSecond, options.warmUpSeconds);
    await group.delivered(options.perSecond * options.warmUpSeconds);
    await group.report(true);
    const worksPerSec = await submitSteadily(submit, options.perSecond, options.seconds);
    const expected = options.perSecond * options.seconds;
    return { report: await group.delivered(expected), expected, worksPerSec };
  } finally {
    await group.close();
  }
}
