import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from '../../../../src/domain/lifecycle/webhook-signature.ts';

const SECRET = 'whsec_test_0123456789';
const BODY = '{"id":"evt_1","type":"certificate.expiring"}';
const T = 1_900_000_000;

/** The expected MAC, computed independently of the module under test. */
function mac(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

describe('signWebhook', () => {
  it('names the header Trustroot-Signature', () => {
    assert.equal(SIGNATURE_HEADER, 'Trustroot-Signature');
  });

  const cases: { name: string; secret: string; t: number; body: string }[] = [
    { name: 'a JSON body', secret: SECRET, t: T, body: BODY },
    { name: 'an empty body', secret: SECRET, t: T, body: '' },
    { name: 'timestamp zero', secret: SECRET, t: 0, body: BODY },
    { name: 'non-ASCII body and secret', secret: 'clé-secrète', t: T, body: '{"cn":"größe.example"}' },
  ];
  for (const { name, secret, t, body } of cases) {
    it(`gives t=<seconds>,v1=<hex HMAC of "t.body"> for ${name}`, () => {
      assert.equal(signWebhook(secret, t, body), `t=${t},v1=${mac(secret, t, body)}`);
    });
  }

  const refused: { name: string; secret: string; t: number }[] = [
    { name: 'an empty secret', secret: '', t: T },
    { name: 'a fractional timestamp', secret: SECRET, t: T + 0.5 },
    { name: 'a negative timestamp', secret: SECRET, t: -1 },
    { name: 'a NaN timestamp', secret: SECRET, t: Number.NaN },
  ];
  for (const { name, secret, t } of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => signWebhook(secret, t, BODY), RangeError);
    });
  }
});

describe('verifyWebhookSignature', () => {
  const good = signWebhook(SECRET, T, BODY);
  const v1 = mac(SECRET, T, BODY);
  const cases: { name: string; secret?: string; header: string; body?: string; now?: number; tolerance?: number; expected: boolean }[] = [
    { name: 'its own signature', header: good, expected: true },
    { name: 'a signature 300 s old (default tolerance)', header: good, now: T + 300, expected: true },
    { name: 'a signature 301 s old', header: good, now: T + 301, expected: false },
    { name: 'a signature 301 s in the future', header: good, now: T - 301, expected: false },
    { name: 'a custom tolerance', header: good, now: T + 10, tolerance: 5, expected: false },
    { name: 'upper-case hex', header: `t=${T},v1=${v1.toUpperCase()}`, expected: true },
    { name: 'spaces around parts', header: `t=${T}, v1=${v1}`, expected: true },
    { name: 'an extra unknown scheme', header: `t=${T},v0=abc,v1=${v1}`, expected: true },
    { name: 'two v1 signatures during rotation, second matches', header: `t=${T},v1=${mac('old', T, BODY)},v1=${v1}`, expected: true },
    { name: 'a changed body', header: good, body: `${BODY} `, expected: false },
    { name: 'another secret', header: good, secret: 'other', expected: false },
    { name: 'an empty secret', header: good, secret: '', expected: false },
    { name: 'a timestamp moved (MAC covers it)', header: `t=${T + 1},v1=${v1}`, now: T + 1, expected: false },
    { name: 'a truncated MAC', header: `t=${T},v1=${v1.slice(0, 63)}`, expected: false },
    { name: 'a non-hex MAC', header: `t=${T},v1=${'z'.repeat(64)}`, expected: false },
    { name: 'a missing v1', header: `t=${T}`, expected: false },
    { name: 'a missing t', header: `v1=${v1}`, expected: false },
    { name: 'two timestamps', header: `t=${T},t=${T},v1=${v1}`, expected: false },
    { name: 'a non-numeric timestamp', header: `t=abc,v1=${v1}`, expected: false },
    { name: 'a negative timestamp', header: `t=-${T},v1=${v1}`, expected: false },
    { name: 'an empty header', header: '', expected: false },
    { name: 'garbage', header: 'not a signature', expected: false },
  ];
  for (const { name, secret = SECRET, header, body = BODY, now = T, tolerance, expected } of cases) {
    it(`${expected ? 'accepts' : 'rejects'} ${name}`, () => {
      assert.equal(verifyWebhookSignature(secret, header, body, now, tolerance), expected);
    });
  }
});
