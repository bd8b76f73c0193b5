import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/client/parse-duration.ts';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['90', 90_000],
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    [' 2s ', 2_000],
  ];
  for (const [text, ms] of cases) it(`"${text}" is ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  for (const bad of ['', 'h', '1.5h', '-1s', '10 s', '1w', '1h 30m', `${'9'.repeat(20)}d`]) {
    it(`refuses "${bad}"`, () => assert.throws(() => parseDuration(bad), RangeError));
  }
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [45_000, '45s'],
    [750_000, '12m30s'],
    [3 * 3_600_000 + 5 * 60_000, '3h05m'],
    [52 * 3_600_000, '2d04h'],
    [-90_000, '-1m30s'],
    [-200, '0s'],
  ];
  for (const [ms, text] of cases) it(`${ms} ms is ${text}`, () => assert.equal(formatDuration(ms), text));
});
