/**
 * Event-loop lag as under-pressure measures it (the mean delay of a 10 ms timer over
 * the last sample), but counted only from when the app is ready: the synchronous work
 * of starting up is not load, and must not make the first requests of a fresh
 * process look overloaded.
 *
 * Only lag that was measured counts. The histogram's timer may not have ticked yet
 * when a sample is taken (the sample's own timer can fire first, right after start, or
 * in the same loop turn as the histogram's), so an empty histogram says nothing about
 * lag. What is still known then is how long the loop has gone without running the
 * histogram's timer: the time since the sample began, less one timer period.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

export class LagMonitor {
  private histogram: IntervalHistogram | null = null;
  private last = 0;
  private sampleStartedAt = 0;

  start(): void {
    this.histogram ??= monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.reset();
    this.histogram.enable();
    this.sampleStartedAt = performance.now();
  }

  stop(): void { this.histogram?.disable(); }

  /** Mean lag (ms) since the previous sample; starts a new sample. 0 before start(). */
  sample(): number {
    const h = this.histogram;
    if (h === null) return 0;
    const now = performance.now();
    this.last = h.count === 0
      ? Math.max(0, now - this.sampleStartedAt - RESOLUTION_MS)
      : Math.max(0, h.mean / 1e6 - RESOLUTION_MS);
    h.reset();
    this.sampleStartedAt = now;
    return this.last;
  }

  /** The last sampled lag (ms). */
  get lastMs(): number { return this.last; }
}
