/**
 * Delivery of phases to the engine's single listener. Phases from worker messages and
 * worker exits are delivered as they are handled (already asynchronous); phases decided
 * inside a method call (cancelling a queued work) wait for the next turn of the event
 * loop, so a listener is never called from inside engine.cancel() or the like.
 */
import type { Phase, PhaseListener } from '../types.js';

export class PhaseSink {
  private listener: PhaseListener | undefined;
  private readonly deferred: Phase[] = [];
  private flushScheduled: Promise<void> | undefined;

  /** Phases delivered while no listener is set are dropped. */
  setListener(listener: PhaseListener): void {
    this.listener = listener;
  }

  /** Deliver now; only from an event handler, never from inside an engine method. */
  deliver(phase: Phase): void {
    try {
      this.listener?.(phase);
    } catch (error) {
      // A throwing listener is a bug in the caller; it must surface as an uncaught
      // exception, but not in the middle of the engine's bookkeeping (that would stall
      // the pool or drop the phases after it).
      process.nextTick(() => { throw error; });
    }
  }

  /** Deliver on the next turn of the event loop, in the order of the calls. */
  deliverSoon(phase: Phase): void {
    this.deferred.push(phase);
    this.flushScheduled ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        this.flushScheduled = undefined;
        for (const next of this.deferred.splice(0)) this.deliver(next);
        resolve();
      });
    });
  }

  /** Resolves when every deferred phase has been delivered. */
  async flush(): Promise<void> {
    await this.flushScheduled;
  }
}
