import assert from 'node:assert/strict';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { BootstrapTokenDto, CreatedApiTokenDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import type { ApiRole } from '../../src/domain/api-role.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { loadOpenApiDocument } from '../../src/http/openapi-document.ts';
import { parseJson } from '../support/http-assertions.ts';
import { httpsRequest, type HttpsResponse } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * The authorization matrix: every operation of openapi.yaml, called by every kind of caller,
 * against what the contract says each may do. The table below is the specification; the first
 * test fails when openapi.yaml gains (or loses) an operation without a row here, so that a new
 * route cannot ship without an explicit rule.
 *
 * Callers: anonymous, a well-formed but unknown bearer token, the four API roles, a bootstrap
 * token of the subject service, and over mTLS the subject service itself, another service,
 * and a revoked certificate (which must count as no one).
 *
 * An outcome is 'allow' (2xx, 304, or a 4xx other than 401/403: authorized, refused for
 * another reason), 401, 403, or 404 where the contract hides a resource from a caller that
 * may not see it (a service asking for another service's certificate must not learn it exists).
 */

const CALLERS = ['none', 'badToken', 'admin', 'security', 'ci', 'auditor', 'bootstrap', 'mtlsA', 'mtlsB', 'mtlsRevoked'] as const;
type Caller = (typeof CALLERS)[number];
const SHORT: Record<Caller, string> = {
  none: 'none',
  badToken: 'bad',
  admin: 'adm',
  security: 'sec',
  ci: 'ci',
  auditor: 'aud',
  bootstrap: 'boot',
  mtlsA: 'mtlsA',
  mtlsB: 'mtlsB',
  mtlsRevoked: 'revkd',
};

type Outcome = 'allow' | 401 | 403 | 404;
type Expectations = Record<Caller, Outcome>;
type Listener = 'api' | 'public';
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'] as const;

/** Everyone, on the public listener (no authentication runs there at all). */
const EVERYONE: Expectations = {
  none: 'allow', badToken: 'allow', admin: 'allow', security: 'allow', ci: 'allow', auditor: 'allow',
  bootstrap: 'allow', mtlsA: 'allow', mtlsB: 'allow', mtlsRevoked: 'allow',
};
/** Public information on the API listener: a bad bearer token is still a 401 there. */
const PUBLIC_ON_API: Expectations = { ...EVERYONE, badToken: 401 };

/**
 * A protected operation: the listed API roles are allowed, other roles 403; anonymous callers,
 * bad tokens and revoked certificates 401; bootstrap tokens and services 403 unless given.
 */
function only(roles: readonly ApiRole[], others: Partial<Pick<Expectations, 'bootstrap' | 'mtlsA' | 'mtlsB'>> = {}): Expectations {
  const role = (name: ApiRole): Outcome => (roles.includes(name) ? 'allow' : 403);
  return {
    none: 401,
    badToken: 401,
    admin: role('admin'),
    security: role('security'),
    ci: role('ci'),
    auditor: role('auditor'),
    bootstrap: others.bootstrap ?? 403,
    mtlsA: others.mtlsA ?? 403,
    mtlsB: others.mtlsB ?? 403,
    mtlsRevoked: 401,
  };
}

/** The fields of an alert this test reads. */
interface AlertDto {
  id: string;
  serial: string;
}

/** One service's certificate as the service holds it. */
interface Identity {
  service: string;
  serial: string;
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  spkiSha256: string;
}

/** What a row acts on: the subject service ("A"), its own mTLS identity, another service's ("B"), and a target id. */
interface Subject {
  service: string;
  identity: Identity;
  other: Identity;
  /** A serial, key fingerprint, token or alert id, when the row needs one. */
  target: string;
}

interface RowRequest {
  path: string;
  /** JSON body. */
  json?: unknown;
  /** Raw body with its content type (OCSP). */
  raw?: { body: Buffer; contentType: string };
}

interface Row {
  method: (typeof METHODS)[number];
  /** The path exactly as openapi.yaml writes it. */
  path: string;
  /** Outcome on the API listener (the public listener always serves everyone). */
  expect: Expectations;
  /** Fresh, throwaway resources for destructive rows; default: service A and its certificate. */
  prepare?: () => Promise<Subject>;
  request: (subject: Subject, caller: Caller) => RowRequest;
  /** A known bug: the row runs and reports, but as a todo. */
  todo?: string;
}

/** A clock that follows real time with a movable offset: TLS handshakes use real time, so Trustroot's clock must too. */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

/** A status as a matrix outcome: 401 and 403 stay themselves, 404 too when that is what is expected. */
function classify(status: number, expected: Outcome): Outcome | number {
  if (status === 401 || status === 403) return status;
  if (status === 404 && expected === 404) return 404;
  if (status >= 200 && status < 500) return 'allow';
  return status;
}

describe('authorization matrix: every documented operation, every kind of caller', () => {
  const clock = new OffsetClock();
  const openApi = loadOpenApiDocument();
  let trustroot: TestTrustroot;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let rootPem: string;
  let adminToken: string;
  const roleTokens = new Map<ApiRole, CreatedApiTokenDto>();
  let a: Identity;
  let b: Identity;
  let revoked: Identity;
  let csrA: string;
  let alertId: string;
  let ocspRequest: Buffer;
  let labels = 0;
  /** Observed status per operation and listener, for the printed matrix. */
  const observed = new Map<string, { listener: Listener; statuses: Record<Caller, number>; expect: Expectations }[]>();

  before(async () => {
    // A 30-day TLS certificate: the clock is moved 20 hours ahead for a moment to raise an alert,
    // which must not make the API's own certificate due for rotation.
    trustroot = await startTestTrustroot({ clock, env: { TRUSTROOT_TLS_CERT_TTL: '30d' } });
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database must yield an initial admin token');
    adminToken = initial;
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    const intermediatePem = await (await fetch(`${trustroot.publicUrl}/ca/intermediate.pem`)).text();
    files = await pemFiles({ 'intermediate.pem': intermediatePem });
    await Promise.all([
      ...(['security', 'ci', 'auditor'] as const).map(async (role) => {
        roleTokens.set(role, parseJson<CreatedApiTokenDto>(await asAdmin('POST', '/v1/api-tokens', { role, name: `matrix-${role}` }), 201));
      }),
      createService('svc-a'),
      createService('svc-b'),
    ]);
    [a, b, revoked] = await Promise.all([issue('svc-a'), issue('svc-b'), issue('svc-a')]);
    parseJson(await asAdmin('POST', `/v1/certificates/${revoked.serial}/revoke`, { reason: 'cessationOfOperation' }), 200);
    csrA = (await makeCsr('svc-a')).csrPem;

    // An alert: 20 hours into a 24-hour certificate its 75% threshold has passed.
    clock.offsetMs = 20 * 3600_000;
    try {
      await trustroot.instance.jobs.tick('expiry-scan', new Date(Math.floor(clock.now().getTime() / 1000) * 1000));
    } finally {
      clock.offsetMs = 0;
    }
    const alerts = parseJson<{ alerts: AlertDto[] }>(await asAdmin('GET', '/v1/alerts?service=svc-a'), 200).alerts;
    const alert = alerts.find((candidate) => candidate.serial === a.serial);
    assert.ok(alert, `no alert for ${a.serial}: ${JSON.stringify(alerts)}`);
    alertId = alert.id;

    labels += 1;
    const leaf = files.path(`leaf-${labels}.pem`);
    const request = files.path(`ocsp-${labels}.der`);
    await writeFile(leaf, a.certificatePem);
    const made = await openssl(['ocsp', '-issuer', files.path('intermediate.pem'), '-cert', leaf, '-no_nonce', '-reqout', request]);
    assert.equal(made.code, 0, made.stderr);
    ocspRequest = await readFile(request);
  });
  after(async () => {
    await files?.cleanup();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  function asAdmin(method: string, path: string, body?: unknown): Promise<HttpsResponse> {
    return httpsRequest(`${trustroot.apiUrl}${path}`, {
      ca: rootPem,
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }

  async function createService(name: string): Promise<void> {
    parseJson<ServiceDto>(await asAdmin('POST', '/v1/services', { name, owner: 'matrix', dnsNames: [`${name}.svc`] }), 201);
  }

  async function mintBootstrapToken(service: string): Promise<string> {
    return parseJson<BootstrapTokenDto>(await asAdmin('POST', `/v1/services/${service}/bootstrap-tokens`, {}), 201).token;
  }

  /** A P-256 key and CSR for `<service>.svc`, made by OpenSSL. */
  async function makeCsr(service: string): Promise<{ csrPem: string; keyPem: string }> {
    labels += 1;
    const keyFile = files.path(`key-${labels}.pem`);
    const csrFile = files.path(`csr-${labels}.pem`);
    const made = await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csrFile,
      '-subj', `/CN=${service}.svc`, '-addext', `subjectAltName=DNS:${service}.svc`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    return { csrPem: await readFile(csrFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
  }

  /** A peer certificate for `service` with a fresh key, a bootstrap token and a CSR. */
  async function issue(service: string): Promise<Identity> {
    const token = await mintBootstrapToken(service);
    const { csrPem, keyPem } = await makeCsr(service);
    const response = await httpsRequest(`${trustroot.apiUrl}/v1/certificates`, {
      ca: rootPem,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: csrPem, profile: 'peer' }),
    });
    const issued = parseJson<IssuedCertificateDto>(response, 201);
    const spki = new X509Certificate(issued.certificate).publicKey.export({ type: 'spki', format: 'der' });
    return {
      service,
      serial: issued.serial,
      keyPem,
      certificatePem: issued.certificate,
      chainPem: issued.chain,
      spkiSha256: createHash('sha256').update(spki).digest('hex'),
    };
  }

  /** A new service with its own certificate, for rows that disable or revoke the subject. */
  async function throwawayService(label: string): Promise<Subject> {
    const service = `throwaway-${label}`;
    await createService(service);
    return { service, identity: await issue(service), other: b, target: service };
  }

  const subjectA = (): Subject => ({ service: 'svc-a', identity: a, other: b, target: a.serial });
  const throwawayName = (caller: Caller): string => `matrix-${caller.toLowerCase()}-${randomBytes(3).toString('hex')}`;

  async function send(listener: Listener, caller: Caller, subject: Subject, row: Row, request: RowRequest): Promise<number> {
    const headers: Record<string, string> = {};
    let identity: Identity | undefined;
    switch (caller) {
      case 'none':
        break;
      case 'badToken':
        headers.authorization = `Bearer trt_${randomBytes(32).toString('base64url')}`;
        break;
      case 'admin':
        headers.authorization = `Bearer ${adminToken}`;
        break;
      case 'security':
      case 'ci':
      case 'auditor': {
        const token = roleTokens.get(caller);
        assert.ok(token, `no ${caller} token`);
        headers.authorization = `Bearer ${token.token}`;
        break;
      }
      case 'bootstrap':
        // Single use: a fresh one each time, so that one consumed by an issuance cannot skew the next row.
        headers.authorization = `Bearer ${await mintBootstrapToken(subject.service)}`;
        break;
      case 'mtlsA':
        identity = subject.identity;
        break;
      case 'mtlsB':
        identity = subject.other;
        break;
      case 'mtlsRevoked':
        identity = revoked;
        break;
    }
    let body: Buffer | string | undefined;
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.json);
    } else if (request.raw) {
      headers['content-type'] = request.raw.contentType;
      body = request.raw.body;
    }
    const method = row.method.toUpperCase();
    if (listener === 'public') {
      // Plain HTTP: no client certificate can be presented; tokens are sent and must not matter.
      const response = await fetch(`${trustroot.publicUrl}${request.path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : new Uint8Array(body) } : {}) });
      await response.arrayBuffer();
      return response.status;
    }
    const response = await httpsRequest(`${trustroot.apiUrl}${request.path}`, {
      ca: rootPem,
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(identity ? { cert: identity.certificatePem + identity.chainPem, key: identity.keyPem } : {}),
    });
    return response.status;
  }

  const revocation = { reason: 'superseded' };

  /*
   * The table. Read-only rows first, destructive rows (renew, revoke, disable) last and on
   * throwaway resources.
   */
  const ROWS: Row[] = [
    { method: 'get', path: '/healthz', expect: PUBLIC_ON_API, request: () => ({ path: '/healthz' }) },
    { method: 'get', path: '/readyz', expect: PUBLIC_ON_API, request: () => ({ path: '/readyz' }) },
    { method: 'get', path: '/openapi.yaml', expect: PUBLIC_ON_API, request: () => ({ path: '/openapi.yaml' }) },
    { method: 'get', path: '/v1/ca', expect: PUBLIC_ON_API, request: () => ({ path: '/v1/ca' }) },
    { method: 'get', path: '/v1/ca/chain', expect: PUBLIC_ON_API, request: () => ({ path: '/v1/ca/chain?issuer=intermediate' }) },
    { method: 'get', path: '/ca/{name}.pem', expect: EVERYONE, request: () => ({ path: '/ca/root.pem' }) },
    { method: 'get', path: '/ca/{name}.crt', expect: EVERYONE, request: () => ({ path: '/ca/intermediate.crt' }) },
    { method: 'get', path: '/crl/{issuer}.crl', expect: EVERYONE, request: () => ({ path: '/crl/intermediate.crl' }) },
    { method: 'get', path: '/crl/{issuer}.pem', expect: EVERYONE, request: () => ({ path: '/crl/intermediate.pem' }) },
    {
      method: 'post', path: '/ocsp/{issuer}', expect: EVERYONE,
      request: () => ({ path: '/ocsp/intermediate', raw: { body: ocspRequest, contentType: 'application/ocsp-request' } }),
    },
    {
      method: 'get', path: '/ocsp/{issuer}/{request}', expect: EVERYONE,
      request: () => ({ path: `/ocsp/intermediate/${encodeURIComponent(ocspRequest.toString('base64'))}` }),
    },
    { method: 'get', path: '/metrics', expect: only(['admin', 'auditor']), request: () => ({ path: '/metrics' }) },

    { method: 'get', path: '/v1/services', expect: only(['admin', 'security', 'auditor']), request: () => ({ path: '/v1/services' }) },
    {
      method: 'post', path: '/v1/services', expect: only(['admin']),
      request: (_s, caller) => ({ path: '/v1/services', json: { name: throwawayName(caller), owner: 'matrix', dnsNames: ['matrix.svc'] } }),
    },
    {
      method: 'get', path: '/v1/services/{name}', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow' }),
      request: (s) => ({ path: `/v1/services/${s.service}` }),
    },
    {
      method: 'patch', path: '/v1/services/{name}', expect: only(['admin']),
      request: (s) => ({ path: `/v1/services/${s.service}`, json: { contact: 'matrix@example.test' } }),
    },
    {
      method: 'post', path: '/v1/services/{name}/bootstrap-tokens', expect: only(['admin', 'security']),
      request: (s) => ({ path: `/v1/services/${s.service}/bootstrap-tokens`, json: { ttl: '5m' } }),
    },
    {
      method: 'get', path: '/v1/services/{name}/dependencies', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow' }),
      request: (s) => ({ path: `/v1/services/${s.service}/dependencies` }),
    },
    {
      method: 'put', path: '/v1/services/{name}/dependencies', expect: only(['admin'], { mtlsA: 'allow' }),
      request: (s) => ({ path: `/v1/services/${s.service}/dependencies`, json: { reliesOn: [s.other.service] } }),
    },
    { method: 'get', path: '/v1/api-tokens', expect: only(['admin']), request: () => ({ path: '/v1/api-tokens' }) },
    {
      method: 'post', path: '/v1/api-tokens', expect: only(['admin']),
      request: (_s, caller) => ({ path: '/v1/api-tokens', json: { role: 'auditor', name: throwawayName(caller), ttl: '1h' } }),
    },

    {
      method: 'get', path: '/v1/certificates', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow', mtlsB: 403 }),
      request: (s) => ({ path: `/v1/certificates?service=${s.service}` }),
    },
    {
      method: 'get', path: '/v1/certificates/{serial}', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow', mtlsB: 404 }),
      request: (s) => ({ path: `/v1/certificates/${s.target}` }),
    },
    {
      method: 'get', path: '/v1/certificates/{serial}.pem', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow', mtlsB: 404 }),
      request: (s) => ({ path: `/v1/certificates/${s.target}.pem` }),
    },
    {
      method: 'get', path: '/v1/certificates/{serial}.der', expect: only(['admin', 'security', 'auditor'], { mtlsA: 'allow', mtlsB: 404 }),
      request: (s) => ({ path: `/v1/certificates/${s.target}.der` }),
    },
    {
      // Bootstrap token: its service's certificate; admin: naming the service; ci: test certificates only.
      method: 'post', path: '/v1/certificates', expect: only(['admin', 'ci'], { bootstrap: 'allow' }),
      request: (s, caller) => ({
        path: '/v1/certificates',
        json:
          caller === 'ci'
            ? { generateKey: 'ecdsa-p256', profile: 'test', sans: ['localhost'] }
            : caller === 'bootstrap'
              ? { csr: csrA, profile: 'peer' }
              : { csr: csrA, profile: 'peer', service: s.service },
      }),
    },

    { method: 'get', path: '/v1/alerts', expect: only(['admin', 'security', 'auditor']), request: () => ({ path: '/v1/alerts' }) },
    {
      method: 'post', path: '/v1/alerts/{id}/acknowledge', expect: only(['admin', 'security']),
      prepare: async () => ({ ...subjectA(), target: alertId }),
      request: (s) => ({ path: `/v1/alerts/${s.target}/acknowledge` }),
    },
    { method: 'get', path: '/v1/notifications', expect: only(['admin', 'security', 'auditor']), request: () => ({ path: '/v1/notifications' }) },
    { method: 'get', path: '/v1/scheduler', expect: only(['admin', 'security', 'auditor']), request: () => ({ path: '/v1/scheduler' }) },
    { method: 'get', path: '/v1/audit', expect: only(['admin', 'auditor']), request: () => ({ path: '/v1/audit?limit=5' }) },
    { method: 'get', path: '/v1/audit/verify', expect: only(['admin', 'auditor']), request: () => ({ path: '/v1/audit/verify' }) },

    // Destructive rows, on throwaway resources.
    {
      // Only the certificate in the handshake authenticates a renewal: a bearer token is no credential here (401).
      method: 'post', path: '/v1/certificates/renew',
      expect: { ...only([], { mtlsA: 'allow', mtlsB: 'allow' }), admin: 401, security: 401, ci: 401, auditor: 401, bootstrap: 401 },
      prepare: async () => {
        const [identity, other] = await Promise.all([issue('svc-a'), issue('svc-b')]);
        return { service: 'svc-a', identity, other, target: identity.serial };
      },
      request: () => ({ path: '/v1/certificates/renew' }),
    },
    {
      method: 'delete', path: '/v1/api-tokens/{id}', expect: only(['admin']),
      prepare: async () => ({ ...subjectA(), target: parseJson<CreatedApiTokenDto>(await asAdmin('POST', '/v1/api-tokens', { role: 'auditor', name: 'matrix-victim' }), 201).id }),
      request: (s) => ({ path: `/v1/api-tokens/${s.target}` }),
    },
    {
      // A throwaway certificate of A, not the one A authenticates with; B may not revoke it.
      method: 'post', path: '/v1/certificates/{serial}/revoke', expect: only(['admin', 'security'], { mtlsA: 'allow', mtlsB: 403 }),
      prepare: async () => ({ ...subjectA(), target: (await issue('svc-a')).serial }),
      request: (s) => ({ path: `/v1/certificates/${s.target}/revoke`, json: revocation }),
    },
    {
      method: 'post', path: '/v1/keys/{spkiSha256}/revoke', expect: only(['admin', 'security']),
      prepare: async () => ({ ...subjectA(), target: (await issue('svc-a')).spkiSha256 }),
      request: (s) => ({ path: `/v1/keys/${s.target}/revoke`, json: {} }),
    },
    {
      method: 'post', path: '/v1/services/{name}/disable', expect: only(['admin']),
      prepare: () => throwawayService('disable'),
      request: (s) => ({ path: `/v1/services/${s.service}/disable` }),
    },
    {
      method: 'post', path: '/v1/services/{name}/revoke', expect: only(['admin', 'security']),
      prepare: () => throwawayService('revoke'),
      request: (s) => ({ path: `/v1/services/${s.service}/revoke`, json: { reason: 'cessationOfOperation' } }),
    },
  ];

  const keyOf = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

  /** The listeners an operation is documented on (its own servers, else the document's). */
  function documentedListeners(method: string, path: string): Listener[] {
    const pathItem = openApi.spec.paths[path] as Record<string, { servers?: { url: string }[] } | undefined> & { servers?: { url: string }[] };
    const servers = pathItem[method]?.servers ?? pathItem.servers ?? (openApi.spec.servers as { url: string }[] | undefined) ?? [];
    const listeners = servers.map((server): Listener => (server.url.startsWith('https:') ? 'api' : 'public'));
    return [...new Set(listeners)].sort();
  }

  /** Whether openapi.yaml documents an operation as needing no credentials. */
  function documentedPublic(method: string, path: string): boolean {
    const operation = (openApi.spec.paths[path] as Record<string, { security?: unknown[] } | undefined>)[method];
    const security = operation?.security ?? (openApi.spec.security as unknown[] | undefined) ?? [];
    return security.length === 0;
  }

  it('has exactly one row per operation of openapi.yaml (a new route without a rule fails here)', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(openApi.spec.paths)) {
      for (const method of METHODS) if (item[method] !== undefined) documented.add(keyOf(method, path));
    }
    const keys = ROWS.map((row) => keyOf(row.method, row.path));
    assert.equal(new Set(keys).size, keys.length, 'a row is duplicated');
    const missing = [...documented].filter((key) => !keys.includes(key));
    const extra = keys.filter((key) => !documented.has(key));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'the table and openapi.yaml disagree');
    assert.ok(documented.size >= 38, `only ${documented.size} operations found`);
  });

  it('marks as public exactly the operations openapi.yaml documents without security', () => {
    for (const row of ROWS) {
      const public_ = CALLERS.every((caller) => caller === 'badToken' || row.expect[caller] === 'allow');
      assert.equal(public_, documentedPublic(row.method, row.path), `${keyOf(row.method, row.path)}: the table and the documented security differ`);
      if (documentedListeners(row.method, row.path).includes('public')) assert.ok(public_, `${keyOf(row.method, row.path)} is on the public listener`);
    }
  });

  for (const row of ROWS) {
    const key = keyOf(row.method, row.path);
    it(key, row.todo ? { todo: row.todo } : {}, async (t: TestContext) => {
      const subject = row.prepare ? await row.prepare() : subjectA();
      const results: { listener: Listener; statuses: Record<Caller, number>; expect: Expectations }[] = [];
      const mismatches: string[] = [];
      for (const listener of documentedListeners(row.method, row.path)) {
        const expect = listener === 'public' ? EVERYONE : row.expect;
        const statuses = {} as Record<Caller, number>;
        const call = async (caller: Caller): Promise<void> => {
          const request = row.request(subject, caller);
          const status = await send(listener, caller, subject, row, request);
          statuses[caller] = status;
          const outcome = classify(status, expect[caller]);
          if (outcome !== expect[caller]) mismatches.push(`${listener} ${caller}: expected ${String(expect[caller])}, got ${status} (${request.path})`);
        };
        // Every refusal first, in parallel (a refused request changes nothing); then, one at a
        // time, the callers allowed to act, so that destructive rows act only after every
        // refusal was checked and the allowed calls do not race each other.
        await Promise.all(CALLERS.filter((caller) => expect[caller] !== 'allow').map(call));
        for (const caller of CALLERS.filter((c) => expect[c] === 'allow')) await call(caller);
        results.push({ listener, statuses, expect });
        // The request itself must be one the server can accept, or 'allow' would prove nothing.
        const accepted = CALLERS.filter((caller) => (statuses[caller] ?? 0) < 400);
        if (accepted.length === 0) mismatches.push(`${listener}: no caller got a 2xx/3xx, so the route's authorization was never reached`);
        t.diagnostic(`${key} [${listener}] ${CALLERS.map((caller) => `${SHORT[caller]}=${statuses[caller] ?? '-'}`).join(' ')}`);
      }
      observed.set(key, results);
      assert.deepEqual(mismatches, [], `${key}:\n${mismatches.join('\n')}`);
    });
  }

  it(
    'concurrent PUTs of the same dependencies all succeed (never a 500)',
    async () => {
      const statuses: number[] = [];
      for (let round = 0; round < 3; round++) {
        const responses = await Promise.all(Array.from({ length: 6 }, () => asAdmin('PUT', '/v1/services/svc-a/dependencies', { reliesOn: ['svc-b'] })));
        statuses.push(...responses.map((response) => response.status));
      }
      assert.deepEqual(statuses.filter((status) => status !== 200), [], `statuses: ${statuses.join(' ')}`);
    },
  );

  it('prints the matrix', (t: TestContext) => {
    const width = Math.max(...ROWS.map((row) => keyOf(row.method, row.path).length)) + 9;
    t.diagnostic(`${'operation [listener]'.padEnd(width)} ${CALLERS.map((caller) => SHORT[caller].padStart(5)).join(' ')}`);
    for (const row of ROWS) {
      const key = keyOf(row.method, row.path);
      for (const result of observed.get(key) ?? []) {
        const cells = CALLERS.map((caller) => {
          const status = result.statuses[caller];
          const ok = status !== undefined && classify(status, result.expect[caller]) === result.expect[caller];
          return `${status ?? '-'}${ok ? '' : '!'}`.padStart(5);
        });
        t.diagnostic(`${`${key} [${result.listener}]`.padEnd(width)} ${cells.join(' ')}`);
      }
    }
    assert.equal(observed.size, ROWS.length, 'some rows did not run');
  });
});
