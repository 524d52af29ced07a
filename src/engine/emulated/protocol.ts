/**
 * What the main thread and the pool's worker threads share: the messages they post to
 * each other and the layout of the small SharedArrayBuffers besides the mutex table.
 *
 * Orders go main → worker through the worker's control words (a store and a notify:
 * a third of the cost of a postMessage, which was the main thread's largest single cost
 * under load); phases come back as messages. Only what crosses threads is shared; the
 * main thread keeps every other fact about a work (its id, its spec, its state) to itself.
 */
import type { AcquiredPhase, CancelledPhase, ReleasedPhase, ReturnedPhase, StartedPhase, TimedOutPhase } from '../types.js';

/**
 * Control words of one worker (Int32 indexes). The main thread writes an order and then
 * bumps CONTROL_ORDER, on which an idle worker sleeps; it resets SIGNAL and CANCEL with
 * each order and writes them to reach the running callback, which cannot read messages
 * while it blocks in Atomics.wait.
 */
/** Non-zero: end the spin/hold now (signal, or cancel acting as a signal). The hold sleeps on this word. */
export const CONTROL_SIGNAL = 0;
/** Non-zero: do not acquire; abort the wait for the mutex. */
export const CONTROL_CANCEL = 1;
/** How many orders the main thread has given this worker; the worker runs each new one. */
export const CONTROL_ORDER = 2;
/** The order: the table entry of the object to acquire (-1 for none), and 1 if the callback asks CallbackMayRunLong. */
export const ORDER_ENTRY = 3;
export const ORDER_MAY_RUN_LONG = 4;
/** What the order acquires: ORDER_KIND_MUTEX, ORDER_KIND_SEMAPHORE or ORDER_KIND_NONE. */
export const ORDER_KIND = 5;
/** The table entry of the event to set on return, or -1. */
export const ORDER_EVENT_ENTRY = 6;
/** The order's times, as Float64 indexes into the same buffer (Infinity = no limit). */
export const ORDER_ACQUIRE_TIMEOUT_MS = 4;
export const ORDER_SPIN_MS = 5;
export const ORDER_HOLD_MS = 6;
/** Int32 words 0–7, then Float64 4–6. */
export const CONTROL_BYTES = 7 * Float64Array.BYTES_PER_ELEMENT;

export const ORDER_KIND_MUTEX = 0;
export const ORDER_KIND_SEMAPHORE = 1;
export const ORDER_KIND_NONE = 2;
export type OrderKind = typeof ORDER_KIND_MUTEX | typeof ORDER_KIND_SEMAPHORE | typeof ORDER_KIND_NONE;

/** No table entry (no object to acquire, no event to set). */
export const NO_ENTRY = -1;

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
  readonly chunkEntries: number;
}

/** One callback to run: the spec with the names resolved to their table entries. */
export interface RunOrder {
  readonly kind: OrderKind;
  /** The object to acquire, or NO_ENTRY. */
  readonly entry: number;
  /** The event to set on return, or NO_ENTRY. */
  readonly eventEntry: number;
  readonly acquireTimeoutMs: number;
  readonly spinMs: number;
  readonly holdMs: number;
  readonly mayRunLong: boolean;
}

/** Read by the worker before each order it runs (receiveMessageOnPort), so a chunk posted before an order is always there. */
export type MainToWorker = { readonly type: 'table-chunk'; readonly index: number; readonly buffer: SharedArrayBuffer };

/** The phases a worker reports itself; `failed` is only ever decided by the main thread. */
export type RunPhase = StartedPhase | AcquiredPhase | ReturnedPhase | ReleasedPhase | TimedOutPhase | CancelledPhase;

/** A phase as the worker sends it: without the work id, which the main thread adds. */
export type WorkerPhase = RunPhase extends infer P ? P extends RunPhase ? Omit<P, 'workId'> : never : never;

/**
 * `phases`: consecutive phases of the running work, in order. A callback sends what it
 * has whenever it is about to block (wait, spin, hold) and when it ends, so an
 * uncontended work with nothing to hold costs one message, not four.
 */
export type WorkerToMain =
  | { readonly type: 'ready' }
  /** `order`: the CONTROL_ORDER count of the order these phases belong to. */
  | { readonly type: 'phases'; readonly order: number; readonly phases: readonly WorkerPhase[] };
