/**
 * The blocking wait for a mutex, on a worker thread: the emulated WaitForMultipleObjects
 * ({mutex, abort}) of the win32 shim. It sleeps in Atomics.wait on the entry's wake word
 * with the real remaining timeout; a release, an abandonment or an abort bumps that word
 * and notifies, so the sleeper re-checks. No polling.
 */
import { msToNs, nowNs, nsToMs } from './clock.js';
import { giveBack, ENTRY_WAKE, stampAcquisition, tryTake, wakeSequence, type Acquisition, type EntryRef } from './mutex-entry.js';
import { CONTROL_CANCEL } from './protocol.js';
import type { Ns } from '../types.js';

export type AcquireOutcome =
  | { readonly kind: 'acquired'; readonly atNs: Ns; readonly acquisition: Acquisition }
  | { readonly kind: 'timed_out'; readonly atNs: Ns }
  | { readonly kind: 'cancelled'; readonly atNs: Ns };

/**
 * @param timeoutMs 0 = try once; not finite = wait without a deadline.
 * @param control the worker's control words; CONTROL_CANCEL aborts the wait.
 * @param beforeSleep called each time before the thread goes to sleep (to send what it has to report).
 */
export function waitForMutex(entry: EntryRef, threadId: number, control: Int32Array, timeoutMs: number, beforeSleep: () => void = () => undefined): AcquireOutcome {
  const deadline = Number.isFinite(timeoutMs) ? nowNs() + msToNs(timeoutMs) : undefined;
  for (;;) {
    // Read the wake word before looking at anything else: a release or an abort that
    // happens after this read changes the word, so the wait below returns at once
    // instead of sleeping through it.
    const seen = wakeSequence(entry);
    if (Atomics.load(control, CONTROL_CANCEL) !== 0) return { kind: 'cancelled', atNs: nowNs() };
    if (tryTake(entry, threadId)) {
      // A cancel that landed while the mutex was being taken still wins: nobody has been
      // told, so it is given back untouched. With this, a cancel flag set before a holder
      // is signaled always beats that holder's release, which close() relies on so that
      // no waiter takes over a mutex while the engine shuts down.
      if (Atomics.load(control, CONTROL_CANCEL) !== 0) {
        giveBack(entry, threadId);
        return { kind: 'cancelled', atNs: nowNs() };
      }
      const acquisition = stampAcquisition(entry);
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
