/**
 * Event-loop lag as under-pressure measures it (the mean delay of a 10 ms timer over
 * the last sample), but counted only from when the app is ready: the synchronous work
 * of starting up is not load, and must not make the first requests of a fresh
 * process look overloaded.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

export class LagMonitor {
  private histogram: IntervalHistogram | null = null;
  private last = 0;

  start(): void {
    this.histogram ??= monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.reset();
    this.histogram.enable();
  }

  stop(): void { this.histogram?.disable(); }

  /** Mean lag (ms) since the previous sample; starts a new sample. 0 before start(). */
  sample(): number {
    const h = this.histogram;
    if (h === null) return 0;
    // No timer tick at all in the interval means the loop was blocked for all of it.
    this.last = h.count === 0 ? Infinity : Math.max(0, h.mean / 1e6 - RESOLUTION_MS);
    h.reset();
    return this.last;
  }

  /** The last sampled lag (ms). */
  get lastMs(): number { return this.last; }
}
