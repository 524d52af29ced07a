/**
 * Entry point of one pool worker thread (loaded as dist/src/engine/emulated/worker.js).
 * It runs one callback at a time: it sleeps on its CONTROL_ORDER word until the main
 * thread hands it an order, runs the callback, and sleeps again. Its event loop never
 * turns (like a Windows pool thread, it lives in its callbacks and its wait): messages
 * from the main thread are taken synchronously before each order, and the main thread
 * reaches a running callback through the shared control words. terminate() interrupts
 * Atomics.wait, so the pool can still retire or kill it at any point.
 */
import { parentPort, receiveMessageOnPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { runCallback, type CallbackThread, type PhaseReporter } from './callback.js';
import { entryRef, tableChunk, type TableChunk } from './mutex-entry.js';
import {
  CONTROL_ORDER, ORDER_ACQUIRE_TIMEOUT_MS, ORDER_EVENT_ENTRY, ORDER_HOLD_MS, ORDER_KIND, ORDER_MAY_RUN_LONG, ORDER_ENTRY, ORDER_SPIN_MS,
  type OrderKind,
  type MainToWorker, type RunOrder, type WorkerInit, type WorkerPhase, type WorkerToMain,
} from './protocol.js';

/** The table chunks the main thread posted since the last order. */
function takeTableChunks(port: MessagePort, tableChunks: TableChunk[]): void {
  for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
    // Messages are typed `any` by Node; the pool only ever posts MainToWorker.
    const message = received.message as MainToWorker;
    tableChunks[message.index] = tableChunk(message.buffer);
  }
}

function serve(): void {
  const port = parentPort;
  if (port === null) throw new Error('worker.js must be started as a worker thread by the emulated engine');
  // workerData is typed `any` by Node; the pool always passes a WorkerInit.
  const init = workerData as WorkerInit;
  const tableChunks: TableChunk[] = init.tableChunks.map(tableChunk);
  const thread: CallbackThread = {
    threadId,
    control: new Int32Array(init.control),
    poolState: new Int32Array(init.poolState),
    entry: (index) => entryRef(tableChunks, init.chunkEntries, index),
  };
  const post = (message: WorkerToMain): void => port.postMessage(message);
  const control = thread.control;
  const times = new Float64Array(init.control);
  let order = 0;
  let queued: WorkerPhase[] = [];
  const reporter: PhaseReporter = {
    report: (phase) => { queued.push(phase); },
    flush: () => {
      if (queued.length === 0) return;
      post({ type: 'phases', order, phases: queued });
      queued = [];
    },
  };

  post({ type: 'ready' });
  for (;;) {
    Atomics.wait(control, CONTROL_ORDER, order);
    const next = Atomics.load(control, CONTROL_ORDER);
    if (next === order) continue;
    order = next;
    takeTableChunks(port, tableChunks);
    const run: RunOrder = {
      // The main thread only ever writes an OrderKind there.
      kind: control[ORDER_KIND]! as OrderKind,
      entry: control[ORDER_ENTRY]!,
      eventEntry: control[ORDER_EVENT_ENTRY]!,
      mayRunLong: control[ORDER_MAY_RUN_LONG] !== 0,
      acquireTimeoutMs: times[ORDER_ACQUIRE_TIMEOUT_MS]!,
      spinMs: times[ORDER_SPIN_MS]!,
      holdMs: times[ORDER_HOLD_MS]!,
    };
    runCallback(run, thread, reporter);
  }
}

serve();
