/** The certificate being renewed and how renewal has gone so far. */
export interface RenewalState {
  notBefore: Date;
  notAfter: Date;
  now: Date;
  /** Consecutive failed renewal attempts of this certificate (0: none yet). */
  failures: number;
}

export interface RenewalScheduleOptions {
  /** Renew when this much validity is left (ms); default a third of the lifetime ("at two thirds"). */
  renewBeforeMs?: number;
}

/**
 * - `scheduled`: the next attempt is the planned one;
 * - `retrying`: attempts failed, the next one is a backoff retry;
 * - `critical`: less than half of the renewal window is left without a renewal — log loudly;
 * - `expired`: too late, the certificate can no longer authenticate a renewal.
 */
export type RenewalUrgency = 'scheduled' | 'retrying' | 'critical' | 'expired';

export interface RenewalPlan {
  /** When to attempt the next renewal (never after notAfter). */
  at: Date;
  urgency: RenewalUrgency;
  /** Time left on the certificate at `now` (ms, negative once expired). */
  remainingMs: number;
}

/** Share of the time before the renewal point over which the first attempt is spread earlier. */
export const RENEWAL_JITTER_FRACTION = 0.1;
/** First retry delay after a failure (ms), doubled per further failure. */
export const RETRY_INITIAL_DELAY_MS = 5_000;
/** Longest retry delay (ms) … */
export const RETRY_MAX_DELAY_MS = 5 * 60_000;
/** … and never more than this share of the time left, so that many attempts fit before expiry. */
export const RETRY_MAX_SHARE_OF_REMAINING = 1 / 4;
/** Shortest wait between attempts (ms), so that a failing CA is not hammered. */
export const RETRY_MIN_DELAY_MS = 1_000;

/**
 * When to renew a certificate next, as a pure function of its validity, the time and the
 * failures so far (`random` uniform in [0, 1)), so that a fake clock can test it.
 *
 * The first attempt is at the renewal point — two thirds of the lifetime, or `renewBeforeMs`
 * before notAfter — moved earlier by up to 10 % of the time before it, so that a fleet started
 * together (and issued together) does not renew in one burst; earlier, never later, because
 * later only eats into the retry window. After failures, retries back off exponentially from 5 s
 * to 5 minutes with equal jitter, capped at a quarter of the time left: the closer the expiry,
 * the more often it tries.
 */
export function planRenewal(state: RenewalState, random: () => number, options: RenewalScheduleOptions = {}): RenewalPlan {
  const now = state.now.getTime();
  const notBefore = state.notBefore.getTime();
  const notAfter = state.notAfter.getTime();
  const remainingMs = notAfter - now;
  if (remainingMs <= 0) return { at: new Date(now), urgency: 'expired', remainingMs };
  const lifetime = Math.max(1, notAfter - notBefore);
  const renewBefore = Math.min(lifetime, Math.max(0, options.renewBeforeMs ?? lifetime / 3));
  const critical = remainingMs <= renewBefore / 2;
  let at: number;
  if (state.failures <= 0) {
    const point = notAfter - renewBefore;
    at = Math.max(now, point - random() * RENEWAL_JITTER_FRACTION * Math.max(0, point - notBefore));
  } else {
    const nominal = Math.min(
      RETRY_INITIAL_DELAY_MS * 2 ** Math.min(state.failures - 1, 30),
      RETRY_MAX_DELAY_MS,
      remainingMs * RETRY_MAX_SHARE_OF_REMAINING,
    );
    at = now + Math.max(RETRY_MIN_DELAY_MS, nominal / 2 + random() * (nominal / 2));
  }
  const urgency: RenewalUrgency = critical ? 'critical' : state.failures > 0 ? 'retrying' : 'scheduled';
  return { at: new Date(Math.round(Math.min(at, notAfter))), urgency, remainingMs };
}
