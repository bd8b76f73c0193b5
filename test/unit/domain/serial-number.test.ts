import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RandomSource } from '../../../src/domain/clock.ts';
import { generateSerialNumber, normalizeSerialHex, SERIAL_NUMBER_OCTETS } from '../../../src/domain/serial-number.ts';

/** A random source that returns `fill` bytes (or a fixed sequence) and records the lengths asked for. */
function fakeRandom(produce: (length: number) => Uint8Array): RandomSource & { requests: number[] } {
  const requests: number[] = [];
  return {
    requests,
    bytes(length: number) {
      requests.push(length);
      return produce(length);
    },
  };
}

describe('generateSerialNumber', () => {
  const patterns: { name: string; fill: number; expectedFirst: string }[] = [
    { name: 'all zero bytes', fill: 0x00, expectedFirst: '40' },
    { name: 'all 0xff bytes', fill: 0xff, expectedFirst: '7f' },
    { name: 'all 0x80 bytes (top bit only)', fill: 0x80, expectedFirst: '40' },
    { name: 'all 0x3f bytes', fill: 0x3f, expectedFirst: '7f' },
  ];
  for (const { name, fill, expectedFirst } of patterns) {
    it(`gives 32 hex digits starting in 0x40..0x7f for ${name}`, () => {
      const random = fakeRandom((length) => new Uint8Array(length).fill(fill));
      const serial = generateSerialNumber(random);
      assert.match(serial, /^[0-9a-f]{32}$/);
      assert.equal(serial.slice(0, 2), expectedFirst);
      assert.equal(serial.slice(2), fill.toString(16).padStart(2, '0').repeat(15));
      assert.deepEqual(random.requests, [SERIAL_NUMBER_OCTETS]);
    });
  }

  it('keeps every byte after the first as given', () => {
    const given = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const serial = generateSerialNumber(fakeRandom(() => Uint8Array.from(given)));
    assert.equal(serial, `40${Buffer.from(given.subarray(1)).toString('hex')}`);
  });

  it('always yields a positive 16-octet DER INTEGER value with real randomness', () => {
    const random: RandomSource = { bytes: (length) => new Uint8Array(randomBytes(length)) };
    const seen = new Set<string>();
    for (let i = 0; i < 500; i += 1) {
      const serial = generateSerialNumber(random);
      assert.match(serial, /^[4-7][0-9a-f]{31}$/);
      const first = Number.parseInt(serial.slice(0, 2), 16);
      assert.ok(first >= 0x40 && first <= 0x7f, serial);
      seen.add(serial);
    }
    assert.equal(seen.size, 500);
  });

  for (const length of [0, 15, 17, 32]) {
    it(`throws when the random source returns ${length} bytes instead of 16`, () => {
      assert.throws(() => generateSerialNumber(fakeRandom(() => new Uint8Array(length))), /returned \d+ bytes, expected 16/);
    });
  }
});

describe('normalizeSerialHex', () => {
  const cases: [string, string | undefined][] = [
    ['4a1b2c', '4a1b2c'],
    ['4A:1B:2C', '4a1b2c'],
    ['00:4a:1b', '4a1b'],
    ['0004A1B', '4a1b'],
    ['7f', '7f'],
    ['1', '1'],
    ['f'.repeat(40), 'f'.repeat(40)],
    [`00${'a'.repeat(38)}`, 'a'.repeat(38)],
    ['f'.repeat(41), undefined],
    ['', undefined],
    [':', undefined],
    ['0', undefined],
    ['00:00:00', undefined],
    ['0x4a', undefined],
    ['4a-1b', undefined],
    ['4a 1b', undefined],
    ['xyz', undefined],
    ['4g', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeSerialHex(input), expected);
    });
  }
});
