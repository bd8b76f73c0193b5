import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { CsrCheckAhead } from '../../../src/app/csr-check-ahead.ts';
import type { InventoryService } from '../../../src/app/inventory.service.ts';
import type { IssuanceService, IssueRequest, IssuedCertificate } from '../../../src/app/issuance.service.ts';
import { generateKeyAndCsr } from '../../../src/client/generate-key-and-csr.ts';
import { csrCheckedAhead, certificateRoutes, issuanceCsrCheckAhead } from '../../../src/http/routes/certificates.routes.ts';

/** What the fake authentication and issuance saw of one request. */
interface Seen {
  /** Whether the CSR's check had started by the time the token lookup answered. */
  startedWhileAuthenticating?: boolean;
  response?: Response;
  handedToIssuance?: CsrCheckAhead;
  spkiSha256?: string;
}

describe('issuance CSR check ahead of authentication', () => {
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
      async issue(_context: unknown, request: IssueRequest, checkedAhead?: CsrCheckAhead): Promise<IssuedCertificate> {
        seen.handedToIssuance = checkedAhead;
        if (checkedAhead && request.csr !== undefined) seen.spkiSha256 = (await checkedAhead.resultFor(request.csr)).spkiSha256;
        const now = new Date();
        return { serialHex: '01', notBefore: now, notAfter: now, profile: 'peer', serviceName: undefined, certificatePem: '', chainPem: '' };
      },
    } as unknown as IssuanceService;
    const app = express();
    app.use(express.json());
    app.use(issuanceCsrCheckAhead(() => sourceMayStartCostlyWork));
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
      if (!held) seen.startedWhileAuthenticating = csrCheckedAhead(res)?.started;
      next();
    });
    app.use(certificateRoutes(issuance, {} as InventoryService));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(() => {
    seen = {};
    sourceMayStartCostlyWork = true;
  });

  const post = (path: string, body: unknown, authorization: string | null = 'Bearer trb_token') =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization !== null ? { authorization } : {}) },
      body: JSON.stringify(body),
    });

  it('checks the CSR while the token is being looked up, and hands that check to issuance', async () => {
    const response = await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(response.status, 201);
    assert.equal(seen.startedWhileAuthenticating, true);
    assert.ok(seen.handedToIssuance, 'issuance got the check');
    assert.equal(seen.handedToIssuance, csrCheckedAhead(seen.response as Response));
    assert.equal(seen.spkiSha256, spkiSha256);
  });

  it('does not start it without a bearer token', async () => {
    await post('/v1/certificates', { csr, profile: 'peer' }, null);
    assert.equal(csrCheckedAhead(seen.response as Response), undefined);
    assert.equal(seen.handedToIssuance, undefined);
  });

  it('does not start it for a source the rate limit is about to refuse', async () => {
    sourceMayStartCostlyWork = false;
    await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(csrCheckedAhead(seen.response as Response), undefined);
  });

  it('does not start it for another route or a body without a CSR text', async () => {
    await post('/v1/certificates/renew', { csr });
    assert.equal(csrCheckedAhead(seen.response as Response), undefined);
    await post('/v1/certificates', { csr: 42, profile: 'peer' });
    assert.equal(csrCheckedAhead(seen.response as Response), undefined);
    await post('/v1/certificates', { generateKey: 'p256', profile: 'peer', sans: ['a.svc.internal'] });
    assert.equal(csrCheckedAhead(seen.response as Response), undefined);
  });

  it('does not start it while another issuance is in progress, and does again once that one is answered', async () => {
    let answerHeldLookup = () => {};
    heldLookup = new Promise<void>((resolve) => {
      answerHeldLookup = resolve;
    });
    const inProgress = post('/v1/certificates', { csr, profile: 'peer' }, 'Bearer held');
    // Until the first request is known to be in progress: its lookup waits on `heldLookup`.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const meanwhile = await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(meanwhile.status, 201);
    assert.equal(seen.startedWhileAuthenticating, undefined, 'no check ahead');
    assert.equal(seen.handedToIssuance, undefined);
    answerHeldLookup();
    assert.equal((await inProgress).status, 201);
    seen = {};
    await post('/v1/certificates', { csr, profile: 'peer' });
    assert.equal(seen.startedWhileAuthenticating, true, 'alone again: checked ahead');
  });

  it('never starts it for a request answered before the lookup (a refusal at once)', async () => {
    const response = await post('/v1/certificates', { csr, profile: 'peer' }, 'Bearer refused-at-once');
    assert.equal(response.status, 401);
    await new Promise((resolve) => setImmediate(resolve));
    const check = csrCheckedAhead(seen.response as Response);
    assert.ok(check, 'the check was set up');
    assert.equal(check.started, false);
  });
});
