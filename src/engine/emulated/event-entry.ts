/**
 * An event object in the shared table (the six-word entries of mutex-entry.ts): word 0
 * is 1 while signaled, word 1 is 1 for a manual-reset event. No callback waits on an
 * event (works only set them on return), so an auto-reset event stays signaled until it
 * is reset, as a Windows auto-reset event with no waiter does.
 */
import type { EventProbe } from '../types.js';
import { ENTRY_RECURSION, type EntryRef } from './mutex-entry.js';

const EVENT_SIGNALED = 0;
const EVENT_MANUAL_RESET = ENTRY_RECURSION;

/** A fresh entry becomes an event. Only before any thread can see it. */
export function initEvent(entry: EntryRef, manualReset: boolean, initialState: boolean): void {
  Atomics.store(entry.view, entry.base + EVENT_MANUAL_RESET, manualReset ? 1 : 0);
  Atomics.store(entry.view, entry.base + EVENT_SIGNALED, initialState ? 1 : 0);
}

/** SetEvent, from any thread. */
export function setEventEntry(entry: EntryRef): void {
  Atomics.store(entry.view, entry.base + EVENT_SIGNALED, 1);
}

/** ResetEvent. */
export function resetEventEntry(entry: EntryRef): void {
  Atomics.store(entry.view, entry.base + EVENT_SIGNALED, 0);
}

export function readEventProbe(entry: EntryRef): EventProbe {
  return {
    signaled: Atomics.load(entry.view, entry.base + EVENT_SIGNALED) === 1,
    manualReset: Atomics.load(entry.view, entry.base + EVENT_MANUAL_RESET) === 1,
  };
}
