/**
 * sseLost, sseP99Ms: 500 SSE subscribers (each on its own connection, following
 * `work.released`, on a worker thread of their own) while works are submitted at a
 * steady rate (run.ts: 500/s, or a third of the run's end-to-end capacity if less).
 * Lost = released events a subscriber never received (an `overflow` or `reset` frame
 * counts as losing what followed); delivery = the engine's `released` stamp → the
 * frame's arrival. sseP99Ms is the p99 of each second's frames (in arrival order, over
 * every subscriber), median over the seconds, as eventP99Ms: one stall of the machine
 * delays every subscriber's frames at once, and over the whole run it alone decided the
 * p99 (emulated: 148 and 51 ms in two runs a minute apart). The p99 over every frame is
 * in raw deliveryMs.
 */
import type { BenchService } from './service.js';
import { median, percentile, round } from './stats.js';
import { steadyDelivery } from './subscribers.js';

export async function measureSseFanout(service: BenchService, options: { subscribers: number; perSecond: number; seconds: number }) {
  const warmUpSeconds = Math.max(1, Math.round(options.seconds / 3));
  const { report, expected, worksPerSec } = await steadyDelivery(service, { ...options, warmUpSeconds });
  const lost = report.received.reduce((sum, n) => sum + Math.max(0, expected - n), 0);
  const perWindow = options.perSecond * options.subscribers;
  const windowP99Ms: number[] = [];
  for (let at = 0; at + perWindow <= report.latenciesNs.length; at += perWindow) {
    windowP99Ms.push(round(percentile(report.latenciesNs.subarray(at, at + perWindow), 99) / 1e6));
  }
  const sorted = report.latenciesNs.sort();
  const ms = (p: number) => round(percentile(sorted, p, true) / 1e6);
  return {
    sseLost: lost,
    sseP99Ms: median(windowP99Ms),
    raw: {
      subscribers: options.subscribers, targetPerSec: options.perSecond, worksPerSec: round(worksPerSec, 0), framesExpected: expected * options.subscribers,
      framesReceived: sorted.length, framesPerRead: round(sorted.length / Math.max(1, report.reads), 1),
      brokenStreams: report.broken.filter((b) => b !== '').length,
      deliveryMs: { p50: ms(50), p99: ms(99), max: ms(100) }, windowP99Ms,
    },
  };
}
