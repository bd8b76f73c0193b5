/** How long, and how, to keep trying a request that failed for a transient reason. */
export interface RetryPolicy {
  /** Total time (ms) after the first attempt during which retries are started; 0 = one attempt only. */
  budgetMs: number;
  /** Delay before the first retry, before jitter (ms). */
  initialDelayMs: number;
  /** Upper bound of one delay (ms); the delay doubles per attempt up to it. */
  maxDelayMs: number;
}

/** Time and randomness, injected so that tests run retries on a fake clock. */
export interface RetryRuntime {
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { budgetMs: 30_000, initialDelayMs: 250, maxDelayMs: 5_000 };

export const SYSTEM_RETRY_RUNTIME: RetryRuntime = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/**
 * The delay before retry number `retry` (0 for the first retry): exponential from
 * `initialDelayMs`, capped at `maxDelayMs`, then "equal jitter" — uniformly in [d/2, d] — so
 * that many clients failing together (a CA restart) do not come back in lockstep, while each
 * still waits at least half the nominal delay.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const nominal = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(retry, 30));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

export interface RetryHooks {
  /** The minimum delay the failure asks for (e.g. `Retry-After`), or `undefined` when it must not be retried. */
  retryAfter(error: unknown): number | undefined;
  /** Told before each wait, for progress messages. */
  onRetry?(info: { attempt: number; delayMs: number; error: unknown }): void;
}

/**
 * Runs `operation` until it succeeds, fails with an error `hooks.retryAfter` does not retry, or
 * the policy's budget is spent; then throws the last error. Waits are bounded by the time left,
 * so the last attempt starts at the latest when the budget ends.
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks,
  runtime: RetryRuntime = SYSTEM_RETRY_RUNTIME,
): Promise<T> {
  const deadline = runtime.now() + Math.max(0, policy.budgetMs);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      const minimum = hooks.retryAfter(error);
      const left = deadline - runtime.now();
      if (minimum === undefined || left <= 0) throw error;
      const delayMs = Math.min(left, Math.max(backoffDelay(attempt - 1, policy, runtime.random), Math.min(minimum, policy.maxDelayMs)));
      hooks.onRetry?.({ attempt, delayMs, error });
      await runtime.sleep(delayMs);
    }
  }
}
