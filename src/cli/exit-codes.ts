/**
 * The CLI's exit codes (README "For test harnesses"): a script branches on them, so
 * each outcome of a work has its own.
 */
import type { Work } from '../client/index.js';

export const EXIT = {
  ok: 0,
  /** Usage, connection or HTTP error; one line on stderr says which. */
  error: 1,
  timedOut: 2,
  cancelled: 3,
  failed: 4,
  /** Acquired with WAIT_ABANDONED: the previous owner died holding the mutex. */
  abandoned: 5,
} as const;

/** What a work's outcome means for the exit code; a work still holding counts as held (hold without --wait). */
export function exitCodeOf(work: Work): number {
  switch (work.state) {
    case 'timed_out': return EXIT.timedOut;
    case 'cancelled': return EXIT.cancelled;
    case 'failed': return EXIT.failed;
    case 'queued': case 'waiting': return EXIT.timedOut;
    case 'holding': case 'released': return work.abandoned === true ? EXIT.abandoned : EXIT.ok;
    // An abandon work (POST /v1/mutexes/{name}/abandon) that left the mutex abandoned did what it was asked.
    case 'abandoned': return EXIT.ok;
  }
}
