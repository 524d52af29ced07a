/**
 * Per-object accounting: the counters and holders that mutex, semaphore and event-object
 * records show, kept in step with the transitions of the works on them. A mutex and a
 * semaphore count a work's way through queued, waiting and holding alike; they differ
 * only in how they keep who holds them (one holder, or several).
 */
import type { EventObjectRecord } from '../event-object/registry.js';
import type { MutexRecord } from '../mutex/registry.js';
import type { SemaphoreRecord } from '../semaphore/registry.js';
import { isTerminal, type WorkState } from '../schemas/work.js';
import type { WorkRecord } from './work-record.js';

/** What an object a work acquires counts. */
export interface AcquisitionCounts {
  queued: number;
  waiting: number;
  /** queued + waiting + holding: an object with any cannot be closed. */
  unfinished: number;
  acquisitions: number;
  timeouts: number;
}

/** How a kind keeps the works holding it. */
export interface HolderBook<R> {
  /** The work acquired the object. */
  acquired(record: R, work: WorkRecord): void;
  /** The work holds it no more. */
  ended(record: R, work: WorkRecord): void;
}

export const MUTEX_HOLDER: HolderBook<MutexRecord> = {
  acquired(mutex, work) {
    mutex.holder = { workId: work.id, threadId: work.threadId ?? 0, sinceNs: work.acquiredNs! };
    if (work.abandoned) mutex.abandonedAcquisitions++;
    if (work.fencingToken !== null && work.fencingToken > mutex.fencingToken) mutex.fencingToken = work.fencingToken;
  },
  ended(mutex, work) {
    if (mutex.holder?.workId === work.id) mutex.holder = null;
  },
};

export const SEMAPHORE_HOLDERS: HolderBook<SemaphoreRecord> = {
  acquired(semaphore, work) { semaphore.holders.set(work.id, { threadId: work.threadId ?? 0, sinceNs: work.acquiredNs! }); },
  ended(semaphore, work) { semaphore.holders.delete(work.id); },
};

/** A work on this object was accepted: it is queued and unfinished. */
export function countSubmitted(object: AcquisitionCounts): void {
  object.unfinished++;
  object.queued++;
}

/** One transition of a work on this object, from `before` to the work's state now. */
export function countTransition<R extends AcquisitionCounts>(object: R, holders: HolderBook<R>, work: WorkRecord, before: WorkState): void {
  const after = work.state;
  if (before === after) return;
  if (before === 'queued') object.queued--;
  if (before === 'waiting') object.waiting--;
  if (before === 'holding') holders.ended(object, work);
  if (after === 'waiting') object.waiting++;
  if (after === 'holding') {
    holders.acquired(object, work);
    object.acquisitions++;
  }
  if (after === 'timed_out') object.timeouts++;
  if (isTerminal(after)) object.unfinished--;
}

/**
 * A work that sets this event on return ended; returns whether the pool set it. The set
 * is registered as the callback starts, so it happens on every return path from there:
 * `released` lists it, and a callback that started and then timed out or was cancelled
 * in its wait returned too (a work cancelled before it started never set it).
 */
export function countSetterEnded(event: EventObjectRecord, work: WorkRecord): boolean {
  event.pendingSetters--;
  const set = work.actions?.includes('set_event') === true ||
    (work.startedNs !== null && (work.state === 'timed_out' || work.state === 'cancelled'));
  if (set) event.setsOnReturn++;
  return set;
}
