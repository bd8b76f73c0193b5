import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchedLookup } from '../../../src/storage/batched-lookup.ts';

/** A batch reader whose batches finish only when the test says so; it knows the even numbers. */
function controlledReads() {
  const batches: { keys: number[]; finish: () => void; fail: (error: Error) => void }[] = [];
  const read = (keys: number[]) =>
    new Promise<Map<number, string>>((resolve, reject) => {
      batches.push({
        keys,
        finish: () => resolve(new Map(keys.filter((key) => key % 2 === 0).map((key) => [key, `row ${key}`]))),
        fail: reject,
      });
    });
  return { batches, read };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchedLookup', () => {
  it('reads a lone key at once, and the keys that arrive meanwhile together in the next batch', async () => {
    const { batches, read } = controlledReads();
    const lookup = new BatchedLookup(read, { maxBatchSize: 3, maxConcurrentBatches: 1 });
    const first = lookup.get(2);
    assert.deepEqual(batches.map((b) => b.keys), [[2]], 'no waiting for company');
    const later = [4, 5, 6, 8].map((key) => lookup.get(key));
    assert.equal(batches.length, 1, 'one batch in flight at most');
    batches[0]?.finish();
    assert.equal(await first, 'row 2');
    await settle();
    assert.deepEqual(batches.map((b) => b.keys), [[2], [4, 5, 6]], 'the waiting keys go together, up to the batch size');
    batches[1]?.finish();
    await settle();
    assert.deepEqual(batches[2]?.keys, [8]);
    batches[2]?.finish();
    assert.deepEqual(await Promise.all(later), ['row 4', undefined, 'row 6', 'row 8'], 'a key not found reads as undefined');
  });

  it('reads a key asked for twice in one batch once, and answers both', async () => {
    const { batches, read } = controlledReads();
    const lookup = new BatchedLookup(read, { maxBatchSize: 8, maxConcurrentBatches: 1 });
    const blocker = lookup.get(0);
    const twice = Promise.all([lookup.get(4), lookup.get(4), lookup.get(7)]);
    batches[0]?.finish();
    await blocker;
    await settle();
    assert.deepEqual(batches[1]?.keys, [4, 7]);
    batches[1]?.finish();
    assert.deepEqual(await twice, ['row 4', 'row 4', undefined]);
  });

  it('keeps up to maxConcurrentBatches in flight', async () => {
    const { batches, read } = controlledReads();
    const lookup = new BatchedLookup(read, { maxBatchSize: 8, maxConcurrentBatches: 2 });
    const answers = [lookup.get(2), lookup.get(4), lookup.get(6), lookup.get(8)];
    assert.deepEqual(batches.map((b) => b.keys), [[2], [4]], 'two lone reads at once, the rest wait');
    batches[1]?.finish();
    await settle();
    assert.deepEqual(batches.map((b) => b.keys), [[2], [4], [6, 8]], 'a finished batch frees its slot for the waiting keys');
    batches[0]?.finish();
    batches[2]?.finish();
    assert.deepEqual(await Promise.all(answers), ['row 2', 'row 4', 'row 6', 'row 8']);
  });

  it('fails every lookup of a failed batch with its error, and reads the next batch as usual', async () => {
    const { batches, read } = controlledReads();
    const lookup = new BatchedLookup(read, { maxBatchSize: 8, maxConcurrentBatches: 1 });
    const blocker = lookup.get(0);
    const failed = Promise.allSettled([lookup.get(2), lookup.get(4)]);
    const outage = new Error('connection refused');
    batches[0]?.fail(outage);
    await assert.rejects(blocker, outage);
    await settle();
    const after = lookup.get(6);
    batches[1]?.fail(outage);
    assert.deepEqual(
      (await failed).map((r) => (r.status === 'rejected' ? r.reason : r.value)),
      [outage, outage],
    );
    await settle();
    assert.deepEqual(batches[2]?.keys, [6]);
    batches[2]?.finish();
    assert.equal(await after, 'row 6');
  });
});
