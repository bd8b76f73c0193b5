import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, retryWithBackoff, type RetryPolicy, type RetryRuntime } from '../../../src/client/retry-with-backoff.ts';

const POLICY: RetryPolicy = { budgetMs: 10_000, initialDelayMs: 250, maxDelayMs: 2_000 };

/** Time that moves only when the code under test sleeps. */
function fakeRuntime(random = 0.5): RetryRuntime & { sleeps: number[]; time: number } {
  const runtime = {
    time: 0,
    sleeps: [] as number[],
    now: () => runtime.time,
    sleep: async (ms: number) => {
      runtime.sleeps.push(ms);
      runtime.time += ms;
    },
    random: () => random,
  };
  return runtime;
}

class Transient extends Error {
  constructor(readonly retryAfterMs = 0) {
    super('transient');
  }
}

const retryTransient = { retryAfter: (error: unknown) => (error instanceof Transient ? error.retryAfterMs : undefined) };

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with jitter in [d/2, d]', () => {
    const nominal = [250, 500, 1_000, 2_000, 2_000, 2_000];
    nominal.forEach((d, retry) => {
      assert.equal(backoffDelay(retry, POLICY, () => 0), d / 2);
      assert.equal(backoffDelay(retry, POLICY, () => 0.999_999), Math.round(d * 0.999_999_5));
    });
  });
});

describe('retryWithBackoff', () => {
  it('returns the first success', async () => {
    const runtime = fakeRuntime();
    let calls = 0;
    const result = await retryWithBackoff(async () => {
      calls += 1;
      if (calls < 3) throw new Transient();
      return 'ok';
    }, POLICY, retryTransient, runtime);
    assert.equal(result, 'ok');
    assert.equal(calls, 3);
    assert.deepEqual(runtime.sleeps, [188, 375]);
  });

  it('never retries an error the hook refuses (a 4xx), and does not wait', async () => {
    const runtime = fakeRuntime();
    let calls = 0;
    await assert.rejects(
      retryWithBackoff(async () => {
        calls += 1;
        throw new TypeError('refused');
      }, POLICY, retryTransient, runtime),
      TypeError,
    );
    assert.equal(calls, 1);
    assert.deepEqual(runtime.sleeps, []);
  });

  it('gives up with the last error once the budget is spent, the last wait cut to the budget', async () => {
    const runtime = fakeRuntime(0.999_999);
    let calls = 0;
    await assert.rejects(
      retryWithBackoff(async () => {
        calls += 1;
        throw new Transient();
      }, POLICY, retryTransient, runtime),
      Transient,
    );
    assert.equal(runtime.time, POLICY.budgetMs);
    assert.ok(runtime.sleeps.every((ms) => ms <= POLICY.maxDelayMs));
    assert.equal(calls, runtime.sleeps.length + 1);
  });

  it('tries exactly once with a zero budget', async () => {
    const runtime = fakeRuntime();
    let calls = 0;
    await assert.rejects(retryWithBackoff(async () => {
      calls += 1;
      throw new Transient();
    }, { ...POLICY, budgetMs: 0 }, retryTransient, runtime));
    assert.equal(calls, 1);
  });

  it('waits at least what the server asked for (Retry-After), capped at the longest delay', async () => {
    const runtime = fakeRuntime(0);
    let calls = 0;
    await retryWithBackoff(async () => {
      calls += 1;
      if (calls === 1) throw new Transient(1_500);
      if (calls === 2) throw new Transient(60_000);
      return 'ok';
    }, POLICY, retryTransient, runtime);
    assert.deepEqual(runtime.sleeps, [1_500, 2_000]);
  });

  it('reports each retry before waiting', async () => {
    const runtime = fakeRuntime();
    const seen: { attempt: number; delayMs: number }[] = [];
    let calls = 0;
    await retryWithBackoff(async () => {
      calls += 1;
      if (calls < 3) throw new Transient();
    }, POLICY, { ...retryTransient, onRetry: ({ attempt, delayMs }) => seen.push({ attempt, delayMs }) }, runtime);
    assert.deepEqual(seen, [{ attempt: 1, delayMs: 188 }, { attempt: 2, delayMs: 375 }]);
  });
});
