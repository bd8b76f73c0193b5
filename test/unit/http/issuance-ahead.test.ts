import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CsrCheckAhead } from '../../../src/app/csr-check-ahead.ts';
import { IssuanceAhead } from '../../../src/app/issuance-ahead.ts';
import type { InventoryService } from '../../../src/app/inventory.service.ts';
import type { IssuanceService, IssueOptions, IssueRequest, IssuedCertificate } from '../../../src/app/issuance.service.ts';
import { generateKeyAndCsr } from '../../../src/client/generate-key-and-csr.ts';
import { certificateRoutes, issuanceAhead, startedAheadFor } from '../../../src/http/routes/certificates.routes.ts';

/** What the fake authentication and issuance saw of one request. */
interface Seen {
  /** Whether the CSR's check had started by the time the token lookup answered. */
  startedWhileAuthenticating?: boolean;
  response?: Response;
  /** The bearer token `startAhead` was given. */
  startedWith?: string;
  handedToIssuance?: IssuanceAhead;
  spkiSha256?: string;
  /** Calls of the transaction's `abandon`. */
  abandoned: number;
}

/*
 * The HTTP side of starting a lone issuance ahead of its authentication: when it starts, what it
 * hands to issuance, and that a request answered before issuance releases its transaction. What
 * is started (the CSR check, the transaction on PostgreSQL) is tested in the app and storage tests.
 */
describe('issuance started ahead of authentication', () => {
  let baseUrl: string;
  let server: ReturnType<express.Express['listen']>;
  let sourceMayStartCostlyWork = true;
  let seen: Seen;
  let csr: string;
  /** The token lookup of requests sent with `Bearer held`: answered when the test says so. */
  let heldLookup: Promise<void>;
  let spkiSha256: string;

  before(async () => {
    ({ csrPem: csr, spkiSha256 } = await generateKeyAndCsr('p256', { sans: ['ahead.svc.internal'] }));
    const issuance = {
      startAhead(csrText: string, bearerToken: string): IssuanceAhead {
        seen.startedWith = bearerToken;
        const transaction = {
          commit: () => Promise.reject(new Error('not committed in these tests')),
          abandon: async () => {
            seen.abandoned += 1;
          },
        };
        return new IssuanceAhead(new CsrCheckAhead(csrText), { claim: { bootstrapTokenHash: undefined, now: new Date(), keySpkiSha256: '' }, transaction });
      },
      async issue(_context: unknown, request: IssueRequest, { ahead }: IssueOptions = {}): Promise<IssuedCertificate> {
        seen.handedToIssuance = ahead;
        if (ahead && request.csr !== undefined) seen.spkiSha256 = (await ahead.csrCheck.resultFor(request.csr)).spkiSha256;
        // As issuance does: the taken transaction is ended by the taker.
        await ahead?.takeTransaction()?.transaction.abandon();
        const now = new Date();
        return { serialHex: '01', notBefore: now, notAfter: now, profile: 'peer', serviceName: undefined, certificatePem: '', chainPem: '' };
      },
    } as unknown as IssuanceService;
    const app = express();
    app.use(express.json());
    app.use(issuanceAhead((csrText, bearerToken) => issuance.startAhead(csrText, bearerToken), () => sourceMayStartCostlyWork));
    // Stands in for `authentication`: a refusal it can give at once, else a token lookup that
    // answers a few milliseconds later, as PostgreSQL would.
    app.use(async (req: Request, res: Response, next: NextFunction) => {
      const held = req.get('authorization') === 'Bearer held';
      if (!held) seen.response = res;
      if (req.get('authorization') === 'Bearer refused-at-once') {
        res.status(401).end();
        return;
      }
      await (held ? heldLookup : new Promise((resolve) => setTimeout(resolve, 5)));
      if (!held) seen.startedWhileAuthenticating = startedAheadFor(res)?.csrCheck.started;
      next();
    });
    app.use(certificateRoutes(issuance, {} as InventoryService));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    seen = { abandoned: 0 };
    sourceMayStartCostlyWork = true;
  });

  const post = (path: string, body: unknown, authorization: string | null = 'Bearer trb_token') =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization !== null ? { authorization } : {}) },
      body: JSON.stringify(body),
    });

  it('starts it with the bearer token, checks the CSR while the token is being looked up, and hands both to issuance', async () => {
    const response = await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(response.status, 201);
    assert.equal(seen.startedWith, 'trb_token');
    assert.equal(seen.startedWhileAuthenticating, true);
    assert.ok(seen.handedToIssuance, 'issuance got what was started');
    assert.equal(seen.handedToIssuance, startedAheadFor(seen.response as Response));
    assert.equal(seen.spkiSha256, spkiSha256);
    assert.equal(seen.abandoned, 1, 'ended once, by issuance, not again as the answer went out');
  });

  it('does not start it without a bearer token, or with an Authorization header of another form', async () => {
    await post('/v1/certificates', { csr, profile: 'peer' }, null);
    assert.equal(startedAheadFor(seen.response as Response), undefined);
    assert.equal(seen.handedToIssuance, undefined);
    await post('/v1/certificates', { csr, profile: 'peer' }, 'Basic dXNlcjpwYXNz');
    assert.equal(startedAheadFor(seen.response as Response), undefined);
    assert.equal(seen.startedWith, undefined);
  });

  it('does not start it for a source the rate limit is about to refuse', async () => {
    sourceMayStartCostlyWork = false;
    await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(startedAheadFor(seen.response as Response), undefined);
  });

  it('does not start it for another route or a body without a CSR text', async () => {
    await post('/v1/certificates/renew', { csr });
    assert.equal(startedAheadFor(seen.response as Response), undefined);
    await post('/v1/certificates', { csr: 42, profile: 'peer' });
    assert.equal(startedAheadFor(seen.response as Response), undefined);
    await post('/v1/certificates', { generateKey: 'p256', profile: 'peer', sans: ['a.svc.internal'] });
    assert.equal(startedAheadFor(seen.response as Response), undefined);
  });

  it('does not start it while another issuance is in progress, and does again once that one is answered', async () => {
    let answerHeldLookup = () => {};
    heldLookup = new Promise<void>((resolve) => {
      answerHeldLookup = resolve;
    });
    const inProgress = post('/v1/certificates', { csr, profile: 'peer' }, 'Bearer held');
    // Answered however the assertions go: a request left held keeps the server from closing,
    // and the suite would wait for its timeout instead of reporting the failure.
    try {
      // Until the first request is known to be in progress: its lookup waits on `heldLookup`.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const meanwhile = await post('/v1/certificates', { csr, profile: 'peer' });
      assert.equal(meanwhile.status, 201);
      assert.equal(seen.startedWhileAuthenticating, undefined, 'no check ahead');
      assert.equal(seen.handedToIssuance, undefined);
    } finally {
      answerHeldLookup();
    }
    assert.equal((await inProgress).status, 201);
    seen = { abandoned: 0 };
    await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(seen.startedWhileAuthenticating, true, 'alone again: checked ahead');
  });

  it('a request answered before issuance (a refusal at once) never checks its CSR, and its transaction is rolled back as the answer goes out', async () => {
    const response = await post('/v1/certificates', { csr, profile: 'peer' }, 'Bearer refused-at-once');
    assert.equal(response.status, 401);
    await new Promise((resolve) => setImmediate(resolve));
    const ahead = startedAheadFor(seen.response as Response);
    assert.ok(ahead, 'it was set up');
    assert.equal(ahead.csrCheck.started, false);
    assert.equal(seen.abandoned, 1);
    assert.equal(ahead.takeTransaction(), undefined, 'released: nothing left to take');
  });
});
