import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Request, Response } from 'express';
import { rateLimits, TokenBuckets } from '../../../src/http/rate-limit.ts';

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

  it('forgets a key once its bucket has refilled, and answers for it as before', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 2, perSecond: 10 }, () => now);
    buckets.take('a');
    buckets.take('b');
    assert.equal(buckets.size, 2);
    now += 99;
    buckets.take('c');
    assert.equal(buckets.size, 3, 'a and b hold 1.99 tokens of 2, 99 ms after their take');
    now += 1;
    buckets.take('d');
    assert.equal(buckets.size, 2, 'a and b refilled and were dropped; c and d are held');
    assert.deepEqual([buckets.peek('a'), buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0, 1], 'a dropped key starts full again');
  });

  it('keeps a drained bucket until it refills, however many keys come after it', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 1, perSecond: 1 }, () => now);
    buckets.take('drained');
    for (let i = 0; i < 100; i += 1) {
      now += 5;
      buckets.take(`k${i}`);
    }
    assert.equal(buckets.peek('drained'), 1, 'still 0.5 s from a token');
    assert.equal(buckets.take('drained'), 1);
    now += 2_000;
    buckets.take('late');
    buckets.take('later');
    assert.ok(buckets.size < 100, `refilled buckets were dropped (${buckets.size} held)`);
  });
});

describe('rateLimits.sourceMayStartCostlyWork', () => {
  it('says whether the source has a costly request left, without spending it', () => {
    let now = 0;
    const limits = rateLimits(
      { costlyPerSource: { capacity: 2, perSecond: 1 }, costlyPerCaller: { capacity: 100, perSecond: 100 }, authFailuresPerSource: { capacity: 5, perSecond: 1 } },
      () => now,
    );
    const request = (address: string) => ({ method: 'POST', path: '/v1/certificates', socket: { remoteAddress: address } }) as unknown as Request;
    const response = () => ({ locals: {}, setHeader: () => undefined, status: () => ({ type: () => ({ send: () => undefined }) }) }) as unknown as Response;
    const pass = (address: string) => {
      let passed = false;
      limits.afterAuthentication(request(address), response(), () => {
        passed = true;
      });
      return passed;
    };
    for (let asked = 0; asked < 5; asked += 1) assert.equal(limits.sourceMayStartCostlyWork(request('10.0.0.1')), true, 'asking spends nothing');
    assert.deepEqual([pass('10.0.0.1'), pass('10.0.0.1')], [true, true]);
    assert.equal(limits.sourceMayStartCostlyWork(request('10.0.0.1')), false, 'the budget is spent');
    assert.equal(limits.sourceMayStartCostlyWork(request('10.0.0.2')), true, 'sources are independent');
    now += 1_000;
    assert.equal(limits.sourceMayStartCostlyWork(request('10.0.0.1')), true, 'refilled');
  });
});
