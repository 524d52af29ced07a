/**
 * Entry point of one pool worker thread (loaded as dist/src/engine/emulated/worker.js).
 * It runs one callback at a time, as its orders arrive; while a callback blocks, this
 * thread's event loop blocks with it, which is why everything the main thread must tell
 * a running callback goes through the shared control words, not messages.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { runCallback, type CallbackThread, type PhaseReporter } from './callback.js';
import { slotRef, tableChunk, type TableChunk } from './mutex-slot.js';
import type { MainToWorker, WorkerInit, WorkerPhase, WorkerToMain } from './protocol.js';

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
    slot: (index) => slotRef(tableChunks, init.chunkSlots, index),
  };
  const post = (message: WorkerToMain): void => port.postMessage(message);
  let queued: WorkerPhase[] = [];
  const reporter: PhaseReporter = {
    report: (phase) => { queued.push(phase); },
    flush: () => {
      if (queued.length === 0) return;
      post({ type: 'phases', phases: queued });
      queued = [];
    },
  };

  port.on('message', (message: MainToWorker) => {
    switch (message.type) {
      case 'table-chunk':
        tableChunks[message.index] = tableChunk(message.buffer);
        break;
      case 'run':
        runCallback(message.order, thread, reporter);
        break;
    }
  });
  post({ type: 'ready' });
}

serve();
