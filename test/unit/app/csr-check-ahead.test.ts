import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CsrCheckAhead } from '../../../src/app/csr-check-ahead.ts';
import { generateKeyAndCsr } from '../../../src/client/generate-key-and-csr.ts';
import { parseCsr } from '../../../src/domain/csr/parse-csr.ts';
import { DomainError } from '../../../src/domain/errors.ts';

/** The CSR with one octet of its signature changed: well-formed, but its signature does not verify. */
function withBadSignature(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}

describe('CsrCheckAhead', () => {
  it('hands the check it started ahead to whoever asks for the same text, and checks it once', async () => {
    const { csrPem: csr } = await generateKeyAndCsr('p256', { sans: ['ahead.svc.internal'] });
    const check = new CsrCheckAhead(csr);
    assert.equal(check.started, false);
    const startedAhead = check.start();
    assert.equal(check.started, true);
    assert.equal(check.start(), startedAhead, 'a second start is the same check');
    assert.equal(check.resultFor(csr), startedAhead);
    assert.deepEqual(await startedAhead, await parseCsr(csr), 'the same result as checking it when asked');
  });

  it('starts the check when asked for it first', async () => {
    const { csrPem: csr } = await generateKeyAndCsr('p256', { sans: ['late.svc.internal'] });
    const check = new CsrCheckAhead(csr);
    const result = check.resultFor(csr);
    assert.equal(check.started, true);
    assert.equal(check.start(), result);
  });

  it('checks a different text anew rather than answer with the check of another', async () => {
    const first = await generateKeyAndCsr('p256', { sans: ['first.svc.internal'] });
    const second = await generateKeyAndCsr('p256', { sans: ['second.svc.internal'] });
    const check = new CsrCheckAhead(first.csrPem);
    void check.start();
    const parsed = await check.resultFor(second.csrPem);
    assert.deepEqual(parsed.sans.dnsNames, ['second.svc.internal']);
    assert.equal(parsed.spkiSha256, (await parseCsr(second.csrPem)).spkiSha256);
  });

  it('gives a refused CSR the refusal parseCsr gives, and only to whoever asks', async () => {
    const { csrPem: csr } = await generateKeyAndCsr('p256', { sans: ['refused.svc.internal'] });
    const bad = withBadSignature(csr);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const neverAsked = new CsrCheckAhead(bad);
      void neverAsked.start();
      const asked = new CsrCheckAhead(bad);
      void asked.start();
      const expected = await parseCsr(bad).then(
        () => assert.fail('the CSR should be refused'),
        (error: unknown) => error,
      );
      assert.ok(expected instanceof DomainError && expected.kind === 'invalid_csr');
      await assert.rejects(asked.resultFor(bad), (error: unknown) => error instanceof DomainError && error.kind === 'invalid_csr' && error.detail === expected.detail);
      // Unhandled rejections are reported after the microtask queue drains; give them two turns.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, [], 'a refusal nobody asked for is not an unhandled rejection');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
