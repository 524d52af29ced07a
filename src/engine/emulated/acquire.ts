/**
 * The blocking wait for a mutex or a semaphore unit, on a worker thread: the emulated
 * WaitForMultipleObjects ({object, abort}) of the win32 shim. It sleeps in Atomics.wait
 * on the entry's wake word with the real remaining timeout; a release, an abandonment
 * or an abort bumps that word and notifies, so the sleeper re-checks. No polling.
 */
import { msToNs, nowNs, nsToMs } from './clock.js';
import { giveBack, ENTRY_WAKE, stampAcquisition, tryTake, wakeSequence, type Acquisition, type EntryRef } from './mutex-entry.js';
import { releaseUnit, stampUnit, tryTakeUnit } from './semaphore-entry.js';
import { CONTROL_CANCEL } from './protocol.js';
import type { Ns } from '../types.js';

export type AcquireOutcome =
  | { readonly kind: 'acquired'; readonly atNs: Ns; readonly acquisition: Acquisition }
  | { readonly kind: 'timed_out'; readonly atNs: Ns }
  | { readonly kind: 'cancelled'; readonly atNs: Ns };

/** How one kind of object is taken: try once, undo an unreported take, complete a take. */
interface TakeOps {
  tryTake(): boolean;
  giveBack(): void;
  stamp(): Acquisition;
}

function mutexOps(entry: EntryRef, threadId: number): TakeOps {
  return {
    tryTake: () => tryTake(entry, threadId),
    giveBack: () => giveBack(entry, threadId),
    stamp: () => stampAcquisition(entry),
  };
}

function semaphoreOps(entry: EntryRef): TakeOps {
  return {
    tryTake: () => tryTakeUnit(entry),
    // An untold unit goes back like a release: the count rises and waiters re-check.
    giveBack: () => releaseUnit(entry),
    stamp: () => stampUnit(entry),
  };
}

/**
 * @param timeoutMs 0 = try once; not finite = wait without a deadline.
 * @param control the worker's control words; CONTROL_CANCEL aborts the wait.
 * @param beforeSleep called each time before the thread goes to sleep (to send what it has to report).
 */
export function waitForMutex(entry: EntryRef, threadId: number, control: Int32Array, timeoutMs: number, beforeSleep: () => void = () => undefined): AcquireOutcome {
  return waitFor(entry, mutexOps(entry, threadId), control, timeoutMs, beforeSleep);
}

/** One unit of a semaphore, with the same timeout and cancel semantics as a mutex. */
export function waitForSemaphore(entry: EntryRef, control: Int32Array, timeoutMs: number, beforeSleep: () => void = () => undefined): AcquireOutcome {
  return waitFor(entry, semaphoreOps(entry), control, timeoutMs, beforeSleep);
}

function waitFor(entry: EntryRef, ops: TakeOps, control: Int32Array, timeoutMs: number, beforeSleep: () => void): AcquireOutcome {
  const deadline = Number.isFinite(timeoutMs) ? nowNs() + msToNs(timeoutMs) : undefined;
  for (;;) {
    // Read the wake word before looking at anything else: a release or an abort that
    // happens after this read changes the word, so the wait below returns at once
    // instead of sleeping through it.
    const seen = wakeSequence(entry);
    if (Atomics.load(control, CONTROL_CANCEL) !== 0) return { kind: 'cancelled', atNs: nowNs() };
    if (ops.tryTake()) {
      // A cancel that landed while the object was being taken still wins: nobody has
      // been told, so it is given back untouched. With this, a cancel flag set before a
      // holder is signaled always beats that holder's release, which close() relies on
      // so that no waiter takes over a mutex while the engine shuts down.
      if (Atomics.load(control, CONTROL_CANCEL) !== 0) {
        ops.giveBack();
        return { kind: 'cancelled', atNs: nowNs() };
      }
      const acquisition = ops.stamp();
      return { kind: 'acquired', atNs: nowNs(), acquisition };
    }
    let waitMs = Infinity;
    if (deadline !== undefined) {
      const now = nowNs();
      if (now >= deadline) return { kind: 'timed_out', atNs: now };
      waitMs = nsToMs(deadline - now);
    }
    beforeSleep();
    Atomics.wait(entry.view, entry.base + ENTRY_WAKE, seen, waitMs);
  }
}
