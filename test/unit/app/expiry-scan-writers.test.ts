import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitEvenly } from '../../../src/app/expiry-scan.service.ts';

describe("the expiry scan's split of a batch among its writers", () => {
  it('keeps the order, sizes differ by one at most, and no writer gets an empty part', () => {
    assert.deepEqual(splitEvenly([1, 2, 3, 4, 5], 2), [[1, 2, 3], [4, 5]]);
    assert.deepEqual(splitEvenly([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
    assert.deepEqual(splitEvenly([1, 2, 3, 4, 5, 6, 7], 3), [[1, 2, 3], [4, 5], [6, 7]]);
    assert.deepEqual(splitEvenly([1], 2), [[1]]);
    assert.deepEqual(splitEvenly([], 2), []);
  });
});
