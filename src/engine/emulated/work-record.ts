/** What the main thread knows about one submitted, not yet terminal work. */
import type { WorkSpec } from '../types.js';
import type { PoolWorker } from './pool-worker.js';

export interface WorkRecord {
  readonly spec: WorkSpec;
  /** The mutex's table slot, resolved at submit so a later close of the name cannot lose it. */
  readonly slot: number;
  /**
   * queued: in the pool's queue; dispatched: posted to a worker whose callback has not
   * reported `started`; running: the callback runs (waiting, spinning, holding, releasing).
   */
  stage: 'queued' | 'dispatched' | 'running';
  /** The worker it was dispatched to. */
  worker: PoolWorker | undefined;
  /** A signal that came before dispatch, kept so the hold ends at once after acquiring. */
  signaledEarly: boolean;
}
