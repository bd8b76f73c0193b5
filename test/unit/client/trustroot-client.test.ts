import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { RetryRuntime } from '../../../src/client/retry-with-backoff.ts';
import { defaultPublicUrl, TrustrootClient, type TrustrootConnectOptions } from '../../../src/client/trustroot-client.ts';
import {
  RootFingerprintMismatchError,
  TrustrootApiError,
  TrustrootTlsVerificationError,
  TrustrootUnavailableError,
} from '../../../src/client/trustroot-errors.ts';
import { freePort } from '../../support/free-port.ts';
import { openssl, pemFiles } from '../../support/openssl.ts';

/*
 * The SDK's trust, retry and error behaviour against small fake listeners with certificates
 * made by OpenSSL: what the real server cannot be made to do on demand (503s, dropped
 * connections, a certificate from another CA).
 */

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  clientCertificate: boolean;
}

type Responder = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Responder => (_req, res) => {
  res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const problem = (status: number, kind: string, detail: string, extra: Record<string, unknown> = {}): Responder =>
  json(status, { type: `urn:trustroot:problem:${kind}`, title: kind, status, detail, requestId: 'req-1', ...extra }, status === 503 ? { 'retry-after': '1' } : {});
const hangUp: Responder = (req) => req.socket.destroy();

/** Time that moves only when the SDK sleeps between retries. */
function fakeRuntime(): RetryRuntime & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return { sleeps, now: () => now, sleep: async (ms) => void (sleeps.push(ms), (now += ms)), random: () => 0.5 };
}

describe('TrustrootClient', () => {
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let rootA: string;
  let fingerprintA: string;
  let rootB: string;
  let serverA: { key: string; cert: string };
  let serverB: { key: string; cert: string };
  let clientIdentity: { keyPem: string; certificatePem: string };
  let publicServer: http.Server;
  let publicRequests = 0;
  let api: https.Server;
  let apiB: https.Server;
  let apiConnections = 0;
  let apiBRequests = 0;
  let recorded: Recorded[] = [];
  let responders: Responder[] = [];
  let caUrl: string;
  let publicUrl: string;

  async function makeCa(name: string): Promise<{ root: string; server: { key: string; cert: string } }> {
    const run = async (args: string[]) => {
      const result = await openssl(args);
      assert.equal(result.code, 0, result.stderr);
    };
    await writeFile(files.path(`${name}.ext`), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n');
    await run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.path(`${name}-root.key`), '-out', files.path(`${name}-root.pem`),
      '-subj', `/CN=${name} test root`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
    await run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.path(`${name}-server.key`), '-out', files.path(`${name}-server.csr`), '-subj', '/CN=127.0.0.1']);
    await run(['x509', '-req', '-in', files.path(`${name}-server.csr`), '-CA', files.path(`${name}-root.pem`), '-CAkey', files.path(`${name}-root.key`), '-CAcreateserial',
      '-out', files.path(`${name}-server.pem`), '-days', '1', '-extfile', files.path(`${name}.ext`)]);
    return {
      root: await readFile(files.path(`${name}-root.pem`), 'utf8'),
      server: { key: await readFile(files.path(`${name}-server.key`), 'utf8'), cert: await readFile(files.path(`${name}-server.pem`), 'utf8') },
    };
  }

  const listen = (server: http.Server | https.Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

  before(async () => {
    files = await pemFiles({});
    const [a, b] = await Promise.all([makeCa('a'), makeCa('b')]);
    rootA = a.root;
    rootB = b.root;
    serverA = a.server;
    serverB = b.server;
    fingerprintA = createHash('sha256').update(new X509Certificate(rootA).raw).digest('hex');
    const client = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.path('client.key'), '-out', files.path('client.pem'), '-subj', '/CN=billing.svc', '-days', '1']);
    assert.equal(client.code, 0, client.stderr);
    clientIdentity = { keyPem: await readFile(files.path('client.key'), 'utf8'), certificatePem: await readFile(files.path('client.pem'), 'utf8') };

    publicServer = http.createServer((req, res) => {
      publicRequests += 1;
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(rootA);
    });
    api = https.createServer({ ...serverA, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      recorded.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        clientCertificate: Boolean((req.socket as TLSSocket).getPeerCertificate()?.raw),
      });
      const next = responders.shift() ?? problem(500, 'internal', 'no responder left');
      req.resume();
      req.on('end', () => next(req, res));
    });
    api.on('secureConnection', () => (apiConnections += 1));
    apiB = https.createServer(serverB, (_req, res) => {
      apiBRequests += 1;
      res.end('{}');
    });
    publicUrl = `http://127.0.0.1:${await listen(publicServer)}`;
    caUrl = `https://127.0.0.1:${await listen(api)}`;
    await listen(apiB);
  });

  after(async () => {
    for (const server of [publicServer, api, apiB]) {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
    await files?.cleanup();
  });

  beforeEach(() => {
    recorded = [];
    responders = [];
    publicRequests = 0;
    apiConnections = 0;
    apiBRequests = 0;
  });

  const connect = (options: Partial<TrustrootConnectOptions> = {}) =>
    TrustrootClient.connect({ caUrl, publicUrl, rootFingerprint: fingerprintA, token: 'trt_secret', retry: { budgetMs: 10_000 }, runtime: fakeRuntime(), ...options });

  it('derives the public listener from the CA URL: same host, port 8080, http', () => {
    assert.equal(defaultPublicUrl('https://ca.internal:8443/trustroot').toString(), 'http://ca.internal:8080/');
    assert.equal(defaultPublicUrl('https://[::1]:8443').toString(), 'http://[::1]:8080/');
  });

  it('pins the root fetched from the public listener, whatever the fingerprint spelling', async () => {
    const colons = `SHA256:${new X509Certificate(rootA).fingerprint256}`;
    const client = await connect({ rootFingerprint: colons });
    assert.equal(client.rootFingerprint, fingerprintA);
    assert.equal(client.rootPem, rootA);
    assert.equal(publicRequests, 1);
    assert.equal(apiConnections, 0, 'connect sends nothing to the API');
  });

  it('refuses a root with another fingerprint before any connection to the API', async () => {
    const wrong = createHash('sha256').update(new X509Certificate(rootB).raw).digest('hex');
    await assert.rejects(connect({ rootFingerprint: wrong }), (error: unknown) => {
      assert.ok(error instanceof RootFingerprintMismatchError);
      assert.equal(error.expected, wrong);
      assert.equal(error.actual, fingerprintA);
      return true;
    });
    assert.equal(apiConnections, 0);
    assert.equal(recorded.length, 0);
  });

  it('uses a root it is given instead of fetching one, still checked against the pin', async () => {
    await connect({ rootPem: rootA, publicUrl: 'http://127.0.0.1:1' });
    assert.equal(publicRequests, 0);
    await assert.rejects(connect({ rootPem: rootB }), RootFingerprintMismatchError);
  });

  it('trusts only the pinned root: an API certificate from another CA fails TLS, and no request is sent', async () => {
    const client = await connect({ caUrl: `https://127.0.0.1:${(apiB.address() as AddressInfo).port}` });
    await assert.rejects(client.listServices(), (error: unknown) => {
      assert.ok(error instanceof TrustrootTlsVerificationError, String(error));
      assert.match(error.message, /no token was sent/);
      return true;
    });
    assert.equal(apiBRequests, 0);
  });

  it('retries 503 with backoff, honouring Retry-After, then succeeds', async () => {
    const runtime = fakeRuntime();
    const retries: number[] = [];
    const client = await connect({ runtime, onRetry: (event) => retries.push(event.attempt) });
    responders = [problem(503, 'unavailable', 'database down'), problem(503, 'unavailable', 'database down'), json(200, { services: [] })];
    assert.deepEqual(await client.listServices(), []);
    assert.equal(recorded.length, 3);
    assert.ok(recorded.every((r) => r.authorization === 'Bearer trt_secret'));
    assert.deepEqual(retries, [1, 2]);
    assert.ok(runtime.sleeps.every((ms) => ms >= 1_000), `Retry-After: 1 → at least 1 s, got ${runtime.sleeps.join(', ')}`);
  });

  it('gives up on 503 after the budget with TrustrootUnavailableError carrying the problem', async () => {
    const client = await connect({ retry: { budgetMs: 4_000 } });
    responders = Array.from({ length: 20 }, () => problem(503, 'unavailable', 'database down'));
    await assert.rejects(client.listServices(), (error: unknown) => {
      assert.ok(error instanceof TrustrootUnavailableError);
      assert.equal(error.problem?.detail, 'database down');
      assert.equal(error.attempts, recorded.length);
      assert.ok(error.attempts >= 2 && error.attempts <= 5, `${error.attempts} attempts`);
      return true;
    });
  });

  for (const [status, kind] of [[400, 'bad_request'], [401, 'unauthorized'], [403, 'policy_violation'], [404, 'not_found'], [409, 'conflict']] as const) {
    it(`never retries a ${status}: TrustrootApiError with the problem`, async () => {
      const runtime = fakeRuntime();
      const client = await connect({ runtime });
      responders = [problem(status, kind, `refused ${status}`, { name: 'payments.svc' })];
      await assert.rejects(client.issueCertificate({ profile: 'peer', csr: 'x' }), (error: unknown) => {
        assert.ok(error instanceof TrustrootApiError);
        assert.equal(error.status, status);
        assert.equal(error.type, `urn:trustroot:problem:${kind}`);
        assert.equal(error.kind, kind);
        assert.equal(error.detail, `refused ${status}`);
        assert.equal(error.refusedName, 'payments.svc');
        assert.equal(error.requestId, 'req-1');
        assert.equal(error.name, 'TrustrootApiError');
        return true;
      });
      assert.equal(recorded.length, 1);
      assert.deepEqual(runtime.sleeps, []);
    });
  }

  it('describes a non-problem error body by its status', async () => {
    const client = await connect();
    responders = [(_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>')];
    await assert.rejects(client.getService('billing'), (error: unknown) => error instanceof TrustrootApiError && error.status === 502 && error.detail === '<h1>Bad gateway</h1>');
  });

  it('does not repeat a POST whose connection broke after it was sent (a bootstrap token may be spent)', async () => {
    const client = await connect();
    responders = [hangUp, json(201, {})];
    await assert.rejects(client.issueCertificate({ profile: 'peer', csr: 'x' }), (error: unknown) => {
      assert.ok(error instanceof TrustrootUnavailableError);
      assert.equal(error.retryable, false);
      assert.match(error.message, /may have taken effect/);
      return true;
    });
    assert.equal(recorded.length, 1);
  });

  it('repeats a GET whose connection broke', async () => {
    const client = await connect();
    responders = [hangUp, json(200, { services: [] })];
    assert.deepEqual(await client.listServices(), []);
    assert.equal(recorded.length, 2);
  });

  it('retries a refused connection until the budget, then TrustrootUnavailableError', async () => {
    const runtime = fakeRuntime();
    const closed = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(connect({ publicUrl: closed, runtime, retry: { budgetMs: 3_000 } }), (error: unknown) => {
      assert.ok(error instanceof TrustrootUnavailableError);
      assert.match(error.message, /ECONNREFUSED/);
      assert.ok(error.attempts > 2);
      return true;
    });
    assert.equal(runtime.sleeps.reduce((sum, ms) => sum + ms, 0), 3_000);
  });

  it('renews over mTLS without the token, even when one is configured', async () => {
    const client = await connect({ clientCertificate: clientIdentity });
    responders = [json(201, { serial: '01' }), json(200, { services: [] })];
    await client.renewCertificate();
    await client.listServices();
    assert.deepEqual(
      recorded.map((r) => [r.url, r.authorization, r.clientCertificate]),
      [['/v1/certificates/renew', undefined, true], ['/v1/services', 'Bearer trt_secret', true]],
    );
  });

  it('refuses a client key that does not belong to the client certificate, before connecting', async () => {
    const other = await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    await assert.rejects(connect({ clientCertificate: { ...clientIdentity, keyPem: other.stdout } }), /does not belong/);
    assert.equal(publicRequests, 0);
  });

  it('refuses a plain-http CA URL: the API is only ever spoken to over TLS', async () => {
    await assert.rejects(connect({ caUrl: 'http://127.0.0.1:8443' }), /must be an https: URL/);
  });
});
