/**
 * The dedicated thread of one abandon work, seen from the main thread.
 *
 * Why not a pool thread: the pool releases what a callback registered, and on Windows a
 * thread-pool thread that exits owning a mutex would take a pool thread away; the win32
 * engine uses a dedicated CreateThread thread that exits owning the mutex, so the kernel
 * marks it abandoned. This is the same here: its own worker_thread, outside the pool and
 * its limits (it counts neither against maxThreads nor in the pool's stats).
 */
import { Worker } from 'node:worker_threads';
import type { JobThread } from './job.js';
import type { AbandonInit } from './abandon-worker.js';
import { CONTROL_BYTES, CONTROL_CANCEL, type WorkerPhase, type WorkerToMain } from './protocol.js';

const workerFile = new URL('./abandon-worker.js', import.meta.url);

export interface AbandonThreadEvents {
  phase(phase: WorkerPhase): void;
  /** The thread is gone; every phase it posted was handled before. */
  exit(threadId: number, error: Error | undefined): void;
}

export class AbandonThread implements JobThread {
  readonly threadId: number;
  private readonly worker: Worker;
  private readonly control: Int32Array;
  private lastError: Error | undefined;
  private readonly exited: Promise<void>;

  constructor(init: Omit<AbandonInit, 'control'>, events: AbandonThreadEvents) {
    const control = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = new Int32Array(control);
    const workerData: AbandonInit = { ...init, control };
    this.worker = new Worker(workerFile, { workerData });
    this.threadId = this.worker.threadId;
    this.worker.on('message', (message: WorkerToMain) => {
      if (message.type === 'phases') for (const phase of message.phases) events.phase(phase);
    });
    this.worker.on('error', (error: Error) => { this.lastError = error; });
    this.worker.on('messageerror', (error: Error) => { this.lastError = error; });
    let onExited = (): void => undefined;
    this.exited = new Promise<void>((resolve) => { onExited = resolve; });
    // Node delivers every message the worker posted before 'exit'.
    this.worker.on('exit', (code: number) => {
      events.exit(this.threadId, this.lastError ?? (code === 0 ? undefined : new Error(`abandon thread ${this.threadId} exited with code ${code}`)));
      onExited();
    });
  }

  /** Abandonment ignores signals: there is no hold to end. */
  signal(): void {
    // Nothing to do.
  }

  /** Abort the wait; the caller wakes the mutex's waiters so a sleeping wait sees it. */
  cancel(): void {
    Atomics.store(this.control, CONTROL_CANCEL, 1);
  }

  /** Stop it wherever it is (shutdown after the drain timeout); resolves once its exit was handled. */
  terminate(): Promise<void> {
    this.lastError ??= new Error(`abandon thread ${this.threadId} was terminated`);
    this.worker.terminate().catch(() => undefined);
    return this.exited;
  }
}
