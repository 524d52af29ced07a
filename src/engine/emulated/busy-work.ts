/**
 * What a callback does while it owns the mutex: burn CPU for a while, then hold. Both end
 * early when the worker's signal word is set (signal, or cancel acting as a signal).
 */
import { msToNs, nowNs, nsToMs } from './clock.js';
import { CONTROL_SIGNAL } from './protocol.js';

/** Iterations between two looks at the clock and the signal word: tens of microseconds of work. */
const SPIN_SLICE = 20_000;

function signaled(control: Int32Array): boolean {
  return Atomics.load(control, CONTROL_SIGNAL) !== 0;
}

/** When a span of `ms` starting now ends; undefined for an unbounded (Infinity) span. */
function endOf(ms: number): bigint | undefined {
  return Number.isFinite(ms) ? nowNs() + msToNs(ms) : undefined;
}

/** Real CPU work (a xorshift stream) for `spinMs`. Returns true when a signal ended it early. */
export function spin(control: Int32Array, spinMs: number): boolean {
  if (spinMs <= 0) return false;
  const end = endOf(spinMs);
  let x = 0x9e3779b9 | 0;
  for (;;) {
    if (signaled(control)) return true;
    if (end !== undefined && nowNs() >= end) return false;
    for (let i = 0; i < SPIN_SLICE; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    // xorshift never reaches 0 from a non-zero seed; the test keeps the loop's result
    // alive so the compiler cannot drop the work.
    if (x === 0) x = 1;
  }
}

/** Sleep up to `holdMs` on the signal word. Returns true when a signal ended it early. */
export function hold(control: Int32Array, holdMs: number): boolean {
  if (holdMs <= 0) return false;
  const end = endOf(holdMs);
  for (;;) {
    if (signaled(control)) return true;
    const now = nowNs();
    if (end !== undefined && now >= end) return false;
    Atomics.wait(control, CONTROL_SIGNAL, 0, end === undefined ? Infinity : nsToMs(end - now));
  }
}
