/**
 * What the main thread knows about one submitted, not yet terminal work: the emulated
 * engine's Job (docs/design.md §2.4 glossary).
 */
import type { WorkSpec } from '../types.js';

/** The thread a job was dispatched to, as far as the job needs it. */
export interface JobThread {
  /** End the running callback's spin or hold. */
  signal(): void;
  /** Tell the running callback not to acquire (see PoolWorker.cancel). */
  cancel(): void;
}

export interface Job {
  readonly spec: WorkSpec;
  /**
   * The table entry of the mutex or semaphore it acquires (NO_ENTRY for none), resolved
   * at submit so a later close of the name cannot lose it.
   */
  readonly entry: number;
  /** The table entry of the event it sets on return, or NO_ENTRY. */
  readonly eventEntry: number;
  /** An abandon work (Engine.abandon), run on a dedicated thread, not in the pool. */
  readonly abandon: boolean;
  /**
   * pending: in the pool's FIFO, waiting for a thread; dispatched: posted to a worker
   * whose callback has not reported `started` (pending and dispatched are the API's
   * `queued`); running: the callback runs (waiting, spinning, holding, releasing).
   */
  stage: 'pending' | 'dispatched' | 'running';
  /** The thread it was dispatched to. */
  thread: JobThread | undefined;
  /** A signal that came before dispatch, kept so the hold ends at once after acquiring. */
  signaledEarly: boolean;
  /** Its `acquired` phase was reported (an abandon work then ends `abandoned`). */
  acquired: boolean;
}
