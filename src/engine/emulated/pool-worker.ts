/**
 * One thread of the pool, seen from the main thread: the Worker, its control words, and
 * where it is in its life. Scheduling decisions are the pool's; this class only spawns,
 * runs one order, pokes the control words and reports messages and the exit.
 */
import { Worker } from 'node:worker_threads';
import {
  CONTROL_BYTES, CONTROL_CANCEL, CONTROL_ORDER, CONTROL_SIGNAL, ORDER_ACQUIRE_TIMEOUT_MS, ORDER_EVENT_ENTRY, ORDER_HOLD_MS,
  ORDER_KIND, ORDER_KIND_MUTEX, ORDER_KIND_NONE, ORDER_KIND_SEMAPHORE, ORDER_MAY_RUN_LONG, ORDER_ENTRY, ORDER_SPIN_MS, type MainToWorker, type WorkerInit, type WorkerToMain,
} from './protocol.js';
import type { Job } from './job.js';

const workerFile = new URL('./worker.js', import.meta.url);

/**
 * starting: spawned, not ready yet; idle: ready, no work; busy: a work is dispatched to
 * it; retiring: being terminated because the pool shrinks; exited: gone.
 */
export type WorkerStage = 'starting' | 'idle' | 'busy' | 'retiring' | 'exited';

export interface PoolWorkerEvents {
  message(worker: PoolWorker, message: WorkerToMain): void;
  /** The thread is gone; `error` is what killed it, if it did not exit on request. */
  exit(worker: PoolWorker, error: Error | undefined): void;
}

export class PoolWorker {
  stage: WorkerStage = 'starting';
  /** The work dispatched to it, until that work's terminal phase. */
  work: Job | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** Orders given so far; the phases of the current one carry this count. */
  orders = 0;
  readonly threadId: number;
  /** Resolves when the worker reports ready; rejects if it exits before. */
  readonly ready: Promise<void>;
  /** Resolves after the exit was handled (events.exit has run). */
  readonly exited: Promise<void>;
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly times: Float64Array;
  private lastError: Error | undefined;
  private exitRequested = false;

  constructor(init: Omit<WorkerInit, 'control'>, private readonly events: PoolWorkerEvents) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = new Int32Array(control);
    this.times = new Float64Array(control);
    const workerData: WorkerInit = { ...init, control };
    this.worker = new Worker(workerFile, { workerData });
    this.threadId = this.worker.threadId;

    let onReady = (): void => undefined;
    let onEarlyExit = (_error: Error): void => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onEarlyExit = reject;
    });
    // Only start() awaits readiness; a worker spawned later may die before it without
    // anyone listening, which must not become an unhandled rejection.
    this.ready.catch(() => undefined);
    let onExited = (): void => undefined;
    this.exited = new Promise<void>((resolve) => { onExited = resolve; });

    this.worker.on('message', (message: WorkerToMain) => {
      if (message.type === 'ready') onReady();
      this.events.message(this, message);
    });
    this.worker.on('error', (error: Error) => { this.lastError = error; });
    this.worker.on('messageerror', (error: Error) => { this.lastError = error; });
    // Node delivers every message the worker posted before 'exit', so the last phases
    // of a dying worker are already handled when this runs.
    this.worker.on('exit', (code: number) => {
      const error = this.exitRequested && this.lastError === undefined ? undefined
        : this.lastError ?? new Error(`worker thread ${this.threadId} exited with code ${code}`);
      onEarlyExit(error ?? new Error(`worker thread ${this.threadId} exited before it was ready`));
      // The pool reads the stage the worker died in, so it changes only afterwards.
      this.events.exit(this, error);
      this.stage = 'exited';
      onExited();
    });
  }

  /** Hand it one work: the order's words first, then the count it sleeps on. */
  run(job: Job): void {
    const { spec } = job;
    Atomics.store(this.control, CONTROL_CANCEL, 0);
    Atomics.store(this.control, CONTROL_SIGNAL, job.signaledEarly ? 1 : 0);
    this.control[ORDER_KIND] = spec.acquire.kind === 'mutex' ? ORDER_KIND_MUTEX
      : spec.acquire.kind === 'semaphore' ? ORDER_KIND_SEMAPHORE : ORDER_KIND_NONE;
    this.control[ORDER_ENTRY] = job.entry;
    this.control[ORDER_EVENT_ENTRY] = job.eventEntry;
    this.control[ORDER_MAY_RUN_LONG] = spec.mayRunLong ? 1 : 0;
    this.times[ORDER_ACQUIRE_TIMEOUT_MS] = spec.acquireTimeoutMs;
    this.times[ORDER_SPIN_MS] = spec.spinMs;
    this.times[ORDER_HOLD_MS] = spec.holdMs;
    // A sequentially consistent store publishes the plain writes above with it.
    Atomics.store(this.control, CONTROL_ORDER, ++this.orders);
    Atomics.notify(this.control, CONTROL_ORDER);
  }

  post(message: MainToWorker): void {
    this.worker.postMessage(message);
  }

  /** End the running callback's spin or hold (a sleeping hold is woken). */
  signal(): void {
    Atomics.store(this.control, CONTROL_SIGNAL, 1);
    Atomics.notify(this.control, CONTROL_SIGNAL);
  }

  /**
   * Tell the running callback not to acquire (or to give back a mutex it has just taken
   * and not reported). The caller then wakes the mutex's waiters so a sleeping wait sees
   * the flag, and signals, so that a callback that already owns the mutex returns.
   */
  cancel(): void {
    Atomics.store(this.control, CONTROL_CANCEL, 1);
  }

  /**
   * Stop the thread wherever it is (also inside Atomics.wait). `asCrash` reports it as a
   * death (with an error) rather than a requested exit.
   */
  terminate(asCrash = false): Promise<void> {
    if (!asCrash) this.exitRequested = true;
    else this.lastError ??= new Error(`worker thread ${this.threadId} was terminated while running a callback`);
    this.worker.terminate().catch((error: unknown) => {
      this.lastError ??= error instanceof Error ? error : new Error(String(error));
    });
    return this.exited;
  }
}
