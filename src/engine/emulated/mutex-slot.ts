/**
 * One mutex in the shared table, and the atomic operations on it. Used by both sides:
 * worker threads acquire and release, the main thread reads, wakes waiters and marks a
 * dead owner's mutex abandoned. Every word is read and written with Atomics.
 *
 * A slot is five Int32 words (20 bytes), so 10,000 mutexes cost 200 KB.
 */
import type { MutexProbe } from '../types.js';

/** worker_threads.threadId of the owner; 0 = free (the main thread, id 0, never owns). */
export const SLOT_OWNER = 0;
/** How many times the owner acquired it: 1 while owned (a callback acquires once), else 0. */
export const SLOT_RECURSION = 1;
/** 1 when the owner died holding it and nobody has acquired it since. */
export const SLOT_ABANDONED = 2;
/** The last fencing token issued. Int32: 2^31 − 1 acquisitions per mutex before it wraps. */
export const SLOT_FENCE = 3;
/** Bumped on every release, abandonment or abort; waiters sleep on it with Atomics.wait. */
export const SLOT_WAKE = 4;
export const SLOT_WORDS = 5;

/** Where one slot's words are: a chunk of the table and the slot's first index in it. */
export interface SlotRef {
  readonly view: Int32Array;
  readonly base: number;
}

export function slotRef(chunks: readonly (Int32Array | undefined)[], chunkSlots: number, slot: number): SlotRef {
  const view = chunks[Math.floor(slot / chunkSlots)];
  if (view === undefined) throw new RangeError(`mutex slot ${slot} is outside the table`);
  return { view, base: (slot % chunkSlots) * SLOT_WORDS };
}

export interface Acquisition {
  /** The previous owner died holding it (WAIT_ABANDONED). */
  readonly abandoned: boolean;
  readonly fencingToken: number;
}

/**
 * Try once to take the mutex for `threadId`; false when another thread owns it. Taking
 * is not yet acquiring: the taker either stamps the acquisition or gives the mutex back.
 */
export function tryTake(slot: SlotRef, threadId: number): boolean {
  return Atomics.compareExchange(slot.view, slot.base + SLOT_OWNER, 0, threadId) === 0;
}

/** Complete an acquisition after tryTake: consume the abandoned state, issue the fencing token. */
export function stampAcquisition(slot: SlotRef): Acquisition {
  const { view, base } = slot;
  Atomics.store(view, base + SLOT_RECURSION, 1);
  // The abandoner sets the flag before it frees the owner word, so the thread that took
  // the mutex afterwards is the one that sees (and clears) it.
  const abandoned = Atomics.exchange(view, base + SLOT_ABANDONED, 0) === 1;
  // Incremented while owning, so tokens follow the acquisition order exactly, without gaps.
  const fencingToken = Atomics.add(view, base + SLOT_FENCE, 1) + 1;
  return { abandoned, fencingToken };
}

/** Undo a tryTake that will not be stamped (the wait was cancelled as it succeeded). */
export function giveBack(slot: SlotRef, threadId: number): void {
  if (Atomics.compareExchange(slot.view, slot.base + SLOT_OWNER, threadId, 0) !== threadId) {
    throw new Error(`thread ${threadId} gave back a mutex it had not taken`);
  }
  wakeWaiters(slot);
}

/** The value waiters compare against; read it before trying, sleep only while it is unchanged. */
export function wakeSequence(slot: SlotRef): number {
  return Atomics.load(slot.view, slot.base + SLOT_WAKE);
}

/** Make every sleeping waiter re-check (release, abandonment, or an aborted wait). */
export function wakeWaiters(slot: SlotRef): void {
  Atomics.add(slot.view, slot.base + SLOT_WAKE, 1);
  // All of them: a single woken waiter might be one that was cancelled or timed out.
  Atomics.notify(slot.view, slot.base + SLOT_WAKE);
}

/**
 * The owner gives the mutex back. Releasing a mutex the thread does not own is a bug
 * (on Windows it raises an exception at callback return), so it throws, which kills the
 * worker and surfaces as `thread_died`.
 */
export function release(slot: SlotRef, threadId: number): void {
  const { view, base } = slot;
  const owner = Atomics.load(view, base + SLOT_OWNER);
  if (owner !== threadId) throw new Error(`thread ${threadId} released a mutex owned by thread ${owner}`);
  Atomics.store(view, base + SLOT_RECURSION, 0);
  Atomics.store(view, base + SLOT_OWNER, 0);
  wakeWaiters(slot);
}

/**
 * Called by the main thread when `threadId` has died: if it owned the mutex, the mutex
 * becomes free and abandoned, and the next acquirer is told so. Returns the last fencing
 * token issued (the dead owner's, or its predecessor's if it died before stamping), or
 * undefined when the thread did not own the mutex.
 */
export function abandonIfOwnedBy(slot: SlotRef, threadId: number): number | undefined {
  const { view, base } = slot;
  if (Atomics.load(view, base + SLOT_OWNER) !== threadId) return undefined;
  Atomics.store(view, base + SLOT_ABANDONED, 1);
  Atomics.store(view, base + SLOT_RECURSION, 0);
  const lastToken = Atomics.load(view, base + SLOT_FENCE);
  Atomics.store(view, base + SLOT_OWNER, 0);
  wakeWaiters(slot);
  return lastToken;
}

export function readProbe(slot: SlotRef): MutexProbe {
  const { view, base } = slot;
  if (Atomics.load(view, base + SLOT_OWNER) !== 0) {
    return { state: 'held', recursion: Atomics.load(view, base + SLOT_RECURSION) };
  }
  return { state: Atomics.load(view, base + SLOT_ABANDONED) === 1 ? 'abandoned' : 'free', recursion: 0 };
}

/** Make a slot new again before it is reused for another name. Only for slots nobody uses. */
export function clearSlot(slot: SlotRef): void {
  const { view, base } = slot;
  Atomics.store(view, base + SLOT_OWNER, 0);
  Atomics.store(view, base + SLOT_RECURSION, 0);
  Atomics.store(view, base + SLOT_ABANDONED, 0);
  Atomics.store(view, base + SLOT_FENCE, 0);
}
