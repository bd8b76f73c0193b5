import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { BootstrapTokenDto, CreatedApiTokenDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import { httpsRequest, type HttpsRequestOptions, type HttpsResponse } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Secrets never reach the logs. A realistic session runs against a real instance logging at
 * debug level — a service with a webhook (and its HMAC secret), bootstrap tokens, issuance from a
 * CSR, a CI test certificate with a server-generated key and a PKCS#12 password, API tokens
 * created and revoked, wrong credentials, renewal over mTLS, a revocation whose webhook is
 * delivered — and every secret the test saw is then searched for in every log line the
 * instance wrote. The logs must also be JSON lines, each request line with its request id.
 */

interface LogLine {
  level: number;
  time: string;
  msg?: string;
  requestId?: string;
  method?: string;
  path?: string;
  status?: number;
  [field: string]: unknown;
}

interface Identity {
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  serial: string;
}

/** Every key name in a parsed JSON value, at any depth. */
function keysOf(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) keysOf(item, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      into.add(key.toLowerCase());
      keysOf(inner, into);
    }
  }
  return into;
}

/** The base64 lines of a PEM block (its body), without the armour. */
function pemBodyLines(pem: string): string[] {
  return pem
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('-----'));
}

describe('no secret is ever written to the logs', () => {
  let trustroot: TestTrustroot;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let rootPem: string;
  let adminToken: string;
  let webhook: http.Server;
  const webhookDeliveries: http.IncomingHttpHeaders[] = [];
  /** What must never appear in the logs, with a label for the failure message. */
  const secrets: { label: string; value: string }[] = [];
  /** The X-Request-Id of every API response, to find each request's log line. */
  const requestIds: string[] = [];
  let labels = 0;

  const remember = (label: string, value: string | undefined): void => {
    assert.ok(value !== undefined && value.length >= 8, `${label} is missing or too short to search for`);
    secrets.push({ label, value });
  };
  const rememberToken = (label: string, token: string): void => {
    remember(label, token);
    // Also the part after the prefix, in case something strips `trt_`/`trb_` before logging.
    remember(`${label} (body)`, token.slice(4));
  };

  before(async () => {
    trustroot = await startTestTrustroot();
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database must yield an initial admin token');
    adminToken = initial;
    rememberToken('initial admin token', adminToken);
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    files = await pemFiles({});
    webhook = http.createServer((req, res) => {
      webhookDeliveries.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
    await files?.cleanup();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  async function api(pathAndQuery: string, options: Omit<HttpsRequestOptions, 'ca'> = {}): Promise<HttpsResponse> {
    const response = await httpsRequest(`${trustroot.apiUrl}${pathAndQuery}`, { ...options, ca: rootPem });
    const id = response.headers['x-request-id'];
    assert.equal(typeof id, 'string', `no X-Request-Id on ${pathAndQuery}`);
    requestIds.push(String(id));
    return response;
  }
  const withToken = (token: string, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}) =>
    api(pathAndQuery, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const asService = (identity: Identity, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      cert: identity.certificatePem + identity.chainPem,
      key: identity.keyPem,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });

  function parseJson<T>(response: HttpsResponse, status: number): T {
    assert.equal(response.status, status, response.text);
    return JSON.parse(response.text) as T;
  }

  /** An OpenSSL P-256 key and CSR for `name`; the key never leaves the test, but is searched for anyway. */
  async function makeCsr(name: string, keyFile?: string): Promise<{ csrPem: string; keyPem: string }> {
    labels += 1;
    const key = keyFile ?? files.path(`key-${labels}.pem`);
    const csr = files.path(`csr-${labels}.pem`);
    const keyArgs = keyFile ? ['-key', keyFile] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key];
    const made = await openssl(['req', '-new', ...keyArgs, '-out', csr, '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
    assert.equal(made.code, 0, made.stderr);
    const keyPem = await readFile(key, 'utf8');
    remember(`CSR key ${labels}`, pemBodyLines(keyPem).join(''));
    return { csrPem: await readFile(csr, 'utf8'), keyPem };
  }

  /** The JSON log lines, once every response the test received has its request line. */
  async function settledLogs(): Promise<LogLine[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const lines = trustroot.logs.lines.map((line) => JSON.parse(line) as LogLine);
      const logged = new Set(lines.filter((line) => line.msg === 'request').map((line) => line.requestId));
      const missing = requestIds.filter((id) => !logged.has(id));
      if (missing.length === 0) return lines;
      if (Date.now() > deadline) assert.fail(`no request log line for ${missing.join(', ')}`);
      await sleep(50);
    }
  }

  let payments: Identity;

  it('an admin registers a service with a webhook; its HMAC secret is shown once', async () => {
    const created = parseJson<ServiceDto>(
      await withToken(adminToken, 'POST', '/v1/services', {
        name: 'payments',
        owner: 'payments-team',
        dnsNames: ['payments.svc'],
        webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/trustroot`,
      }),
      201,
    );
    remember('webhook secret', created.webhookSecret);
  });

  it('API tokens are created for security and ci, and one for an auditor is revoked', async () => {
    for (const role of ['security', 'ci'] as const) {
      const token = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role, name: `${role}-token` }), 201);
      rememberToken(`${role} API token`, token.token);
    }
    const doomed = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role: 'auditor', name: 'doomed', ttl: '1h' }), 201);
    rememberToken('revoked API token', doomed.token);
    parseJson(await withToken(doomed.token, 'GET', '/v1/audit?limit=1'), 200);
    parseJson(await withToken(adminToken, 'DELETE', `/v1/api-tokens/${doomed.id}`), 200);
    assert.equal((await withToken(doomed.token, 'GET', '/v1/audit?limit=1')).status, 401);
  });

  it('payments boots with a bootstrap token and a CSR; another bootstrap token stays unused', async () => {
    const minted = parseJson<BootstrapTokenDto>(await withToken(adminToken, 'POST', '/v1/services/payments/bootstrap-tokens', { ttl: '10m' }), 201);
    rememberToken('bootstrap token (used)', minted.token);
    const securityToken = secrets.find((secret) => secret.label === 'security API token')?.value;
    assert.ok(securityToken);
    const unused = parseJson<BootstrapTokenDto>(await withToken(securityToken, 'POST', '/v1/services/payments/bootstrap-tokens', {}), 201);
    rememberToken('bootstrap token (unused)', unused.token);
    const { csrPem, keyPem } = await makeCsr('payments.svc');
    const issued = parseJson<IssuedCertificateDto>(await withToken(minted.token, 'POST', '/v1/certificates', { csr: csrPem, profile: 'peer' }), 201);
    payments = { keyPem, certificatePem: issued.certificate, chainPem: issued.chain, serial: issued.serial };
    // Single use: the same token again is refused, and must not be logged either.
    assert.equal((await withToken(minted.token, 'POST', '/v1/certificates', { csr: csrPem, profile: 'peer' })).status, 401);
  });

  it('ci gets a test certificate with a server-generated key and a PKCS#12 bundle', async () => {
    const ciToken = secrets.find((secret) => secret.label === 'ci API token')?.value;
    assert.ok(ciToken);
    const pkcs12Password = `p12-${randomBytes(12).toString('base64url')}`;
    remember('PKCS#12 password', pkcs12Password);
    const issued = parseJson<IssuedCertificateDto>(
      await withToken(ciToken, 'POST', '/v1/certificates', { generateKey: 'ecdsa-p256', profile: 'test', sans: ['localhost'], pkcs12Password }),
      201,
    );
    const privateKey = issued.privateKey;
    assert.ok(privateKey !== undefined && privateKey.includes('PRIVATE KEY'));
    assert.ok(issued.pkcs12);
    remember('generated private key PEM', privateKey);
    for (const [index, line] of pemBodyLines(privateKey).entries()) {
      if (line.length >= 16) remember(`generated private key line ${index}`, line);
    }
    remember('PKCS#12 bundle', issued.pkcs12);
    for (let offset = 0; offset + 48 <= issued.pkcs12.length; offset += 48) remember(`PKCS#12 bundle at ${offset}`, issued.pkcs12.slice(offset, offset + 48));
  });

  it('wrong credentials are refused: unknown tokens of both kinds, a malformed header, a token in the query string', async () => {
    const wrongApi = `trt_${randomBytes(32).toString('base64url')}`;
    const wrongBootstrap = `trb_${randomBytes(32).toString('base64url')}`;
    rememberToken('wrong API token', wrongApi);
    rememberToken('wrong bootstrap token', wrongBootstrap);
    assert.equal((await withToken(wrongApi, 'GET', '/v1/services')).status, 401);
    assert.equal((await withToken(wrongBootstrap, 'POST', '/v1/certificates', { generateKey: 'ecdsa-p256', profile: 'test', sans: ['localhost'] })).status, 401);
    const basic = `Basic ${Buffer.from(`admin:${randomBytes(9).toString('base64url')}`).toString('base64')}`;
    remember('basic credentials', basic.slice(6));
    assert.equal((await api('/v1/services', { headers: { authorization: basic } })).status, 401);
    // A caller pasting a secret into the URL: the query string is never logged.
    const refused = await api(`/v1/services?token=${encodeURIComponent(adminToken)}`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(refused.status, 400);
    // A body that is not JSON, holding a secret: the parser's refusal does not echo it.
    const broken = await api('/v1/api-tokens', {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-request-id': 'secrets-broken-body' },
      body: `{"role":"admin","name":"${wrongApi}"`,
    });
    assert.equal(broken.status, 400);
  });

  it('payments renews over mTLS, first with its key, then with a new CSR', async () => {
    const renewed = parseJson<IssuedCertificateDto>(await asService(payments, 'POST', '/v1/certificates/renew'), 201);
    payments = { ...payments, certificatePem: renewed.certificate, chainPem: renewed.chain, serial: renewed.serial };
    const { csrPem, keyPem } = await makeCsr('payments.svc');
    const rekeyed = parseJson<IssuedCertificateDto>(await asService(payments, 'POST', '/v1/certificates/renew', { csr: csrPem }), 201);
    payments = { keyPem, certificatePem: rekeyed.certificate, chainPem: rekeyed.chain, serial: rekeyed.serial };
    parseJson(await asService(payments, 'GET', '/v1/services/payments'), 200);
  });

  it('a revocation is notified to the webhook, signed with the secret', async () => {
    parseJson(await withToken(adminToken, 'POST', `/v1/certificates/${payments.serial}/revoke`, { reason: 'keyCompromise' }), 200);
    const scheduledFor = new Date(Math.floor(Date.now() / 1000) * 1000);
    await trustroot.instance.jobs.tick('deliver-notifications', scheduledFor);
    assert.ok(webhookDeliveries.length >= 1, 'the webhook was not called');
    // Revoked: the certificate is no one now, and a refused mTLS caller is logged as such.
    assert.equal((await asService(payments, 'GET', '/v1/services/payments')).status, 401);
  });

  it('the CA key passphrase and any database password are known to the test', async () => {
    const passphraseFile = path.join(trustroot.dataDir, 'dev-key-passphrase');
    assert.ok(existsSync(passphraseFile), 'the harness runs without TRUSTROOT_KEY_PASSPHRASE, so the dev passphrase file must exist');
    remember('CA key passphrase', (await readFile(passphraseFile, 'utf8')).trim());
    const embedded = path.join(trustroot.dataDir, 'embedded-postgres.password');
    if (existsSync(embedded)) remember('embedded PostgreSQL password', (await readFile(embedded, 'utf8')).trim());
    const databasePassword = decodeURIComponent(new URL(trustroot.database.url).password);
    if (databasePassword !== '') remember('database password', databasePassword);
    const configured = trustroot.config.keyPassphrase;
    if (configured) remember('configured key passphrase', configured);
  });

  it('the logs are JSON lines; every request line has its request id, method, path and status', async () => {
    const lines = await settledLogs();
    assert.ok(lines.length >= requestIds.length, `${lines.length} log lines for ${requestIds.length} requests`);
    for (const line of lines) {
      assert.equal(typeof line, 'object');
      assert.equal(typeof line.level, 'number');
      assert.equal(typeof line.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(line.time)), `time ${line.time}`);
    }
    const requests = lines.filter((line) => line.msg === 'request');
    for (const line of requests) {
      assert.equal(typeof line.requestId, 'string');
      assert.ok((line.requestId ?? '').length > 0);
      assert.equal(typeof line.method, 'string');
      assert.equal(typeof line.status, 'number');
      assert.ok(typeof line.path === 'string' && !line.path.includes('?'), `a query string was logged: ${String(line.path)}`);
    }
    const byId = new Map(requests.map((line) => [line.requestId, line]));
    assert.equal(byId.get('secrets-broken-body')?.status, 400, 'the caller-chosen request id is the one logged');
    const refusals = requests.filter((line) => line.status === 401);
    assert.ok(refusals.length >= 6, `only ${refusals.length} 401 lines`);
  });

  it('no secret, no private key, no authorization header appears in any log line', async () => {
    const lines = await settledLogs();
    const text = trustroot.logs.text;
    assert.ok(secrets.length >= 25, `only ${secrets.length} secrets collected`);
    const leaked = secrets.filter((secret) => text.includes(secret.value)).map((secret) => secret.label);
    assert.deepEqual(leaked, [], `secrets in the logs: ${leaked.join(', ')}`);
    assert.ok(!text.includes('PRIVATE KEY'), 'a PEM private key marker is in the logs');
    assert.ok(!/bearer /i.test(text), 'a bearer credential is in the logs');
    assert.ok(!/authorization/i.test(text), 'an authorization header (or its name) is in the logs');
    const keys = new Set<string>();
    for (const line of lines) keysOf(line, keys);
    for (const forbidden of ['authorization', 'headers', 'cookie', 'body']) {
      assert.ok(!keys.has(forbidden), `a log line has a "${forbidden}" field`);
    }
  });
});
