/** Small statistics for the benchmark: medians, percentiles, A/B rounds. */

/** `alreadySorted`: values are ascending (sort a large sample once, read several percentiles). */
export function percentile(values: ArrayLike<number>, p: number, alreadySorted = false): number {
  if (values.length === 0) return Number.NaN;
  const sorted = alreadySorted ? values : Array.from(values).sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

export interface AbResult {
  candidate: number[]; baseline: number[]; candidateMedian: number; baselineMedian: number;
  /** The median of the per-round ratios candidate[i] / baseline[i] (pairedRatio). */
  ratio: number;
}

/**
 * The median of the ratios of the rounds, a[i] / b[i]: each pair was measured back to
 * back, so a load that comes and goes on a shared machine cancels within a pair; the
 * median then drops the pairs a burst hit on one side only. Steadier than the ratio of
 * the two medians when the load drifts during a run.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((value, i) => value / b[i]!));
}

/**
 * Alternates candidate and baseline (warm-up of each first, then A/B/A/B…), so a noisy
 * shared machine slows both sides alike; the median of the per-round ratios is the figure.
 */
export async function abRounds(rounds: number, candidate: () => Promise<number>, baseline: () => Promise<number>): Promise<AbResult> {
  const { candidate: a, baseline: b } = await interleavedRounds(rounds, { candidate, baseline });
  return { candidate: a, baseline: b, candidateMedian: median(a), baselineMedian: median(b), ratio: pairedRatio(a, b) };
}

/** abRounds for any number of sides: a warm-up of each, then A/B/C/A/B/C…; the samples per side. */
export async function interleavedRounds<K extends string>(rounds: number, sides: Record<K, () => Promise<number>>): Promise<Record<K, number[]>> {
  const names = Object.keys(sides) as K[];
  for (const name of names) await sides[name]();
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) for (const name of names) samples[name].push(await sides[name]());
  return samples;
}

export const round = (value: number, digits = 3) => Number(value.toFixed(digits));
