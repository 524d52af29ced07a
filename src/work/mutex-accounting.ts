/**
 * Per-mutex accounting: the counters and the holder a mutex record shows, kept in step
 * with the transitions of the works on it.
 */
import type { MutexRecord } from '../mutex/registry.js';
import { isTerminal, type WorkState } from '../schemas/work.js';
import type { WorkRecord } from './work-record.js';

/** A work on this mutex was accepted: it is queued and unfinished. */
export function countSubmitted(mutex: MutexRecord): void {
  mutex.unfinished++;
  mutex.queued++;
}

/** One transition of a work on this mutex, from `before` to the work's state now. */
export function countTransition(mutex: MutexRecord, work: WorkRecord, before: WorkState): void {
  const after = work.state;
  if (before === after) return;
  if (before === 'queued') mutex.queued--;
  if (before === 'waiting') mutex.waiting--;
  if (before === 'holding' && mutex.holder?.workId === work.id) mutex.holder = null;
  if (after === 'waiting') mutex.waiting++;
  if (after === 'holding') {
    mutex.holder = { workId: work.id, threadId: work.threadId ?? 0, sinceNs: work.acquiredNs! };
    mutex.acquisitions++;
    if (work.abandoned) mutex.abandonedAcquisitions++;
    if (work.fencingToken !== null && work.fencingToken > mutex.fencingToken) mutex.fencingToken = work.fencingToken;
  }
  if (after === 'timed_out') mutex.timeouts++;
  if (isTerminal(after)) mutex.unfinished--;
}
