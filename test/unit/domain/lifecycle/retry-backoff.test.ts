import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RandomSource } from '../../../../src/domain/clock.ts';
import { retryDelayMs } from '../../../../src/domain/lifecycle/retry-backoff.ts';

/** Returns the given octets (padded with zeros) and records the lengths asked for. */
function fixedRandom(octets: number[]): RandomSource & { requests: number[] } {
  const requests: number[] = [];
  return {
    requests,
    bytes(length: number) {
      requests.push(length);
      const out = new Uint8Array(length);
      out.set(octets.slice(0, length));
      return out;
    },
  };
}

const ZERO = [0, 0, 0, 0, 0, 0];
const MAX = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const HALF = [0x80, 0, 0, 0, 0, 0];

describe('retryDelayMs (full jitter)', () => {
  const cases: { attempt: number; octets: number[]; options?: { baseMs?: number; maxMs?: number }; expected: number }[] = [
    // Highest random value reaches the ceiling: base × 2^(attempt − 1), capped at max.
    { attempt: 1, octets: MAX, expected: 30_000 },
    { attempt: 2, octets: MAX, expected: 60_000 },
    { attempt: 3, octets: MAX, expected: 120_000 },
    { attempt: 7, octets: MAX, expected: 1_920_000 },
    { attempt: 8, octets: MAX, expected: 3_600_000 },
    { attempt: 1000, octets: MAX, expected: 3_600_000 },
    { attempt: Number.MAX_SAFE_INTEGER, octets: MAX, expected: 3_600_000 },
    // Lowest random value gives no delay at all (full jitter spans [0, ceiling]).
    { attempt: 1, octets: ZERO, expected: 0 },
    { attempt: 8, octets: ZERO, expected: 0 },
    // Half way: floor(0.5 × (ceiling + 1)).
    { attempt: 1, octets: HALF, expected: 15_000 },
    { attempt: 4, octets: HALF, expected: 120_000 },
    // Custom base and cap.
    { attempt: 1, octets: MAX, options: { baseMs: 100 }, expected: 100 },
    { attempt: 3, octets: MAX, options: { baseMs: 100, maxMs: 250 }, expected: 250 },
    { attempt: 3, octets: HALF, options: { baseMs: 100, maxMs: 250 }, expected: 125 },
    { attempt: 2, octets: MAX, options: { baseMs: 1, maxMs: 1 }, expected: 1 },
  ];
  for (const { attempt, octets, options, expected } of cases) {
    const label = Buffer.from(octets).toString('hex');
    it(`attempt ${attempt}, random ${label}, ${JSON.stringify(options ?? {})} → ${expected} ms`, () => {
      const random = fixedRandom(octets);
      assert.equal(retryDelayMs(attempt, random, options), expected);
      assert.deepEqual(random.requests, [6]);
    });
  }

  it('is deterministic given the random octets and stays within [0, ceiling]', () => {
    for (let seed = 0; seed < 256; seed += 1) {
      const octets = [seed, (seed * 7) & 0xff, (seed * 13) & 0xff, 1, 2, 3];
      for (let attempt = 1; attempt <= 10; attempt += 1) {
        const first = retryDelayMs(attempt, fixedRandom(octets));
        assert.equal(retryDelayMs(attempt, fixedRandom(octets)), first);
        assert.ok(Number.isInteger(first) && first >= 0 && first <= Math.min(3_600_000, 30_000 * 2 ** (attempt - 1)));
      }
    }
  });

  const refused: { name: string; attempt: number; options?: { baseMs?: number; maxMs?: number }; random?: RandomSource }[] = [
    { name: 'attempt 0', attempt: 0 },
    { name: 'a negative attempt', attempt: -1 },
    { name: 'a fractional attempt', attempt: 1.5 },
    { name: 'a zero base', attempt: 1, options: { baseMs: 0 } },
    { name: 'a max below base', attempt: 1, options: { baseMs: 1000, maxMs: 999 } },
    { name: 'an infinite max', attempt: 1, options: { maxMs: Number.POSITIVE_INFINITY } },
    { name: 'a random source returning too few octets', attempt: 1, random: { bytes: () => new Uint8Array(2) } },
  ];
  for (const { name, attempt, options, random = fixedRandom(MAX) } of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => retryDelayMs(attempt, random, options), RangeError);
    });
  }
});
