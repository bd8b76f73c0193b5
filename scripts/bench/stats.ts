/**
 * Small statistics for the benchmark: the value of a percentile of samples, and the summary of
 * repeated runs (median with min and max) that the report prints for every metric.
 */

/** Median, smallest and largest value of the repetitions of one metric, plus every value. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/**
 * The `p`-th percentile (0–100) of `samples` by the nearest-rank method: the smallest sample
 * with at least p% of the samples at or below it. NaN for no samples. Does not modify `samples`.
 */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? NaN;
}

/** The median of the repetitions (the mean of the middle two for an even count), with min and max. */
export function summarize(runs: number[]): Summary {
  if (runs.length === 0) return { median: NaN, min: NaN, max: NaN, runs: [] };
  const sorted = [...runs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, runs };
}

/** Summarizes one field of each repetition's result. */
export function summarizeField<T>(results: T[], field: (result: T) => number): Summary {
  return summarize(results.map(field));
}
