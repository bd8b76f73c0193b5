import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { httpsRequest, type HttpsResponse } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { FakeClock, startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';
import type { Problem } from '../support/http-assertions.ts';

/*
 * The refusal rule, end to end: bad input gets a 4xx application/problem+json (a stable type,
 * status = HTTP status, a caller-safe detail, the request id) and changes nothing — no
 * certificate row, no audit event, no service or token row, no bootstrap token consumed.
 * Every refused request below is wrapped in a before/after snapshot of the database.
 */

/** Row counts that a refused request must leave untouched. */
interface Snapshot {
  certificates: number;
  activeCertificates: number;
  auditEvents: number;
  services: number;
  enabledServices: number;
  apiTokens: number;
  bootstrapTokens: number;
  usedBootstrapTokens: number;
}

interface Call {
  method?: string;
  path: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** A raw Authorization header (wins over `token`). */
  authorization?: string;
  /** JSON-encoded as the body. */
  body?: unknown;
  /** Client certificate and key for mTLS. */
  cert?: string;
  key?: string;
}

interface Credential {
  csr: string;
  key: string;
}

interface IssuedDto {
  serial: string;
  certificate: string;
  chain: string;
  service?: string;
  profile: string;
}

const AML_SANS = 'DNS:aml.svc,DNS:api.aml.svc,IP:10.1.2.3,URI:spiffe://kyc.internal/ns/prod/aml/api';
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /stack/i, `a stack leaked: ${text}`);
  assert.doesNotMatch(text, /\sat\s+\S+\s+\(?[^)]*:\d+:\d+\)?/, `a stack frame leaked: ${text}`);
  assert.doesNotMatch(text, /\/work\/|node_modules|\.ts:\d+/, `a source path leaked: ${text}`);
}

function header(response: HttpsResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Asserts an RFC 9457 problem of `kind` with `status` (never a 5xx), and returns its body. */
function assertProblem(response: HttpsResponse, status: number, kind: string): Problem {
  assert.ok(response.status < 500, `a 5xx for bad input: ${response.status} ${response.text}`);
  assert.equal(response.status, status, response.text);
  assert.match(String(header(response, 'content-type')), /^application\/problem\+json/);
  assertNoStack(response.text);
  const body = JSON.parse(response.text) as Problem;
  assert.equal(body.type, `urn:trustroot:problem:${kind}`, response.text);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0, 'the problem has no detail');
  const requestId = header(response, 'x-request-id');
  assert.ok(requestId, 'x-request-id header is missing');
  assert.equal(body.requestId, requestId);
  return body;
}

/** PEM armour around DER, 64 characters a line. */
function armour(der: Buffer, label: string): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Header length and content length of the DER element at `offset`. */
function derElement(der: Buffer, offset: number): { tag: number; headerLength: number; length: number } {
  const tag = der[offset] ?? 0;
  const first = der[offset + 1] ?? 0;
  if (first < 0x80) return { tag, headerLength: 2, length: first };
  const octets = first & 0x7f;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
  return { tag, headerLength: 2 + octets, length };
}

/** The CSR with one byte of its signature BIT STRING flipped: still DER, no longer a valid signature. */
function withFlippedSignature(csrPem: string): string {
  const der = Buffer.from(pemBody(csrPem));
  const outer = derElement(der, 0);
  assert.equal(outer.tag, 0x30);
  let offset = outer.headerLength;
  const info = derElement(der, offset);
  offset += info.headerLength + info.length;
  const algorithm = derElement(der, offset);
  offset += algorithm.headerLength + algorithm.length;
  const signature = derElement(der, offset);
  assert.equal(signature.tag, 0x03, 'the third element of a CSR is the signature BIT STRING');
  const last = offset + signature.headerLength + signature.length - 1;
  assert.equal(last, der.length - 1);
  der[last] = (der[last] ?? 0) ^ 0x01;
  return armour(der, 'CERTIFICATE REQUEST');
}

describe('issuance refusals change nothing', () => {
  const clock = new FakeClock();
  let trustroot: TestTrustroot;
  let db: pg.Client;
  let rootPem: string;
  let adminToken: string;
  const apiTokens = { security: '', ci: '', auditor: '' };
  const bootstrap = { aml: '', liveness: '', renew: '', reuse: '', race: '', raceId: '', narrowed: '' };
  const csr = {
    good: { csr: '', key: '' } as Credential,
    renewal: { csr: '', key: '' } as Credential,
    sanctions: { csr: '', key: '' } as Credential,
    evilDns: '',
    evilIp: '',
    evilUri: '',
    deepDns: '',
    caTrue: '',
    keyCertSign: '',
    rsa1024: '',
    p521: '',
    secp256k1: '',
    liveness: '',
  };
  const stranger = { cert: '', key: '' };

  const call = (c: Call): Promise<HttpsResponse> => {
    const headers: Record<string, string> = {};
    const authorization = c.authorization ?? (c.token !== undefined ? `Bearer ${c.token}` : undefined);
    if (authorization !== undefined) headers.authorization = authorization;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    return httpsRequest(`${trustroot.apiUrl}${c.path}`, {
      method: c.method ?? 'POST',
      headers,
      body: c.body === undefined ? undefined : JSON.stringify(c.body),
      ca: rootPem,
      cert: c.cert,
      key: c.key,
    });
  };

  const issue = (token: string | undefined, body: Record<string, unknown>): Call => ({ path: '/v1/certificates', token, body });

  async function snapshot(): Promise<Snapshot> {
    const { rows } = await db.query<Snapshot>(`
      SELECT
        (SELECT count(*) FROM certificates)::int AS "certificates",
        (SELECT count(*) FROM certificates WHERE status = 'active')::int AS "activeCertificates",
        (SELECT count(*) FROM audit_events)::int AS "auditEvents",
        (SELECT count(*) FROM services)::int AS "services",
        (SELECT count(*) FROM services WHERE enabled)::int AS "enabledServices",
        (SELECT count(*) FROM api_tokens)::int AS "apiTokens",
        (SELECT count(*) FROM bootstrap_tokens)::int AS "bootstrapTokens",
        (SELECT count(*) FROM bootstrap_tokens WHERE used_at IS NOT NULL)::int AS "usedBootstrapTokens"
    `);
    const [row] = rows;
    assert.ok(row);
    return row;
  }

  /** Sends a request that must be refused with `status`/`kind` and must not change the database. */
  async function refused(c: Call, status: number, kind: string): Promise<Problem> {
    const before = await snapshot();
    const response = await call(c);
    const problem = assertProblem(response, status, kind);
    if (c.token !== undefined && c.token.length > 10) assert.ok(!response.text.includes(c.token), 'the problem echoes the bearer token');
    assert.deepEqual(await snapshot(), before, `a refused request (${status} ${kind}) changed the database`);
    return problem;
  }

  /** A request that must succeed (set-up), returning its JSON body. */
  async function succeeds<T>(c: Call, status = 201): Promise<T> {
    const response = await call(c);
    assert.equal(response.status, status, response.text);
    return JSON.parse(response.text) as T;
  }

  const mint = async (service: string, body: Record<string, unknown> = {}): Promise<{ id: string; token: string }> =>
    succeeds<{ id: string; token: string }>({ path: `/v1/services/${service}/bootstrap-tokens`, token: adminToken, body });

  before(async () => {
    trustroot = await startTestTrustroot({ clock });
    const response = await fetch(`${trustroot.publicUrl}/ca/root.pem`);
    assert.equal(response.status, 200);
    rootPem = await response.text();
    db = new pg.Client({ connectionString: trustroot.database.url });
    await db.connect();
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database gets an initial admin token');
    adminToken = initial;

    const files = await pemFiles({});
    try {
      const request = async (name: string, keyArgs: string[], sans: string, extra: string[] = []): Promise<Credential> => {
        const made = await openssl([
          'req', '-new', ...keyArgs, '-nodes', '-keyout', files.path(`${name}.key`), '-out', files.path(`${name}.csr`),
          '-subj', `/CN=${name}`, '-addext', `subjectAltName=${sans}`, ...extra.flatMap((e) => ['-addext', e]),
        ]);
        assert.equal(made.code, 0, made.stderr);
        return { csr: await readFile(files.path(`${name}.csr`), 'utf8'), key: await readFile(files.path(`${name}.key`), 'utf8') };
      };
      const made = await Promise.all([
        request('aml.svc', P256, AML_SANS),
        request('renewal', P256, AML_SANS),
        request('sanctions', P256, 'DNS:sanctions.svc'),
        request('evil-dns', P256, 'DNS:aml.svc,DNS:evil.example.com'),
        request('evil-ip', P256, 'DNS:aml.svc,IP:10.2.0.1'),
        request('evil-uri', P256, 'DNS:aml.svc,URI:spiffe://kyc.internal/ns/prod/other'),
        request('deep-dns', P256, 'DNS:a.b.aml.svc'),
        request('ca-true', P256, 'DNS:aml.svc', ['basicConstraints=critical,CA:TRUE']),
        request('key-cert-sign', P256, 'DNS:aml.svc', ['keyUsage=critical,keyCertSign']),
        request('rsa-1024', ['-newkey', 'rsa:1024'], 'DNS:aml.svc'),
        request('p-521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], 'DNS:aml.svc'),
        request('secp256k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], 'DNS:aml.svc'),
        request('liveness.svc', P256, 'DNS:liveness.svc'),
      ]);
      const [good, renewal, sanctions, evilDns, evilIp, evilUri, deepDns, caTrue, keyCertSign, rsa1024, p521, secp256k1, liveness] = made;
      assert.ok(good && renewal && sanctions && evilDns && evilIp && evilUri && deepDns && caTrue && keyCertSign && rsa1024 && p521 && secp256k1 && liveness);
      Object.assign(csr, {
        good,
        renewal,
        sanctions,
        evilDns: evilDns.csr,
        evilIp: evilIp.csr,
        evilUri: evilUri.csr,
        deepDns: deepDns.csr,
        caTrue: caTrue.csr,
        keyCertSign: keyCertSign.csr,
        rsa1024: rsa1024.csr,
        p521: p521.csr,
        secp256k1: secp256k1.csr,
        liveness: liveness.csr,
      });
      const self = await openssl([
        'req', '-x509', ...P256, '-nodes', '-subj', '/CN=stranger', '-days', '1',
        '-keyout', files.path('stranger.key'), '-out', files.path('stranger.pem'),
      ]);
      assert.equal(self.code, 0, self.stderr);
      stranger.cert = await readFile(files.path('stranger.pem'), 'utf8');
      stranger.key = await readFile(files.path('stranger.key'), 'utf8');
    } finally {
      await files.cleanup();
    }

    await succeeds({
      path: '/v1/services',
      token: adminToken,
      body: {
        name: 'aml-screening',
        owner: 'kyc-team',
        dnsNames: ['aml.svc', '*.aml.svc'],
        ipAddresses: ['10.1.0.0/16'],
        uris: ['spiffe://kyc.internal/ns/prod/aml/*'],
        profiles: ['peer'],
      },
    });
    await succeeds({ path: '/v1/services', token: adminToken, body: { name: 'liveness', owner: 'kyc-team', dnsNames: ['liveness.svc'], profiles: ['server'] } });
    for (const role of ['security', 'ci', 'auditor'] as const) {
      apiTokens[role] = (await succeeds<{ token: string }>({ path: '/v1/api-tokens', token: adminToken, body: { role, name: `${role}-token` } })).token;
    }
    bootstrap.aml = (await mint('aml-screening')).token;
    bootstrap.renew = (await mint('aml-screening')).token;
    bootstrap.reuse = (await mint('aml-screening')).token;
    const race = await mint('aml-screening');
    bootstrap.race = race.token;
    bootstrap.raceId = race.id;
    bootstrap.narrowed = (await mint('aml-screening', { sans: ['aml.svc'] })).token;
    bootstrap.liveness = (await mint('liveness')).token;
  });

  after(async () => {
    if (db !== undefined) await db.end();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  interface RefusalCase {
    name: string;
    request: () => Call;
    status: number;
    kind: string;
    /** The name a policy_violation must report in its `name` member. */
    offendingName?: string;
    /** What the detail must say, so that the refusal is known to come from the intended check. */
    detail?: RegExp;
    todo?: string;
  }

  function refusalTests(cases: RefusalCase[]): void {
    for (const c of cases) {
      it(`${c.name} → ${c.status} ${c.kind}`, c.todo !== undefined ? { todo: c.todo } : {}, async () => {
        const problem = await refused(c.request(), c.status, c.kind);
        if (c.offendingName !== undefined) assert.equal(problem.name, c.offendingName, JSON.stringify(problem));
        if (c.detail !== undefined) assert.match(problem.detail, c.detail);
      });
    }
  }

  const peer = (csrPem: string, extra: Record<string, unknown> = {}): Call => issue(bootstrap.aml, { csr: csrPem, profile: 'peer', ...extra });

  describe('POST /v1/certificates: CSRs that are not acceptable', () => {
    refusalTests([
      { name: 'malformed PEM', request: () => peer('this is not a PEM at all'), status: 400, kind: 'invalid_csr', detail: /not PEM/ },
      {
        name: 'characters outside base64 inside the PEM armour',
        request: () => peer('-----BEGIN CERTIFICATE REQUEST-----\n!!not*base64@@\n-----END CERTIFICATE REQUEST-----\n'),
        status: 400,
        kind: 'invalid_csr',
        detail: /malformed/,
      },
      {
        name: 'well-formed base64 of garbage inside the PEM armour',
        request: () => peer(armour(Buffer.from('hello, this is definitely not DER'), 'CERTIFICATE REQUEST')),
        status: 400,
        kind: 'invalid_csr',
        detail: /DER/,
      },
      { name: 'a certificate PEM instead of a CSR', request: () => peer(stranger.cert), status: 400, kind: 'invalid_csr', detail: /"CERTIFICATE" block/ },
      {
        name: 'a truncated CSR (armour intact, half the base64 gone)',
        request: () => {
          const lines = csr.good.csr.trim().split('\n');
          const body = lines.slice(1, -1);
          return peer([lines[0], ...body.slice(0, Math.max(1, Math.floor(body.length / 2))), lines.at(-1)].join('\n'));
        },
        status: 400,
        kind: 'invalid_csr',
        detail: /truncated/,
      },
      {
        name: 'a truncated CSR (cut mid-way, no END line)',
        request: () => peer(csr.good.csr.slice(0, Math.floor(csr.good.csr.length / 2))),
        status: 400,
        kind: 'invalid_csr',
        detail: /malformed|truncated/,
      },
      { name: 'a CSR whose signature does not verify', request: () => peer(withFlippedSignature(csr.good.csr)), status: 400, kind: 'invalid_csr', detail: /signature does not verify/ },
      { name: 'an RSA-1024 CSR', request: () => peer(csr.rsa1024), status: 400, kind: 'invalid_csr', detail: /2048 bits/ },
      { name: 'a P-521 CSR', request: () => peer(csr.p521), status: 400, kind: 'invalid_csr', detail: /P-521/ },
      { name: 'a secp256k1 CSR', request: () => peer(csr.secp256k1), status: 400, kind: 'invalid_csr', detail: /secp256k1/ },
      { name: 'a CSR asking for CA:TRUE', request: () => peer(csr.caTrue), status: 403, kind: 'policy_violation', detail: /cA=TRUE/ },
      { name: 'a CSR asking for keyCertSign', request: () => peer(csr.keyCertSign), status: 403, kind: 'policy_violation', detail: /keyCertSign/ },
    ]);
  });

  describe('POST /v1/certificates: names outside the service policy', () => {
    refusalTests([
      { name: 'CSR with DNS evil.example.com', request: () => peer(csr.evilDns), status: 403, kind: 'policy_violation', offendingName: 'evil.example.com' },
      { name: 'CSR with IP 10.2.0.1', request: () => peer(csr.evilIp), status: 403, kind: 'policy_violation', offendingName: '10.2.0.1' },
      {
        name: 'CSR with URI spiffe://kyc.internal/ns/prod/other',
        request: () => peer(csr.evilUri),
        status: 403,
        kind: 'policy_violation',
        offendingName: 'spiffe://kyc.internal/ns/prod/other',
      },
      { name: 'CSR with a.b.aml.svc (a wildcard covers one label)', request: () => peer(csr.deepDns), status: 403, kind: 'policy_violation', offendingName: 'a.b.aml.svc' },
      {
        name: 'body sans with DNS evil.example.com',
        request: () => peer(csr.good.csr, { sans: ['aml.svc', 'evil.example.com'] }),
        status: 403,
        kind: 'policy_violation',
        offendingName: 'evil.example.com',
      },
      {
        name: 'body sans with IP 10.2.0.1',
        request: () => peer(csr.good.csr, { sans: ['aml.svc', '10.2.0.1'] }),
        status: 403,
        kind: 'policy_violation',
        offendingName: '10.2.0.1',
      },
      {
        name: 'body sans with URI spiffe://kyc.internal/ns/prod/other',
        request: () => peer(csr.good.csr, { sans: ['aml.svc', 'spiffe://kyc.internal/ns/prod/other'] }),
        status: 403,
        kind: 'policy_violation',
        offendingName: 'spiffe://kyc.internal/ns/prod/other',
      },
      {
        name: 'a bootstrap token narrowed to aml.svc, CSR with more names',
        request: () => issue(bootstrap.narrowed, { csr: csr.good.csr, profile: 'peer' }),
        status: 403,
        kind: 'policy_violation',
        offendingName: 'api.aml.svc',
      },
    ]);
  });

  describe('POST /v1/certificates: malformed requests', () => {
    refusalTests([
      { name: 'an unknown profile', request: () => issue(bootstrap.aml, { csr: csr.good.csr, profile: 'no-such-profile' }), status: 400, kind: 'bad_request', detail: /unknown profile/ },
      {
        name: 'a profile the service may not use (liveness token, profile peer)',
        request: () => issue(bootstrap.liveness, { csr: csr.liveness, profile: 'peer' }),
        status: 403,
        kind: 'policy_violation',
        detail: /may not use profile peer/,
      },
      { name: 'ttl 0', request: () => peer(csr.good.csr, { ttl: 0 }), status: 400, kind: 'bad_request', detail: /ttl/ },
      { name: 'ttl -5', request: () => peer(csr.good.csr, { ttl: -5 }), status: 400, kind: 'bad_request', detail: /ttl/ },
      { name: "ttl '0s'", request: () => peer(csr.good.csr, { ttl: '0s' }), status: 400, kind: 'bad_request', detail: /ttl/ },
      { name: "ttl 'abc'", request: () => peer(csr.good.csr, { ttl: 'abc' }), status: 400, kind: 'bad_request', detail: /ttl/ },
      { name: 'both csr and generateKey', request: () => peer(csr.good.csr, { generateKey: 'ecdsa-p256' }), status: 400, kind: 'bad_request' },
      { name: 'neither csr nor generateKey', request: () => issue(bootstrap.aml, { profile: 'peer' }), status: 400, kind: 'bad_request' },
      { name: 'an unknown body field', request: () => peer(csr.good.csr, { colour: 'blue' }), status: 400, kind: 'bad_request' },
      {
        name: 'server-side key generation on profile peer',
        request: () => issue(bootstrap.aml, { generateKey: 'ecdsa-p256', profile: 'peer', sans: ['aml.svc'] }),
        status: 403,
        kind: 'forbidden',
      },
    ]);
  });

  describe('POST /v1/certificates: callers that may not issue', () => {
    refusalTests([
      {
        name: "an aml-screening bootstrap token naming service 'liveness'",
        request: () => issue(bootstrap.aml, { csr: csr.liveness, profile: 'peer', service: 'liveness' }),
        status: 403,
        kind: 'forbidden',
      },
      { name: "a garbled token 'trb_xxx'", request: () => issue('trb_xxx', { csr: csr.good.csr, profile: 'peer' }), status: 401, kind: 'unauthorized' },
      {
        name: 'a well-formed but unknown bootstrap token',
        request: () => issue(`trb_${'A'.repeat(43)}`, { csr: csr.good.csr, profile: 'peer' }),
        status: 401,
        kind: 'unauthorized',
      },
      { name: 'no Authorization header', request: () => issue(undefined, { csr: csr.good.csr, profile: 'peer' }), status: 401, kind: 'unauthorized' },
      // The CSR is checked while the token is read (csr-check-ahead.ts): who is calling still decides first.
      {
        name: 'an unknown bootstrap token with a CSR whose signature does not verify',
        request: () => issue(`trb_${'B'.repeat(43)}`, { csr: withFlippedSignature(csr.good.csr), profile: 'peer' }),
        status: 401,
        kind: 'unauthorized',
      },
      {
        name: 'a security API token with a CSR whose signature does not verify',
        request: () => issue(apiTokens.security, { csr: withFlippedSignature(csr.good.csr), profile: 'peer', service: 'aml-screening' }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'Authorization: Basic',
        request: () => ({ path: '/v1/certificates', authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, body: { csr: csr.good.csr, profile: 'peer' } }),
        status: 401,
        kind: 'unauthorized',
      },
      {
        name: 'a security API token',
        request: () => issue(apiTokens.security, { csr: csr.good.csr, profile: 'peer', service: 'aml-screening' }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'an auditor API token',
        request: () => issue(apiTokens.auditor, { csr: csr.good.csr, profile: 'peer', service: 'aml-screening' }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'a ci API token on profile peer',
        request: () => issue(apiTokens.ci, { csr: csr.good.csr, profile: 'peer', service: 'aml-screening' }),
        status: 403,
        kind: 'forbidden',
      },
      { name: 'an admin token without service on profile peer', request: () => issue(adminToken, { csr: csr.good.csr, profile: 'peer' }), status: 400, kind: 'bad_request' },
      {
        name: 'an admin token naming an unknown service',
        request: () => issue(adminToken, { csr: csr.good.csr, profile: 'peer', service: 'no-such-service' }),
        status: 404,
        kind: 'not_found',
      },
    ]);

    it('a reused bootstrap token → 401 unauthorized', async () => {
      const first = await succeeds<IssuedDto>(issue(bootstrap.reuse, { csr: csr.good.csr, profile: 'peer' }));
      assert.equal(first.service, 'aml-screening');
      await refused(issue(bootstrap.reuse, { csr: csr.good.csr, profile: 'peer' }), 401, 'unauthorized');
    });

    it('an expired bootstrap token → 401 unauthorized', async () => {
      const expiring = await mint('aml-screening', { ttl: '1s' });
      // Trustroot's own clock moves; TLS keeps real time (the clock started at real now).
      clock.advance(5_000);
      await refused(issue(expiring.token, { csr: csr.good.csr, profile: 'peer' }), 401, 'unauthorized');
    });
  });

  describe('POST /v1/certificates: one bootstrap token, twenty concurrent uses', () => {
    it('exactly one 201, nineteen 401, one certificate row, the token used once', async () => {
      const before = await snapshot();
      const responses = await Promise.all(Array.from({ length: 20 }, () => call(issue(bootstrap.race, { csr: csr.good.csr, profile: 'peer' }))));
      const created = responses.filter((r) => r.status === 201);
      const refusedOnes = responses.filter((r) => r.status !== 201);
      assert.equal(created.length, 1, responses.map((r) => `${r.status} ${r.text.slice(0, 200)}`).join('\n'));
      assert.equal(refusedOnes.length, 19);
      for (const response of refusedOnes) assertProblem(response, 401, 'unauthorized');
      const [winner] = created;
      assert.ok(winner);
      const issued = JSON.parse(winner.text) as IssuedDto;
      const afterRace = await snapshot();
      assert.deepEqual(afterRace, {
        ...before,
        certificates: before.certificates + 1,
        activeCertificates: before.activeCertificates + 1,
        auditEvents: before.auditEvents + 1,
        usedBootstrapTokens: before.usedBootstrapTokens + 1,
      });
      const { rows } = await db.query<{ used_at: Date | null; serial_hex: string | null }>(
        'SELECT b.used_at, c.serial_hex FROM bootstrap_tokens b LEFT JOIN certificates c ON c.id = b.certificate_id WHERE b.id = $1',
        [bootstrap.raceId],
      );
      assert.equal(rows.length, 1);
      assert.ok(rows[0]?.used_at, 'the token was not marked used');
      assert.equal(rows[0]?.serial_hex, issued.serial);
    });
  });

  describe('POST /v1/certificates/renew', () => {
    let current: { cert: string; key: string };
    let superseded: { cert: string; key: string };

    before(async () => {
      const first = await succeeds<IssuedDto>(issue(bootstrap.renew, { csr: csr.renewal.csr, profile: 'peer' }));
      superseded = { cert: first.certificate, key: csr.renewal.key };
      const renewed = await succeeds<IssuedDto>({ path: '/v1/certificates/renew', body: {}, cert: first.certificate, key: csr.renewal.key });
      current = { cert: renewed.certificate, key: csr.renewal.key };
    });

    refusalTests([
      { name: 'no client certificate', request: () => ({ path: '/v1/certificates/renew', body: {} }), status: 401, kind: 'unauthorized' },
      {
        name: 'a client certificate from another CA (self-signed)',
        request: () => ({ path: '/v1/certificates/renew', body: {}, cert: stranger.cert, key: stranger.key }),
        status: 401,
        kind: 'unauthorized',
        detail: /not issued by Trustroot/,
      },
      { name: 'a bearer API token', request: () => ({ path: '/v1/certificates/renew', body: {}, token: adminToken }), status: 401, kind: 'unauthorized' },
      {
        name: 'a bearer API token alongside a valid client certificate',
        request: () => ({ path: '/v1/certificates/renew', body: {}, token: adminToken, cert: current.cert, key: current.key }),
        status: 401,
        kind: 'unauthorized',
      },
      {
        // Without a CSR (or with the renewal's own key) it would get its renewal resent (200):
        // a superseded certificate never gets a second, different renewal.
        name: 'a superseded certificate (already renewed) asking for a new key',
        request: () => ({ path: '/v1/certificates/renew', body: { csr: csr.good.csr }, cert: superseded.cert, key: superseded.key }),
        status: 409,
        kind: 'conflict',
        detail: /already renewed/,
      },
      {
        name: 'a renewal CSR asking for other names',
        request: () => ({ path: '/v1/certificates/renew', body: { csr: csr.evilDns }, cert: current.cert, key: current.key }),
        status: 403,
        kind: 'policy_violation',
        detail: /exactly the names/,
      },
      {
        name: 'a renewal CSR with an RSA-1024 key',
        request: () => ({ path: '/v1/certificates/renew', body: { csr: csr.rsa1024 }, cert: current.cert, key: current.key }),
        status: 400,
        kind: 'invalid_csr',
      },
    ]);
  });

  describe('a disabled service', () => {
    let staleToken: string;
    let certificate: { cert: string; key: string };

    before(async () => {
      await succeeds({ path: '/v1/services', token: adminToken, body: { name: 'sanctions', owner: 'kyc-team', dnsNames: ['sanctions.svc'], profiles: ['peer'] } });
      const issueToken = (await mint('sanctions')).token;
      staleToken = (await mint('sanctions')).token;
      const issued = await succeeds<IssuedDto>(issue(issueToken, { csr: csr.sanctions.csr, profile: 'peer' }));
      certificate = { cert: issued.certificate, key: csr.sanctions.key };
      const disabled = await succeeds<{ enabled: boolean }>({ path: '/v1/services/sanctions/disable', token: adminToken }, 200);
      assert.equal(disabled.enabled, false);
    });

    refusalTests([
      {
        name: 'issuing with a bootstrap token minted before disabling',
        request: () => issue(staleToken, { csr: csr.sanctions.csr, profile: 'peer' }),
        status: 403,
        kind: 'forbidden',
        detail: /disabled/,
      },
      {
        name: 'an admin issuing for the disabled service',
        request: () => issue(adminToken, { csr: csr.sanctions.csr, profile: 'peer', service: 'sanctions' }),
        status: 403,
        kind: 'forbidden',
        detail: /disabled/,
      },
      { name: 'minting a new bootstrap token', request: () => ({ path: '/v1/services/sanctions/bootstrap-tokens', token: adminToken, body: {} }), status: 403, kind: 'forbidden', detail: /disabled/ },
      {
        // Observed: 401. The authenticator does not accept a certificate of a disabled service as
        // a principal at all (auth/authenticator.ts), so renewal sees an unauthenticated caller.
        name: 'renewing a certificate of the disabled service',
        request: () => ({ path: '/v1/certificates/renew', body: {}, cert: certificate.cert, key: certificate.key }),
        status: 401,
        kind: 'unauthorized',
        detail: /disabled/,
      },
    ]);
  });

  describe('admin routes', () => {
    const service = (token: string | undefined, body: Record<string, unknown>): Call => ({ path: '/v1/services', token, body });
    const valid = { name: 'newcomer', owner: 'kyc-team', dnsNames: ['newcomer.svc'] };

    refusalTests([
      { name: "POST /v1/services with name 'Bad_Name'", request: () => service(adminToken, { ...valid, name: 'Bad_Name' }), status: 400, kind: 'bad_request' },
      { name: "POST /v1/services with DNS pattern 'a.*.b'", request: () => service(adminToken, { ...valid, dnsNames: ['a.*.b'] }), status: 400, kind: 'bad_request' },
      { name: "POST /v1/services with CIDR '10.0.0.0/33'", request: () => service(adminToken, { ...valid, ipAddresses: ['10.0.0.0/33'] }), status: 400, kind: 'bad_request' },
      { name: "POST /v1/services with CIDR '300.1.1.0/24'", request: () => service(adminToken, { ...valid, ipAddresses: ['300.1.1.0/24'] }), status: 400, kind: 'bad_request' },
      { name: "POST /v1/services with webhookUrl 'ftp://x'", request: () => service(adminToken, { ...valid, webhookUrl: 'ftp://x' }), status: 400, kind: 'bad_request' },
      {
        name: "POST /v1/services with webhookUrl 'http://169.254.169.254/'",
        request: () => service(adminToken, { ...valid, webhookUrl: 'http://169.254.169.254/' }),
        status: 400,
        kind: 'bad_request',
      },
      { name: 'POST /v1/services with a duplicate name', request: () => service(adminToken, { ...valid, name: 'aml-screening' }), status: 409, kind: 'conflict', detail: /already exists/ },
      { name: 'POST /v1/services by a security token', request: () => service(apiTokens.security, valid), status: 403, kind: 'forbidden' },
      { name: 'POST /v1/services by a ci token', request: () => service(apiTokens.ci, valid), status: 403, kind: 'forbidden' },
      { name: 'POST /v1/services by an auditor token', request: () => service(apiTokens.auditor, valid), status: 403, kind: 'forbidden' },
      { name: 'POST /v1/services by a bootstrap token', request: () => service(bootstrap.aml, valid), status: 403, kind: 'forbidden' },
      { name: 'POST /v1/services without a token', request: () => service(undefined, valid), status: 401, kind: 'unauthorized' },
      {
        name: "POST /v1/api-tokens with role 'root'",
        request: () => ({ path: '/v1/api-tokens', token: adminToken, body: { role: 'root', name: 'r00t' } }),
        status: 400,
        kind: 'bad_request',
      },
      {
        name: 'POST /v1/api-tokens by a security token',
        request: () => ({ path: '/v1/api-tokens', token: apiTokens.security, body: { role: 'ci', name: 'sneaky' } }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'bootstrap token minting by a ci token',
        request: () => ({ path: '/v1/services/aml-screening/bootstrap-tokens', token: apiTokens.ci, body: {} }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'bootstrap token minting by an auditor token',
        request: () => ({ path: '/v1/services/aml-screening/bootstrap-tokens', token: apiTokens.auditor, body: {} }),
        status: 403,
        kind: 'forbidden',
      },
      {
        name: 'bootstrap token minting for an unknown service',
        request: () => ({ path: '/v1/services/no-such-service/bootstrap-tokens', token: adminToken, body: {} }),
        status: 404,
        kind: 'not_found',
      },
      {
        name: 'bootstrap token narrowed to a name outside the policy',
        request: () => ({ path: '/v1/services/aml-screening/bootstrap-tokens', token: adminToken, body: { sans: ['aml.svc', 'evil.example.com'] } }),
        status: 403,
        kind: 'policy_violation',
        offendingName: 'evil.example.com',
      },
      {
        name: 'bootstrap token with a ttl over 24 hours',
        request: () => ({ path: '/v1/services/aml-screening/bootstrap-tokens', token: adminToken, body: { ttl: '25h' } }),
        status: 400,
        kind: 'bad_request',
      },
    ]);
  });

  describe('after every refusal', () => {
    it('the aml-screening bootstrap token still issues exactly one certificate', async () => {
      const before = await snapshot();
      const issued = await succeeds<IssuedDto>(issue(bootstrap.aml, { csr: csr.good.csr, profile: 'peer' }));
      assert.equal(issued.service, 'aml-screening');
      assert.equal(issued.profile, 'peer');
      const leaf = new X509Certificate(issued.certificate);
      assert.match(String(leaf.subjectAltName), /DNS:aml\.svc/);
      assert.match(String(leaf.subjectAltName), /URI:spiffe:\/\/kyc\.internal\/ns\/prod\/aml\/api/);
      assert.deepEqual(await snapshot(), {
        ...before,
        certificates: before.certificates + 1,
        activeCertificates: before.activeCertificates + 1,
        auditEvents: before.auditEvents + 1,
        usedBootstrapTokens: before.usedBootstrapTokens + 1,
      });
      // …and only once.
      await refused(issue(bootstrap.aml, { csr: csr.good.csr, profile: 'peer' }), 401, 'unauthorized');
    });
  });
});
