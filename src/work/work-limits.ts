/**
 * The admission limits: how many works may be unfinished, in all and per mutex. A work
 * refused here leaves no trace.
 */
import type { Config } from '../config.js';
import { limitExceeded } from '../service-error.js';

export type AdmissionLimits = Pick<Config['limits'], 'maxQueuedWork' | 'maxQueuedWorkPerMutex'>;

/** Throws `limit-exceeded` when one more work would pass a limit. */
/** `object`: the mutex or semaphore the work acquires, when open (the per-object limit is MAX_QUEUED_WORK_PER_MUTEX for both). */
export function checkAdmission(unfinished: number, mutexName: string, mutex: { unfinished: number } | undefined, limits: AdmissionLimits): void {
  if (unfinished >= limits.maxQueuedWork) {
    throw limitExceeded('MAX_QUEUED_WORK', `${unfinished} works are unfinished (limit ${limits.maxQueuedWork}); retry when some finish`, 1);
  }
  if (mutex && mutex.unfinished >= limits.maxQueuedWorkPerMutex) {
    throw limitExceeded('MAX_QUEUED_WORK_PER_MUTEX', `${JSON.stringify(mutexName)} has ${mutex.unfinished} unfinished works (limit ${limits.maxQueuedWorkPerMutex})`, 1);
  }
}
