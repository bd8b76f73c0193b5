import type { RandomSource } from '../clock.ts';

/** Default ceiling of the first retry: 30 seconds. */
const DEFAULT_BASE_MS = 30_000;
/** Default cap of any retry: one hour. */
const DEFAULT_MAX_MS = 3_600_000;
/** Random octets drawn per delay: 48 bits, far finer than the millisecond range they spread over. */
const RANDOM_OCTETS = 6;
const RANDOM_RANGE = 2 ** (8 * RANDOM_OCTETS);

/**
 * Delay before the next attempt after `attempt` failed attempts, in milliseconds, using
 * "full jitter" exponential backoff: the delay is uniform in `[0, ceiling]` where
 * `ceiling = min(maxMs, baseMs × 2^(attempt − 1))`. So attempt 1 waits up to `baseMs`, attempt 2
 * up to 2×`baseMs`, and so on until `maxMs`.
 *
 * Full jitter (rather than a fixed doubling) spreads the retries of many notifications that
 * failed together (a receiver outage) so that they do not return in one burst when it recovers.
 *
 * Deterministic given the random octets: it draws exactly 6 octets from `random`, read as a
 * big-endian fraction in [0, 1).
 *
 * @param attempt how many attempts have failed so far, an integer ≥ 1.
 * @param options `baseMs` (default 30 000) and `maxMs` (default 3 600 000), with 0 < baseMs ≤ maxMs.
 * @returns a whole number of milliseconds in `[0, ceiling]`.
 * @throws RangeError on an invalid attempt or options, or a random source returning too few octets.
 */
export function retryDelayMs(attempt: number, random: RandomSource, options: { baseMs?: number; maxMs?: number } = {}): number {
  const baseMs = options.baseMs ?? DEFAULT_BASE_MS;
  const maxMs = options.maxMs ?? DEFAULT_MAX_MS;
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer ≥ 1, got ${attempt}`);
  if (!Number.isFinite(baseMs) || baseMs <= 0) throw new RangeError(`baseMs must be positive, got ${baseMs}`);
  if (!Number.isFinite(maxMs) || maxMs < baseMs) throw new RangeError(`maxMs must be at least baseMs, got ${maxMs}`);

  // Past 2^52 the product is already far above any sensible cap; bounding the exponent keeps
  // the arithmetic finite for absurd attempt counts.
  const ceiling = Math.floor(Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 52)));
  const octets = random.bytes(RANDOM_OCTETS);
  if (octets.length < RANDOM_OCTETS) throw new RangeError(`random source returned ${octets.length} bytes, expected ${RANDOM_OCTETS}`);
  const fraction = Buffer.from(octets.buffer, octets.byteOffset, RANDOM_OCTETS).readUIntBE(0, RANDOM_OCTETS) / RANDOM_RANGE;
  // fraction < 1, so the floor is at most `ceiling`: both ends of the range are reachable.
  return Math.floor(fraction * (ceiling + 1));
}
