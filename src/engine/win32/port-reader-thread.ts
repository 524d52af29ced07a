/**
 * The completion-port drain's own thread (docs/design.md §2.1), a worker_thread started
 * by port-reader.ts. It blocks in GetQueuedCompletionStatusEx, synchronously, in a loop:
 * a thread of its own, so neither the event loop nor one of libuv's pool threads (which
 * files, DNS and crypto share) is ever held by the wait. It decodes each batch of
 * OVERLAPPED_ENTRY into plain packets and posts them to the main thread; no JavaScript
 * of the engine runs here, and nothing here waits for the main thread.
 *
 * It ends after posting the batch that holds the wake-up packet (DRAIN_STOP_KEY), or
 * after posting why a read failed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { cOVERLAPPED_ENTRY, GetQueuedCompletionStatusEx, INFINITE, type PVOID } from './kernel32.js';
import { DRAIN_STOP_KEY, type Packet } from './protocol.js';
import type { PortReaderInit, PortReaderMessage } from './port-reader.js';
import { Win32Error } from './win32-error.js';

interface RawEntry {
  readonly lpCompletionKey: number | bigint;
  readonly lpOverlapped: number | bigint;
  readonly dwNumberOfBytesTransferred: number;
}

function post(message: PortReaderMessage): void {
  parentPort!.postMessage(message);
}

function readUntilStopped({ port, batch }: PortReaderInit): void {
  const entries = koffi.alloc(cOVERLAPPED_ENTRY, batch) as PVOID;
  post({ type: 'reading' });
  try {
    for (;;) {
      const count = GetQueuedCompletionStatusEx(port, entries, batch, INFINITE);
      const raw = koffi.decode(entries, cOVERLAPPED_ENTRY, count) as RawEntry[];
      const packets: Packet[] = raw.map((e) => ({ key: BigInt(e.lpCompletionKey), kind: e.dwNumberOfBytesTransferred, qpc: BigInt(e.lpOverlapped) }));
      post({ type: 'packets', packets });
      if (packets.some((packet) => packet.key === DRAIN_STOP_KEY)) return;
    }
  } catch (err) {
    post(err instanceof Win32Error
      ? { type: 'failed', code: err.code, fn: err.fn }
      : { type: 'failed', code: 0, fn: 'GetQueuedCompletionStatusEx', message: String((err as Error)?.message ?? err) });
  } finally {
    koffi.free(entries);
  }
}

readUntilStopped(workerData as PortReaderInit);
