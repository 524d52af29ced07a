/**
 * The one rule for a work's times, checked by every engine at submit: whole
 * milliseconds from 0 to 0xfffffffe, the longest finite wait Win32 has (0xffffffff is
 * INFINITE, and "no deadline" is not a value the contract offers: an unbounded hold is
 * a long hold that a signal or cancel ends). Anything else (negative, fractional, NaN,
 * Infinity) is a caller bug — the service validates requests first — so it throws a
 * RangeError on both engines alike, before anything is recorded.
 */
import type { WorkSpec } from './types.js';

/** The largest time a work may ask for, in ms (about 49.7 days). */
export const MAX_WORK_TIME_MS = 0xfffffffe;

export function checkWorkTimes(spec: WorkSpec): void {
  for (const field of ['acquireTimeoutMs', 'spinMs', 'holdMs'] as const) {
    const value = spec[field];
    if (!Number.isInteger(value) || value < 0 || value > MAX_WORK_TIME_MS) {
      throw new RangeError(`work ${spec.workId}: ${field} must be an integer from 0 to ${MAX_WORK_TIME_MS} ms (got ${value})`);
    }
  }
}
