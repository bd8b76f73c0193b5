import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRenewal, RETRY_INITIAL_DELAY_MS, RETRY_MAX_DELAY_MS, type RenewalState } from '../../../src/client/renewal-schedule.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

/** A 24-hour certificate issued at T0, seen `elapsed` ms later with `failures` failed attempts. */
function state(elapsed: number, failures = 0, lifetime = 24 * HOUR): RenewalState {
  return { notBefore: new Date(T0), notAfter: new Date(T0 + lifetime), now: new Date(T0 + elapsed), failures };
}

const fixed = (value: number) => () => value;

describe('planRenewal', () => {
  it('renews at two thirds of the lifetime when the jitter draws 0', () => {
    const plan = planRenewal(state(HOUR), fixed(0));
    assert.equal(plan.at.getTime(), T0 + 16 * HOUR);
    assert.equal(plan.urgency, 'scheduled');
    assert.equal(plan.remainingMs, 23 * HOUR);
  });

  it('moves the first attempt earlier, never later, by up to 10 % of the time before the renewal point', () => {
    const latest = planRenewal(state(0), fixed(0)).at.getTime();
    const earliest = planRenewal(state(0), fixed(0.999_999)).at.getTime();
    assert.equal(latest, T0 + 16 * HOUR);
    assert.ok(Math.abs(earliest - (T0 + 16 * HOUR - 1.6 * HOUR)) < 1_000, new Date(earliest).toISOString());
    for (let i = 0; i < 200; i += 1) {
      const at = planRenewal(state(0), Math.random).at.getTime();
      assert.ok(at >= earliest && at <= latest);
    }
  });

  it('spreads a fleet issued together: 100 draws give many distinct times', () => {
    const times = new Set(Array.from({ length: 100 }, () => planRenewal(state(0), Math.random).at.getTime()));
    assert.ok(times.size > 90);
  });

  it('renews at once when the renewal point has passed', () => {
    const plan = planRenewal(state(17 * HOUR), fixed(0.5));
    assert.equal(plan.at.getTime(), T0 + 17 * HOUR);
    assert.equal(plan.urgency, 'scheduled');
  });

  it('honours renewBeforeMs instead of a third of the lifetime', () => {
    const plan = planRenewal(state(0), fixed(0), { renewBeforeMs: 2 * HOUR });
    assert.equal(plan.at.getTime(), T0 + 22 * HOUR);
    const tooLong = planRenewal(state(HOUR), fixed(0), { renewBeforeMs: 48 * HOUR });
    assert.equal(tooLong.at.getTime(), T0 + HOUR, 'a renewBefore longer than the lifetime means now');
  });

  const retries: { failures: number; nominal: number }[] = [
    { failures: 1, nominal: RETRY_INITIAL_DELAY_MS },
    { failures: 2, nominal: 2 * RETRY_INITIAL_DELAY_MS },
    { failures: 3, nominal: 4 * RETRY_INITIAL_DELAY_MS },
    { failures: 6, nominal: 32 * RETRY_INITIAL_DELAY_MS },
    { failures: 7, nominal: RETRY_MAX_DELAY_MS },
    { failures: 10, nominal: RETRY_MAX_DELAY_MS },
    { failures: 1_000, nominal: RETRY_MAX_DELAY_MS },
  ];
  for (const { failures, nominal } of retries) {
    it(`after ${failures} failure(s) retries within [${nominal / 2000}s, ${nominal / 1000}s]`, () => {
      const now = 16 * HOUR;
      const low = planRenewal(state(now, failures), fixed(0));
      const high = planRenewal(state(now, failures), fixed(0.999_999));
      assert.equal(low.at.getTime(), T0 + now + nominal / 2);
      assert.ok(Math.abs(high.at.getTime() - (T0 + now + nominal)) <= 1);
      assert.equal(low.urgency, 'retrying');
    });
  }

  it('retries more often as expiry nears: never more than a quarter of the time left', () => {
    const now = 24 * HOUR - 60_000;
    const plan = planRenewal(state(now, 20), fixed(0.999_999));
    assert.ok(plan.at.getTime() - (T0 + now) <= 15_000, `${plan.at.getTime() - (T0 + now)} ms`);
    assert.ok(plan.at.getTime() - (T0 + now) >= 1_000, 'but at least a second apart');
    assert.equal(plan.urgency, 'critical');
  });

  it('is critical once less than half of the renewal window is left, scheduled or not', () => {
    assert.equal(planRenewal(state(20 * HOUR - 1), fixed(0)).urgency, 'scheduled');
    assert.equal(planRenewal(state(20 * HOUR), fixed(0)).urgency, 'critical');
    assert.equal(planRenewal(state(21 * HOUR, 3), fixed(0)).urgency, 'critical');
  });

  it('is expired at notAfter and after it', () => {
    for (const elapsed of [24 * HOUR, 25 * HOUR]) {
      const plan = planRenewal(state(elapsed, 5), fixed(0.5));
      assert.equal(plan.urgency, 'expired');
      assert.ok(plan.remainingMs <= 0);
    }
  });

  it('never plans an attempt after notAfter', () => {
    const now = 24 * HOUR - 500;
    assert.ok(planRenewal(state(now, 1), fixed(0.999)).at.getTime() <= T0 + 24 * HOUR);
  });

  it('handles short certificates (a minute) with the same rules', () => {
    const plan = planRenewal(state(0, 0, 60_000), fixed(0));
    assert.equal(plan.at.getTime(), T0 + 40_000);
  });
});
