import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBuckets } from '../../../src/http/rate-limit.ts';

describe('TokenBuckets', () => {
  it('allows the burst, then refills at the rate', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 3, perSecond: 0.5 }, () => now);
    assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0]);
    assert.equal(buckets.take('a'), 2, 'one token needs 2 s at 0.5/s');
    assert.equal(buckets.take('b'), 0, 'keys are independent');
    now += 1_000;
    assert.equal(buckets.peek('a'), 1);
    now += 1_000;
    assert.equal(buckets.take('a'), 0);
    assert.equal(buckets.take('a'), 2);
  });

  it('never refills above the capacity', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 2, perSecond: 10 }, () => now);
    buckets.take('a');
    now += 3_600_000;
    assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a') > 0], [0, 0, true]);
  });
});
