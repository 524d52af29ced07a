/**
 * One mutex in the shared table, and the atomic operations on it. Used by both sides:
 * worker threads acquire and release, the main thread reads, wakes waiters and marks a
 * dead owner's mutex abandoned. Every word is read and written with Atomics.
 *
 * An entry is six Int32 words (24 bytes, so the 64-bit fence stays 8-byte aligned):
 * 10,000 mutexes cost 240 KB.
 */
import type { MutexProbe } from '../types.js';

/** worker_threads.threadId of the owner; 0 = free (the main thread, id 0, never owns). */
export const ENTRY_OWNER = 0;
/** How many times the owner acquired it: 1 while owned (a callback acquires once), else 0. */
export const ENTRY_RECURSION = 1;
/** 1 when the owner died holding it and nobody has acquired it since. */
export const ENTRY_ABANDONED = 2;
/** Bumped on every release, abandonment or abort; waiters sleep on it with Atomics.wait. */
export const ENTRY_WAKE = 3;
/** Words 4–5: the last fencing token issued, an Int64 (an Int32 could wrap on a busy, long-lived mutex). */
const ENTRY_FENCE = 4;
export const ENTRY_WORDS = 6;

/** One SharedArrayBuffer of the table, seen as Int32 words and as Int64 fences. */
export interface TableChunk {
  readonly words: Int32Array;
  readonly fences: BigInt64Array;
}

export function tableChunk(buffer: SharedArrayBuffer): TableChunk {
  return { words: new Int32Array(buffer), fences: new BigInt64Array(buffer) };
}

export function chunkBytes(chunkEntries: number): number {
  return chunkEntries * ENTRY_WORDS * Int32Array.BYTES_PER_ELEMENT;
}

/** Where one entry's words are: a chunk of the table and the entry's first index in it. */
export interface EntryRef {
  readonly view: Int32Array;
  readonly base: number;
  readonly fences: BigInt64Array;
  readonly fenceIndex: number;
}

export function entryRef(chunks: readonly (TableChunk | undefined)[], chunkEntries: number, entry: number): EntryRef {
  const chunk = chunks[Math.floor(entry / chunkEntries)];
  if (chunk === undefined) throw new RangeError(`mutex entry ${entry} is outside the table`);
  const base = (entry % chunkEntries) * ENTRY_WORDS;
  return { view: chunk.words, base, fences: chunk.fences, fenceIndex: (base + ENTRY_FENCE) / 2 };
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
export function tryTake(entry: EntryRef, threadId: number): boolean {
  return Atomics.compareExchange(entry.view, entry.base + ENTRY_OWNER, 0, threadId) === 0;
}

/** Complete an acquisition after tryTake: consume the abandoned state, issue the fencing token. */
export function stampAcquisition(entry: EntryRef): Acquisition {
  const { view, base } = entry;
  Atomics.store(view, base + ENTRY_RECURSION, 1);
  // The abandoner sets the flag before it frees the owner word, so the thread that took
  // the mutex afterwards is the one that sees (and clears) it.
  const abandoned = Atomics.exchange(view, base + ENTRY_ABANDONED, 0) === 1;
  // Incremented while owning, so tokens follow the acquisition order exactly, without gaps.
  const fencingToken = Number(Atomics.add(entry.fences, entry.fenceIndex, 1n)) + 1;
  return { abandoned, fencingToken };
}

/** Undo a tryTake that will not be stamped (the wait was cancelled as it succeeded). */
export function giveBack(entry: EntryRef, threadId: number): void {
  if (Atomics.compareExchange(entry.view, entry.base + ENTRY_OWNER, threadId, 0) !== threadId) {
    throw new Error(`thread ${threadId} gave back a mutex it had not taken`);
  }
  wakeWaiters(entry);
}

/** The value waiters compare against; read it before trying, sleep only while it is unchanged. */
export function wakeSequence(entry: EntryRef): number {
  return Atomics.load(entry.view, entry.base + ENTRY_WAKE);
}

/** Make every sleeping waiter re-check (release, abandonment, or an aborted wait). */
export function wakeWaiters(entry: EntryRef): void {
  Atomics.add(entry.view, entry.base + ENTRY_WAKE, 1);
  // All of them: a single woken waiter might be one that was cancelled or timed out.
  Atomics.notify(entry.view, entry.base + ENTRY_WAKE);
}

/**
 * The owner gives the mutex back. Releasing a mutex the thread does not own is a bug
 * (on Windows it raises an exception at callback return), so it throws, which kills the
 * worker and surfaces as `thread_died`.
 */
export function release(entry: EntryRef, threadId: number): void {
  const { view, base } = entry;
  const owner = Atomics.load(view, base + ENTRY_OWNER);
  if (owner !== threadId) throw new Error(`thread ${threadId} released a mutex owned by thread ${owner}`);
  Atomics.store(view, base + ENTRY_RECURSION, 0);
  Atomics.store(view, base + ENTRY_OWNER, 0);
  wakeWaiters(entry);
}

/**
 * Called by the main thread when `threadId` has died: if it owned the mutex, the mutex
 * becomes free and abandoned, and the next acquirer is told so. Returns the last fencing
 * token issued (the dead owner's, or its predecessor's if it died before stamping), or
 * undefined when the thread did not own the mutex.
 */
export function abandonIfOwnedBy(entry: EntryRef, threadId: number): number | undefined {
  const { view, base } = entry;
  if (Atomics.load(view, base + ENTRY_OWNER) !== threadId) return undefined;
  Atomics.store(view, base + ENTRY_ABANDONED, 1);
  Atomics.store(view, base + ENTRY_RECURSION, 0);
  const lastToken = lastFencingToken(entry);
  Atomics.store(view, base + ENTRY_OWNER, 0);
  wakeWaiters(entry);
  return lastToken;
}

/** The last fencing token issued (0 before the first acquisition). */
export function lastFencingToken(entry: EntryRef): number {
  return Number(Atomics.load(entry.fences, entry.fenceIndex));
}

export function readProbe(entry: EntryRef): MutexProbe {
  const { view, base } = entry;
  if (Atomics.load(view, base + ENTRY_OWNER) !== 0) {
    return { state: 'held', recursion: Atomics.load(view, base + ENTRY_RECURSION) };
  }
  return { state: Atomics.load(view, base + ENTRY_ABANDONED) === 1 ? 'abandoned' : 'free', recursion: 0 };
}

/**
 * Continue a fencing sequence on a fresh entry: the next acquisition gets lastToken + 1.
 * Only before any thread can see the entry (right after allocation).
 */
export function continueFencing(entry: EntryRef, lastToken: number): void {
  Atomics.store(entry.fences, entry.fenceIndex, BigInt(lastToken));
}

/** Make an entry new again before it is reused for another name. Only for entries nobody uses. */
export function clearEntry(entry: EntryRef): void {
  const { view, base } = entry;
  Atomics.store(view, base + ENTRY_OWNER, 0);
  Atomics.store(view, base + ENTRY_RECURSION, 0);
  Atomics.store(view, base + ENTRY_ABANDONED, 0);
  Atomics.store(entry.fences, entry.fenceIndex, 0n);
}
