import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitForDatabase } from '../../../src/storage/wait-for-database.ts';
import { freePort } from '../../support/free-port.ts';

/** Time that passes only when the code under test sleeps. */
function fakeTime() {
  let now = 1_000_000;
  const retries: { attempt: number; delayMs: number; error: Error }[] = [];
  return {
    retries,
    elapsed: () => now - 1_000_000,
    options: (timeoutSeconds: number) => ({
      timeoutSeconds,
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
      },
      onRetry: (attempt: number, delayMs: number, error: Error) => retries.push({ attempt, delayMs, error }),
    }),
  };
}

describe('waitForDatabase against a closed port', () => {
  const cases: { timeoutSeconds: number; delays: number[] }[] = [
    // 250, 500, 1000, then what is left of the 2 s budget.
    { timeoutSeconds: 2, delays: [250, 500, 1000, 250] },
    // Doubling up to the 5 s cap, then the rest of the 30 s budget.
    { timeoutSeconds: 30, delays: [250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 2250] },
  ];
  for (const { timeoutSeconds, delays } of cases) {
    it(`retries with growing, capped delays for ${timeoutSeconds}s, then names the server`, async () => {
      const port = await freePort();
      const time = fakeTime();
      await assert.rejects(
        waitForDatabase(`postgresql://trustroot:secret@127.0.0.1:${port}/inventory`, time.options(timeoutSeconds)),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /cannot reach PostgreSQL/);
          assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
          assert.ok(error.message.includes(`after ${timeoutSeconds}s`), error.message);
          assert.equal(error.message.includes('secret'), false, 'the password is not in the message');
          return true;
        },
      );
      assert.deepEqual(time.retries.map((retry) => retry.delayMs), delays);
      assert.deepEqual(time.retries.map((retry) => retry.attempt), delays.map((_, index) => index + 1));
      assert.ok(time.retries.every((retry) => retry.delayMs <= 5000));
      assert.equal(time.elapsed(), timeoutSeconds * 1000, 'waits exactly its budget');
      for (const retry of time.retries) {
        assert.match(`${(retry.error as NodeJS.ErrnoException).code} ${retry.error.message}`, /ECONNREFUSED/);
      }
    });
  }

  it('gives up at once when the budget is already spent', async () => {
    const port = await freePort();
    const time = fakeTime();
    await assert.rejects(
      waitForDatabase(`postgresql://u@127.0.0.1:${port}/db`, time.options(0)),
      /cannot reach PostgreSQL at 127\.0\.0\.1:\d+\/db after 0s/,
    );
    assert.deepEqual(time.retries, []);
    assert.equal(time.elapsed(), 0);
  });
});
