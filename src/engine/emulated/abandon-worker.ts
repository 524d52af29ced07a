/**
 * Entry point of an abandon thread (loaded as dist/src/engine/emulated/abandon-worker.js):
 * one dedicated thread per abandon work, not a pool thread. It waits for the mutex (with
 * the work's timeout; the main thread's cancel aborts the wait), reports what happened,
 * and ends, owning the mutex if it got it: the main thread sees the exit and marks the
 * mutex abandoned, as Windows does when a thread dies owning a mutex.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { waitForMutex } from './acquire.js';
import { nowNs } from './clock.js';
import { entryRef, tableChunk } from './mutex-entry.js';
import { CONTROL_CANCEL, type WorkerPhase, type WorkerToMain } from './protocol.js';

/** `workerData` of an abandon thread. */
export interface AbandonInit {
  /** Its control words: CONTROL_CANCEL aborts the wait. */
  readonly control: SharedArrayBuffer;
  readonly tableChunks: readonly SharedArrayBuffer[];
  readonly chunkEntries: number;
  readonly entry: number;
  readonly acquireTimeoutMs: number;
}

function run(): void {
  const port = parentPort;
  if (port === null) throw new Error('abandon-worker.js must be started as a worker thread by the emulated engine');
  // workerData is typed `any` by Node; the engine always passes an AbandonInit.
  const init = workerData as AbandonInit;
  const control = new Int32Array(init.control);
  let queued: WorkerPhase[] = [];
  const flush = (): void => {
    if (queued.length === 0) return;
    const message: WorkerToMain = { type: 'phases', order: 1, phases: queued };
    port.postMessage(message);
    queued = [];
  };
  if (Atomics.load(control, CONTROL_CANCEL) !== 0) {
    queued.push({ type: 'cancelled', atNs: nowNs() });
    flush();
    return;
  }
  queued.push({ type: 'started', atNs: nowNs(), threadId, mayRunLong: null });
  const entry = entryRef(init.tableChunks.map(tableChunk), init.chunkEntries, init.entry);
  const outcome = waitForMutex(entry, threadId, control, init.acquireTimeoutMs, flush);
  queued.push(outcome.kind === 'acquired'
    ? { type: 'acquired', atNs: outcome.atNs, threadId, ...outcome.acquisition }
    : { type: outcome.kind, atNs: outcome.atNs });
  flush();
  // Nothing releases the mutex: the thread ends owning it.
}

run();
