/**
 * What the main thread and the pool's worker threads share: the messages they post to
 * each other and the layout of the small SharedArrayBuffers besides the mutex table.
 *
 * Messages carry only what crosses threads; the main thread keeps every other fact
 * about a work (its spec, its state) to itself.
 */
import type { AcquiredPhase, CancelledPhase, ReleasedPhase, ReturnedPhase, StartedPhase, TimedOutPhase } from '../types.js';

/**
 * Control words of one worker (Int32 indexes). The main thread resets them before each
 * dispatch and writes them to reach the running callback, which cannot read messages
 * while it blocks in Atomics.wait.
 */
/** Non-zero: end the spin/hold now (signal, or cancel acting as a signal). The hold sleeps on this word. */
export const CONTROL_SIGNAL = 0;
/** Non-zero: do not acquire; abort the wait for the mutex. */
export const CONTROL_CANCEL = 1;
export const CONTROL_WORDS = 2;

/** Pool state words (Int32 indexes), written by the main thread, read by callbacks for CallbackMayRunLong. */
/** Workers the pool has (starting, idle or busy). */
export const POOL_THREADS = 0;
/** Workers that have a work dispatched to them. */
export const POOL_BUSY = 1;
/** maxThreads now. */
export const POOL_MAX = 2;
export const POOL_STATE_WORDS = 3;

/** `workerData` of every pool worker. */
export interface WorkerInit {
  readonly control: SharedArrayBuffer;
  readonly poolState: SharedArrayBuffer;
  /** The mutex table chunks that exist at spawn; later chunks arrive as `table-chunk` messages. */
  readonly tableChunks: readonly SharedArrayBuffer[];
  readonly chunkSlots: number;
}

/** One callback to run: the spec with the mutex name resolved to its table slot. */
export interface RunOrder {
  readonly workId: string;
  readonly slot: number;
  readonly acquireTimeoutMs: number;
  readonly spinMs: number;
  readonly holdMs: number;
  readonly mayRunLong: boolean;
}

export type MainToWorker =
  | { readonly type: 'run'; readonly order: RunOrder }
  | { readonly type: 'table-chunk'; readonly index: number; readonly buffer: SharedArrayBuffer };

/** The phases a worker reports itself; `failed` is only ever decided by the main thread. */
export type WorkerPhase = StartedPhase | AcquiredPhase | ReturnedPhase | ReleasedPhase | TimedOutPhase | CancelledPhase;

/**
 * `phases`: consecutive phases of the running work, in order. A callback sends what it
 * has whenever it is about to block (wait, spin, hold) and when it ends, so an
 * uncontended work with nothing to hold costs one message, not four.
 */
export type WorkerToMain =
  | { readonly type: 'ready' }
  | { readonly type: 'phases'; readonly phases: readonly WorkerPhase[] };
