/**
 * A semaphore in the shared table (the same six-word entries as mutexes, see
 * mutex-entry.ts), and the atomic operations on it. Word 0 is the count of units
 * available, word 1 the maximum; the wake word and the 64-bit sequence are where a
 * mutex has them, so waiting, waking and the acquisition sequence are shared code.
 */
import type { SemaphoreProbe } from '../types.js';
import { ENTRY_RECURSION, wakeWaiters, type Acquisition, type EntryRef } from './mutex-entry.js';

/** Units available now. */
const SEMAPHORE_COUNT = 0;
/** The semaphore's maximum count, fixed at creation. */
const SEMAPHORE_MAXIMUM = ENTRY_RECURSION;

/** A fresh entry becomes a semaphore. Only before any thread can see it. */
export function initSemaphore(entry: EntryRef, initialCount: number, maximumCount: number): void {
  Atomics.store(entry.view, entry.base + SEMAPHORE_MAXIMUM, maximumCount);
  Atomics.store(entry.view, entry.base + SEMAPHORE_COUNT, initialCount);
}

/** Take one unit if there is one (WaitForSingleObject on a signaled semaphore). */
export function tryTakeUnit(entry: EntryRef): boolean {
  const index = entry.base + SEMAPHORE_COUNT;
  for (let count = Atomics.load(entry.view, index); count > 0; count = Atomics.load(entry.view, index)) {
    if (Atomics.compareExchange(entry.view, index, count, count - 1) === count) return true;
  }
  return false;
}

/**
 * Give one unit back (ReleaseSemaphore(sem, 1)). Going above the maximum is a bug (on
 * Windows ERROR_TOO_MANY_POSTS, which the pool turns into an exception at callback
 * return), so it throws, which kills the worker and surfaces as `thread_died`.
 */
export function releaseUnit(entry: EntryRef): void {
  const index = entry.base + SEMAPHORE_COUNT;
  const maximum = Atomics.load(entry.view, entry.base + SEMAPHORE_MAXIMUM);
  for (;;) {
    const count = Atomics.load(entry.view, index);
    if (count >= maximum) throw new Error(`semaphore release above its maximum count ${maximum}`);
    if (Atomics.compareExchange(entry.view, index, count, count + 1) === count) break;
  }
  wakeWaiters(entry);
}

/** After tryTakeUnit: the unit's acquisition sequence number (never abandoned). */
export function stampUnit(entry: EntryRef): Acquisition {
  return { abandoned: false, fencingToken: Number(Atomics.add(entry.fences, entry.fenceIndex, 1n)) + 1 };
}

export function readSemaphoreProbe(entry: EntryRef): SemaphoreProbe {
  return {
    count: Atomics.load(entry.view, entry.base + SEMAPHORE_COUNT),
    maximumCount: Atomics.load(entry.view, entry.base + SEMAPHORE_MAXIMUM),
  };
}

export function semaphoreMaximum(entry: EntryRef): number {
  return Atomics.load(entry.view, entry.base + SEMAPHORE_MAXIMUM);
}
