/**
 * Per-semaphore accounting: the counters and holders a semaphore record shows, kept in
 * step with the transitions of the works on it, and the event objects' pending setters.
 */
import type { EventObjectRecord } from '../event-object/registry.js';
import type { SemaphoreRecord } from '../semaphore/registry.js';
import { isTerminal, type WorkState } from '../schemas/work.js';
import type { WorkRecord } from './work-record.js';

export function countSemaphoreSubmitted(semaphore: SemaphoreRecord): void {
  semaphore.unfinished++;
  semaphore.queued++;
}

/** One transition of a work on this semaphore, from `before` to the work's state now. */
export function countSemaphoreTransition(semaphore: SemaphoreRecord, work: WorkRecord, before: WorkState): void {
  const after = work.state;
  if (before === after) return;
  if (before === 'queued') semaphore.queued--;
  if (before === 'waiting') semaphore.waiting--;
  if (before === 'holding') semaphore.holders.delete(work.id);
  if (after === 'waiting') semaphore.waiting++;
  if (after === 'holding') {
    semaphore.holders.set(work.id, { threadId: work.threadId ?? 0, sinceNs: work.acquiredNs! });
    semaphore.acquisitions++;
  }
  if (after === 'timed_out') semaphore.timeouts++;
  if (isTerminal(after)) semaphore.unfinished--;
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
