import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { pino } from 'pino';
import type { InventoryService } from '../../../src/app/inventory.service.ts';
import type { IssuanceService, IssueOptions, IssuedCertificate } from '../../../src/app/issuance.service.ts';
import { DomainError } from '../../../src/domain/errors.ts';
import { errorHandler } from '../../../src/http/error-handler.ts';
import { certificateRoutes } from '../../../src/http/routes/certificates.routes.ts';

function certificate(serialHex: string): IssuedCertificate {
  const now = new Date('2026-11-30T12:00:00Z');
  return { serialHex, notBefore: now, notAfter: now, profile: 'peer', serviceName: 'svc', certificatePem: `leaf ${serialHex}\n`, chainPem: 'chain\n' };
}

/*
 * The issuance route renders its answer while the record commits (`prepareAnswer`) and sends it
 * only once `issue` has returned, and only if it is the certificate `issue` returned.
 */
describe('the answer to an issuance, prepared while it commits', () => {
  let baseUrl: string;
  let server: ReturnType<express.Express['listen']>;
  /** What the fake issuance does with `prepareAnswer` before it returns or throws. */
  let issue: (prepareAnswer: NonNullable<IssueOptions['prepareAnswer']>) => IssuedCertificate;

  before(async () => {
    const issuance = {
      async issue(_context: unknown, _request: unknown, { prepareAnswer }: IssueOptions = {}): Promise<IssuedCertificate> {
        assert.ok(prepareAnswer, 'the route offers to prepare its answer');
        return issue(prepareAnswer);
      },
    } as unknown as IssuanceService;
    const app = express();
    app.use(express.json());
    app.use(certificateRoutes(issuance, {} as InventoryService));
    app.use(errorHandler(pino({ level: 'silent' })));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (accept = 'application/json') =>
    fetch(`${baseUrl}/v1/certificates`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ profile: 'peer' }) });

  it('sends what was prepared for the certificate returned, the last one prepared, as JSON or as the PEM chain', async () => {
    for (const [accept, contentType] of [
      ['application/json', 'application/json; charset=utf-8'],
      ['application/pem-certificate-chain', 'application/pem-certificate-chain; charset=utf-8'],
    ] as const) {
      issue = (prepare) => {
        prepare(certificate('0a'));
        const committed = certificate('0b');
        prepare(committed);
        // Changed once prepared: the answer shows whether it was rendered again.
        committed.certificatePem = 'changed after preparing\n';
        return committed;
      };
      const response = await post(accept);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('location'), '/v1/certificates/0b');
      assert.equal(response.headers.get('content-type'), contentType);
      const body = await response.text();
      assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(body)));
      const prepared = certificate('0b');
      if (accept === 'application/json') {
        const json = JSON.parse(body) as { serial: string; certificate: string; chain: string };
        assert.deepEqual([json.serial, json.certificate, json.chain], ['0b', prepared.certificatePem, prepared.chainPem]);
      } else {
        assert.equal(body, prepared.certificatePem + prepared.chainPem);
      }
    }
  });

  it('renders anew a certificate returned that is not the one prepared', async () => {
    issue = (prepare) => {
      prepare(certificate('0c'));
      return certificate('0d');
    };
    const response = await post();
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), '/v1/certificates/0d');
    assert.equal(((await response.json()) as { serial: string }).serial, '0d');
  });

  it('sends nothing prepared when issuance then refuses', async () => {
    issue = (prepare) => {
      prepare(certificate('0e'));
      throw new DomainError('unauthorized', 'the bootstrap token is invalid, expired, revoked or already used');
    };
    const response = await post();
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('location'), null);
    assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.doesNotMatch(await response.text(), /0e/);
  });
});
