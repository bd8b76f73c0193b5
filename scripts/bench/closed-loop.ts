import { percentile } from './stats.ts';

export interface LoadResult {
  /** Requests sent (the successful ones count towards `perSecond`). */
  requests: number;
  errors: number;
  /** Up to five distinct error descriptions, to show what went wrong. */
  errorSamples: string[];
  seconds: number;
  /** Successful requests per second of wall-clock time. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One unit of work; resolves to an error description, or undefined when it succeeded. */
export type LoadTask = (index: number) => Promise<string | undefined>;

/**
 * Runs `count` tasks with exactly `concurrency` in flight (a closed loop: each worker starts its
 * next task when the previous one finishes) and measures each task's latency and the wall-clock
 * time of the whole. A rejected task counts as an error, like a task reporting one.
 */
export async function runClosedLoop(count: number, concurrency: number, task: LoadTask): Promise<LoadResult> {
  const latencies = new Float64Array(count);
  const errorSamples = new Set<string>();
  let errors = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= count) return;
      const started = performance.now();
      const failure = await task(index).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
      latencies[index] = performance.now() - started;
      if (failure !== undefined) {
        errors += 1;
        if (errorSamples.size < 5) errorSamples.add(failure);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: count,
    errors,
    errorSamples: [...errorSamples],
    seconds,
    perSecond: (count - errors) / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
  };
}

/**
 * Runs tasks with `concurrency` in flight until `seconds` have passed (no new task starts after
 * that); for work that needs no prepared input per task (OCSP, raw inserts).
 */
export async function runForDuration(seconds: number, concurrency: number, task: LoadTask): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorSamples = new Set<string>();
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const index = next;
      next += 1;
      const taskStarted = performance.now();
      const failure = await task(index).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
      latencies.push(performance.now() - taskStarted);
      if (failure !== undefined) {
        errors += 1;
        if (errorSamples.size < 5) errorSamples.add(failure);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  return {
    requests: latencies.length,
    errors,
    errorSamples: [...errorSamples],
    seconds: elapsed,
    perSecond: (latencies.length - errors) / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
  };
}
