/** The soak's arithmetic: least-squares slopes over time, and what comes after the warm-up. */

export interface Point { /** seconds since the soak began */ t: number; y: number }

/**
 * The least-squares slope of y over t, per minute (t in seconds). Least squares rather
 * than last − first: a heap sampled between two collections saws up and down by
 * megabytes, and only a fit over every sample tells that from a trend. NaN with fewer
 * than two distinct times.
 */
export function slopePerMinute(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sumT = 0, sumY = 0;
  for (const p of points) { sumT += p.t; sumY += p.y; }
  const meanT = sumT / n, meanY = sumY / n;
  let num = 0, den = 0;
  for (const p of points) { num += (p.t - meanT) * (p.y - meanY); den += (p.t - meanT) ** 2; }
  return den === 0 ? Number.NaN : (num / den) * 60;
}

/**
 * The warm-up of a run of `seconds`: a fifth of it, at least 15 s and at most 2
 * minutes. Under the soak's load the default event buffer (10,000 events) fills in
 * about 70 s, and the heap floor moves only at the next major GC after that.
 */
export function warmUpSeconds(seconds: number): number {
  return Math.min(120, Math.max(15, Math.round(seconds / 5)));
}

/** The points at or after `fromT`. */
export const after = <T extends { t: number }>(points: readonly T[], fromT: number): T[] => points.filter((p) => p.t >= fromT);
