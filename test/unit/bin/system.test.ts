import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bufferedRandom, secureRandom } from '../../../src/bin/system.ts';

/** A fill that writes 1, 2, 3, … across fills, and keeps the block it was handed. */
function countingFill(): { fill: (block: Uint8Array) => void; blocks: Uint8Array[]; fills: () => number } {
  let counter = 0;
  const blocks: Uint8Array[] = [];
  return {
    fill: (block) => {
      blocks.push(block);
      for (let index = 0; index < block.length; index += 1) block[index] = (counter++ % 255) + 1;
    },
    blocks,
    fills: () => blocks.length,
  };
}

describe('the buffered CSPRNG', () => {
  it('hands out successive octets of a block, refilling it only when a request does not fit', () => {
    const source = countingFill();
    const random = bufferedRandom(80, source.fill);
    assert.equal(source.fills(), 0, 'nothing is drawn before the first request');
    assert.deepEqual([...random.bytes(16)], Array.from({ length: 16 }, (_, i) => i + 1));
    assert.deepEqual([...random.bytes(16)], Array.from({ length: 16 }, (_, i) => i + 17));
    assert.equal(random.bytes(0).length, 0);
    assert.deepEqual([...random.bytes(16)], Array.from({ length: 16 }, (_, i) => i + 33));
    assert.deepEqual([...random.bytes(16)], Array.from({ length: 16 }, (_, i) => i + 49));
    assert.equal(source.fills(), 1);
    // 16 octets are left; 17 do not fit, so the block is filled anew and the 16 are not used.
    assert.deepEqual([...random.bytes(17)], Array.from({ length: 17 }, (_, i) => i + 81));
    assert.equal(source.fills(), 2);
  });

  it('wipes what it handed out from the block, and hands out copies', () => {
    const source = countingFill();
    const random = bufferedRandom(64, source.fill);
    const first = random.bytes(16);
    const block = source.blocks[0];
    assert.ok(block);
    assert.deepEqual([...block.subarray(0, 16)], new Array<number>(16).fill(0));
    assert.notEqual(block[16], 0, 'octets not yet handed out are still there');
    first.fill(0xaa);
    assert.deepEqual([...random.bytes(4)], [17, 18, 19, 20], 'writing to a result changes nothing after it');
    assert.equal(first.buffer === block.buffer, false);
  });

  it('sends requests above a quarter of the block, and invalid ones, to the CSPRNG directly', () => {
    const source = countingFill();
    const random = bufferedRandom(64, source.fill);
    assert.equal(random.bytes(17).length, 17);
    assert.equal(random.bytes(1000).length, 1000);
    assert.equal(source.fills(), 0);
    assert.throws(() => random.bytes(-1), RangeError);
    assert.throws(() => random.bytes(Number.NaN), RangeError);
  });

  it('is what the server uses, and its output looks random', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 2000; index += 1) seen.add(Buffer.from(secureRandom.bytes(16)).toString('hex'));
    assert.equal(seen.size, 2000);
    // 32 KB across block refills: every octet value appears, none wildly more often than the rest.
    const counts = new Array<number>(256).fill(0);
    for (const hex of seen) for (const octet of Buffer.from(hex, 'hex')) counts[octet] = (counts[octet] ?? 0) + 1;
    assert.ok(Math.min(...counts) > 50 && Math.max(...counts) < 220, `octet counts ${Math.min(...counts)}–${Math.max(...counts)} (expected ~125 each)`);
  });
});
