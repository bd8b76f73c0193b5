import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroupCommitQueue, type ItemOutcome } from '../../../src/storage/group-commit-queue.ts';

/** A commit function whose groups finish only when the test says so. */
function controlledCommits() {
  const groups: { items: number[]; finish: () => void; fail: (error: Error) => void }[] = [];
  const commit = (items: number[]) =>
    new Promise<ItemOutcome<number>[]>((resolve, reject) => {
      groups.push({
        items,
        finish: () => resolve(items.map((item) => (item < 0 ? { ok: false, error: new Error(`refused ${item}`) } : { ok: true, value: item * 10 }))),
        fail: reject,
      });
    });
  return { groups, commit };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommitQueue', () => {
  it('writes a lone item at once, and groups the items that arrive while a group is in flight', async () => {
    const { groups, commit } = controlledCommits();
    const queue = new GroupCommitQueue(commit, { maxGroupSize: 3, maxConcurrentGroups: 1 });
    const first = queue.submit(1);
    assert.deepEqual(groups.map((g) => g.items), [[1]], 'no waiting for company');
    const later = [2, 3, 4, 5].map((n) => queue.submit(n));
    assert.equal(groups.length, 1, 'one group in flight at most');
    groups[0]?.finish();
    assert.equal(await first, 10);
    await settle();
    assert.deepEqual(groups.map((g) => g.items), [[1], [2, 3, 4]], 'the waiting items go together, up to the group size');
    groups[1]?.finish();
    await settle();
    assert.deepEqual(groups[2]?.items, [5]);
    groups[2]?.finish();
    assert.deepEqual(await Promise.all(later), [20, 30, 40, 50]);
  });

  it('gives each item its own outcome within a group', async () => {
    const { groups, commit } = controlledCommits();
    const queue = new GroupCommitQueue(commit, { maxGroupSize: 8, maxConcurrentGroups: 1 });
    const blocker = queue.submit(0);
    const results = Promise.allSettled([queue.submit(1), queue.submit(-2), queue.submit(3)]);
    groups[0]?.finish();
    await blocker;
    await settle();
    groups[1]?.finish();
    assert.deepEqual(
      (await results).map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
  });

  it('retries each item of a failed group alone, one at a time', async () => {
    const { groups, commit } = controlledCommits();
    const queue = new GroupCommitQueue(commit, { maxGroupSize: 8, maxConcurrentGroups: 1 });
    const blocker = queue.submit(0);
    const results = Promise.allSettled([queue.submit(1), queue.submit(2)]);
    groups[0]?.finish();
    await blocker;
    await settle();
    groups[1]?.fail(new Error('the transaction rolled back'));
    await settle();
    assert.deepEqual(groups[2]?.items, [1]);
    assert.equal(groups.length, 3, 'the second retry waits for the first');
    groups[2]?.fail(new Error('item 1 is bad'));
    await settle();
    assert.deepEqual(groups[3]?.items, [2]);
    groups[3]?.finish();
    const settled = await results;
    assert.equal(settled[0]?.status, 'rejected');
    assert.match(String((settled[0] as PromiseRejectedResult).reason), /item 1 is bad/);
    assert.deepEqual(settled[1], { status: 'fulfilled', value: 20 });
  });

  it('runs up to maxConcurrentGroups groups at once', async () => {
    const { groups, commit } = controlledCommits();
    const queue = new GroupCommitQueue(commit, { maxGroupSize: 2, maxConcurrentGroups: 2 });
    const all = [1, 2, 3, 4, 5].map((n) => queue.submit(n));
    assert.deepEqual(groups.map((g) => g.items), [[1], [2]], 'two groups in flight; 3, 4 and 5 wait');
    groups[0]?.finish();
    groups[1]?.finish();
    await settle();
    assert.deepEqual(groups.map((g) => g.items).slice(2), [[3, 4], [5]]);
    groups[2]?.finish();
    groups[3]?.finish();
    assert.deepEqual(await Promise.all(all), [10, 20, 30, 40, 50]);
  });

  it('fails the whole group at once when the failure is not an item\'s (worthRetryingAlone says no)', async () => {
    const { groups, commit } = controlledCommits();
    const queue = new GroupCommitQueue(commit, { maxGroupSize: 8, maxConcurrentGroups: 1, worthRetryingAlone: (error) => !String(error).includes('unreachable') });
    const blocker = queue.submit(0);
    const results = Promise.allSettled([queue.submit(1), queue.submit(2), queue.submit(3)]);
    groups[0]?.finish();
    await blocker;
    await settle();
    groups[1]?.fail(new Error('the database is unreachable'));
    const settled = await results;
    assert.deepEqual(
      settled.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.equal(groups.length, 2, 'no item was retried alone');
  });
});
