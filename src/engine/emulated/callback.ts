/**
 * One work callback on a pool worker, start to finish: the body (wait for the mutex or
 * a semaphore unit, spin, hold, return) and then the epilog that performs the on-return
 * actions the body registered: releasing the mutex (ReleaseMutexWhenCallbackReturns),
 * setting the event (SetEventWhenCallbackReturns), giving the semaphore unit back
 * (ReleaseSemaphoreWhenCallbackReturns), in Windows' order (docs/design.md §1.3).
 * Every step is reported with a timestamp taken right here, on the thread that did it;
 * reports are sent (flushed) before anything that can take time and when the callback ends.
 */
import { waitForMutex, waitForSemaphore, type AcquireOutcome } from './acquire.js';
import { hold, spin } from './busy-work.js';
import { nowNs } from './clock.js';
import { setEventEntry } from './event-entry.js';
import { release, type EntryRef } from './mutex-entry.js';
import {
  CONTROL_CANCEL, NO_ENTRY, ORDER_KIND_MUTEX, ORDER_KIND_NONE, ORDER_KIND_SEMAPHORE, POOL_BUSY, POOL_MAX, POOL_THREADS,
  type RunOrder, type WorkerPhase,
} from './protocol.js';
import { releaseUnit } from './semaphore-entry.js';
import type { ReturnAction } from '../types.js';

/** Where the callback's phases go: `report` queues, `flush` sends what is queued. */
export interface PhaseReporter {
  report(phase: WorkerPhase): void;
  flush(): void;
}

/** What the callback needs from the thread it runs on. */
export interface CallbackThread {
  readonly threadId: number;
  readonly control: Int32Array;
  readonly poolState: Int32Array;
  entry(index: number): EntryRef;
}

/**
 * CallbackMayRunLong: true when the pool can give the queue another thread, an idle one
 * or a new one below maxThreads; false when it cannot (the Windows pool then returns
 * FALSE). This callback's own worker counts as busy.
 */
function callbackMayRunLong(poolState: Int32Array): boolean {
  const threads = Atomics.load(poolState, POOL_THREADS);
  return Atomics.load(poolState, POOL_BUSY) < threads || threads < Atomics.load(poolState, POOL_MAX);
}

export function runCallback(order: RunOrder, thread: CallbackThread, reporter: PhaseReporter): void {
  try {
    runBody(order, thread, reporter);
  } finally {
    reporter.flush();
  }
}

function runBody(order: RunOrder, thread: CallbackThread, { report, flush }: PhaseReporter): void {
  const { threadId, control } = thread;
  // Cancelled after dispatch but before the callback began: it never starts.
  if (Atomics.load(control, CONTROL_CANCEL) !== 0) {
    report({ type: 'cancelled', atNs: nowNs() });
    return;
  }
  report({
    type: 'started', atNs: nowNs(), threadId,
    mayRunLong: order.mayRunLong ? callbackMayRunLong(thread.poolState) : null,
  });
  // Registered as the callback begins, like SetEventWhenCallbackReturns: from here on
  // the event is set on every return path, also after a timeout or a cancel.
  const event = order.eventEntry === NO_ENTRY ? undefined : thread.entry(order.eventEntry);

  const object = order.kind === ORDER_KIND_NONE ? undefined : thread.entry(order.entry);
  if (object !== undefined) {
    const outcome: AcquireOutcome = order.kind === ORDER_KIND_MUTEX
      ? waitForMutex(object, threadId, control, order.acquireTimeoutMs, flush)
      : waitForSemaphore(object, control, order.acquireTimeoutMs, flush);
    if (outcome.kind !== 'acquired') {
      if (event !== undefined) setEventEntry(event);
      report({ type: outcome.kind, atNs: outcome.atNs });
      return;
    }
    // The release is registered only now, after a successful wait, and exactly once.
    report({ type: 'acquired', atNs: outcome.atNs, threadId, ...outcome.acquisition });
  }

  // Spinning or holding takes time: the acquisition must be known meanwhile.
  if (order.spinMs > 0 || order.holdMs > 0) flush();
  const signaled = spin(control, order.spinMs) || hold(control, order.holdMs);
  report({ type: 'returned', atNs: nowNs(), signaled });

  // Epilog: the on-return actions in Windows' order, mutex → event → semaphore
  // (docs/design.md §1.3); the release stamp follows the last of them.
  const actions: ReturnAction[] = [];
  if (object !== undefined && order.kind === ORDER_KIND_MUTEX) {
    release(object, threadId);
    actions.push('release_mutex');
  }
  if (event !== undefined) {
    setEventEntry(event);
    actions.push('set_event');
  }
  if (object !== undefined && order.kind === ORDER_KIND_SEMAPHORE) {
    releaseUnit(object);
    actions.push('release_semaphore');
  }
  report({ type: 'released', atNs: nowNs(), actions });
}
