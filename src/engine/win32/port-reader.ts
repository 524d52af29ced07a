/**
 * The main thread's side of the completion-port drain: starts the drain thread
 * (port-reader-thread.ts) on first use and hands out the batches it posts, in order.
 * The event loop only receives messages; it never waits for the thread, and the
 * thread never waits for it (docs/design.md §2.1).
 */
import { Worker } from 'node:worker_threads';
import type { HANDLE } from './kernel32.js';
import type { Packet } from './protocol.js';
import { Win32Error } from './win32-error.js';

export interface PortReaderInit {
  readonly port: HANDLE;
  /** Packets one GetQueuedCompletionStatusEx call may remove. */
  readonly batch: number;
}

/** What the drain thread posts: that it is about to read, a batch, or why it stopped reading. */
export type PortReaderMessage =
  | { readonly type: 'reading' }
  | { readonly type: 'packets'; readonly packets: Packet[] }
  | { readonly type: 'failed'; readonly code: number; readonly fn: string; readonly message?: string };

const threadFile = new URL('./port-reader-thread.js', import.meta.url);

export class PortReader {
  private readonly thread: Worker;
  private readonly buffered: Packet[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Resolves once the thread has loaded what it needs and reads the port; rejects if it cannot. */
  readonly reading: Promise<void>;
  private settleReading: ((failure?: Error) => void) | undefined;

  constructor(init: PortReaderInit) {
    this.reading = new Promise<void>((resolve, reject) => {
      this.settleReading = (failure) => { if (failure === undefined) resolve(); else reject(failure); };
    });
    this.reading.catch(() => undefined); // take() reports the same failure
    this.thread = new Worker(threadFile, { workerData: init });
    this.thread.on('message', (message: PortReaderMessage) => {
      if (message.type === 'reading') this.settleReading?.();
      else if (message.type === 'packets') this.buffered.push(...message.packets);
      else this.fail(message.message === undefined ? new Win32Error(message.code, message.fn) : new Error(message.message));
      this.wakeUp();
    });
    this.thread.on('error', (err: Error) => this.fail(err));
    // After the stop packet the buffer holds it; anything else is a thread that died.
    this.thread.on('exit', (code) => this.fail(new Error(`the completion-port drain thread exited (code ${code})`)));
  }

  /** Resolves with up to `max` packets, in the order the port gave them, once there is one. */
  async take(max: number): Promise<Packet[]> {
    for (;;) {
      if (this.buffered.length > 0) return this.buffered.splice(0, max);
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  /** Lets the process exit whatever the thread does (it has ended by now, unless the port was never stopped). */
  release(): void {
    this.thread.unref();
  }

  private fail(failure: Error): void {
    this.failure ??= failure;
    this.settleReading?.(this.failure);
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
