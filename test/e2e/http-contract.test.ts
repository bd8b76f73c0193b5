import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { httpsRequest, type HttpsResponse } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';
import type { Problem } from '../support/http-assertions.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ISSUERS = ['root', 'intermediate', 'test-root', 'test-intermediate'] as const;

/** Splits a PEM bundle into its certificates, in order. */
function parsePemChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** Asserts an RFC 9457 problem with `status`, and returns its body. */
function assertProblem(response: { status: number; headers: Headers | HttpsResponse['headers']; text: string }, status: number): Problem {
  const header = (name: string): string | undefined => {
    if (response.headers instanceof Headers) return response.headers.get(name) ?? undefined;
    const value = response.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  assert.equal(response.status, status, response.text);
  assert.match(String(header('content-type')), /^application\/problem\+json/);
  const body = JSON.parse(response.text) as Problem;
  assert.match(body.type, /^urn:trustroot:problem:[a-z_]+$/);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  assert.ok(body.detail.length > 0);
  const requestId = header('x-request-id');
  assert.ok(requestId, 'x-request-id header is missing');
  assert.equal(body.requestId, requestId);
  assertNoStack(response.text);
  return body;
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /stack/i, `a stack leaked: ${text}`);
  assert.doesNotMatch(text, /\sat\s+\S+\s+\(?[^)]*:\d+:\d+\)?/, `a stack frame leaked: ${text}`);
  assert.doesNotMatch(text, /\/work\/|node_modules|\.ts:\d+/, `a source path leaked: ${text}`);
}

interface TlsProbe {
  protocol: string | null;
  peerSerial: string;
}

/** Opens a raw TLS connection to the API and reports the negotiated protocol; rejects on handshake failure. */
function tlsProbe(port: number, options: tls.ConnectionOptions): Promise<TlsProbe> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const result = { protocol: socket.getProtocol(), peerSerial: socket.getPeerCertificate().serialNumber };
      socket.end();
      resolve(result);
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS probe timed out')));
    socket.on('error', reject);
  });
}

describe('the HTTP contract of a running Trustroot', () => {
  let trustroot: TestTrustroot;
  let rootPem: string;
  const der = new Map<string, Buffer>();

  before(async () => {
    trustroot = await startTestTrustroot();
    const response = await fetch(`${trustroot.publicUrl}/ca/root.pem`);
    assert.equal(response.status, 200);
    rootPem = await response.text();
    for (const name of ISSUERS) {
      const crt = await fetch(`${trustroot.publicUrl}/ca/${name}.crt`);
      assert.equal(crt.status, 200);
      der.set(name, Buffer.from(await crt.arrayBuffer()));
    }
  });
  // Guarded: when start-up fails in before(), there is nothing to destroy and the real error must show.
  after(async () => {
    if (trustroot !== undefined) await trustroot.destroy();
  });

  const api = (pathAndQuery: string, options: Omit<Parameters<typeof httpsRequest>[1], 'ca'> = {}) =>
    httpsRequest(`${trustroot.apiUrl}${pathAndQuery}`, { ...options, ca: rootPem });

  describe('CA publication', () => {
    it('/v1/ca lists the four issuers with fingerprints equal to sha256 of the published DER', async () => {
      const response = await api('/v1/ca');
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const body = JSON.parse(response.text) as { issuers: { name: string; fingerprintSha256: string; kind: string; environment: string; parent?: string }[] };
      assert.deepEqual(
        body.issuers.map((issuer) => issuer.name).sort(),
        [...ISSUERS].sort(),
      );
      for (const issuer of body.issuers) {
        assert.match(issuer.fingerprintSha256, /^[0-9a-f]{64}$/);
        const published = der.get(issuer.name);
        assert.ok(published, `no DER fetched for ${issuer.name}`);
        assert.equal(issuer.fingerprintSha256, createHash('sha256').update(published).digest('hex'), issuer.name);
      }
      const byName = new Map(body.issuers.map((issuer) => [issuer.name, issuer]));
      assert.equal(byName.get('intermediate')?.parent, 'root');
      assert.equal(byName.get('test-intermediate')?.parent, 'test-root');
      assert.equal(byName.get('root')?.parent, undefined);
      assert.equal(byName.get('test-root')?.environment, 'test');
      assert.equal(byName.get('root')?.environment, 'production');
      assert.equal(new Set(body.issuers.map((issuer) => issuer.fingerprintSha256)).size, 4);
    });

    it('API answers carry no ETag: no client can turn a GET into an (undocumented) 304 by sending one back', async () => {
      const plain = await api('/v1/ca');
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.etag, undefined);
      const issuance = await api('/v1/certificates', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(issuance.headers.etag, undefined, 'not even on a problem');
    });

    for (const name of ISSUERS) {
      it(`/ca/${name}.crt is application/pkix-cert and the same certificate as /ca/${name}.pem`, async () => {
        const crt = await fetch(`${trustroot.publicUrl}/ca/${name}.crt`);
        assert.equal(crt.status, 200);
        assert.match(String(crt.headers.get('content-type')), /^application\/pkix-cert/);
        const crtDer = Buffer.from(await crt.arrayBuffer());
        const pem = await fetch(`${trustroot.publicUrl}/ca/${name}.pem`);
        assert.equal(pem.status, 200);
        const pemText = await pem.text();
        assert.match(pemText, /^-----BEGIN CERTIFICATE-----\n/);
        const fromPem = parsePemChain(pemText);
        assert.equal(fromPem.length, 1);
        const [certificate] = fromPem;
        assert.ok(certificate);
        assert.ok(certificate.raw.equals(crtDer), `${name}.crt differs from ${name}.pem`);
        assert.equal(certificate.ca, true);
      });
    }

    it('/ca/<unknown>.crt is a 400 or 404 problem, never a certificate', async () => {
      const response = await fetch(`${trustroot.publicUrl}/ca/nope.crt`);
      const text = await response.text();
      assert.ok(response.status === 400 || response.status === 404, `status ${response.status}`);
      assertProblem({ status: response.status, headers: response.headers, text }, response.status);
    });

    it('/v1/ca/chain is the intermediate then the root', async () => {
      const response = await api('/v1/ca/chain');
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /^application\/pem-certificate-chain/);
      const chain = parsePemChain(response.text);
      assert.equal(chain.length, 2);
      const [intermediate, root] = chain;
      assert.ok(intermediate && root);
      assert.match(intermediate.subject, /CN=Trustroot Issuing CA/);
      assert.equal(intermediate.issuer, root.subject);
      assert.equal(root.subject, root.issuer);
      assert.match(root.subject, /CN=Trustroot Root CA/);
      assert.ok(intermediate.verify(root.publicKey));
      assert.ok(root.raw.equals(der.get('root') ?? Buffer.alloc(0)));
      assert.ok(intermediate.raw.equals(der.get('intermediate') ?? Buffer.alloc(0)));
    });

    it('/v1/ca/chain?issuer=test-intermediate is the test chain', async () => {
      const response = await api('/v1/ca/chain?issuer=test-intermediate');
      assert.equal(response.status, 200);
      const chain = parsePemChain(response.text);
      assert.equal(chain.length, 2);
      const [intermediate, root] = chain;
      assert.ok(intermediate && root);
      assert.match(intermediate.subject, /CN=Trustroot Test Issuing CA - NOT FOR PRODUCTION/);
      assert.match(root.subject, /CN=Trustroot Test Root CA - NOT FOR PRODUCTION/);
      assert.equal(intermediate.issuer, root.subject);
      assert.equal(root.subject, root.issuer);
      assert.ok(intermediate.verify(root.publicKey));
      assert.ok(root.raw.equals(der.get('test-root') ?? Buffer.alloc(0)));
      assert.ok(intermediate.raw.equals(der.get('test-intermediate') ?? Buffer.alloc(0)));
    });

    it('OpenSSL verifies the production chain, and a test certificate never chains to the production root', async () => {
      const production = await api('/v1/ca/chain');
      const test = await api('/v1/ca/chain?issuer=test-intermediate');
      const [testIntermediate, testRoot] = parsePemChain(test.text);
      assert.ok(testIntermediate && testRoot);
      const files = await pemFiles({
        'root.pem': rootPem,
        'chain.pem': production.text,
        'test-chain.pem': test.text,
        'test-root.pem': testRoot.toString(),
        'test-intermediate.pem': testIntermediate.toString(),
      });
      try {
        const chain = await openssl(['verify', '-x509_strict', '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('chain.pem')]);
        assert.equal(chain.code, 0, chain.stderr + chain.stdout);
        // The test tree verifies against its own root…
        const own = await openssl(['verify', '-x509_strict', '-CAfile', files.path('test-root.pem'), files.path('test-intermediate.pem')]);
        assert.equal(own.code, 0, own.stderr + own.stdout);
        // …and never against the production root, even with every production certificate offered.
        const crossed = await openssl([
          'verify', '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('test-intermediate.pem'),
        ]);
        assert.notEqual(crossed.code, 0, crossed.stdout);
        assert.match(crossed.stderr + crossed.stdout, /unable to get (local )?issuer certificate/);
      } finally {
        await files.cleanup();
      }
    });
  });

  describe('health and the OpenAPI document', () => {
    for (const listener of ['api', 'public'] as const) {
      for (const route of ['/healthz', '/readyz'] as const) {
        it(`${route} on the ${listener} listener is 200 JSON`, async () => {
          const { status, contentType, text } =
            listener === 'api'
              ? await api(route).then((r) => ({ status: r.status, contentType: String(r.headers['content-type']), text: r.text }))
              : await fetch(`${trustroot.publicUrl}${route}`).then(async (r) => ({
                  status: r.status,
                  contentType: String(r.headers.get('content-type')),
                  text: await r.text(),
                }));
          assert.equal(status, 200, text);
          assert.match(contentType, /^application\/json/);
          const body = JSON.parse(text) as { status: string; checks?: Record<string, string> };
          if (route === '/healthz') {
            assert.equal(body.status, 'ok');
          } else {
            assert.deepEqual(body, { status: 'ready', checks: { database: 'ok', caKeys: 'ok' } });
          }
        });
      }
    }

    it(
      'HEAD is answered like GET on the public listener (RFC 9110 §9.1; load balancers probe /healthz with HEAD)',
      async () => {
        for (const route of ['/healthz', '/readyz', '/ca/root.crt']) {
          const get = await fetch(`${trustroot.publicUrl}${route}`);
          const head = await fetch(`${trustroot.publicUrl}${route}`, { method: 'HEAD' });
          assert.equal(head.status, 200, `HEAD ${route}`);
          assert.equal(head.headers.get('content-type'), get.headers.get('content-type'));
          assert.equal((await head.arrayBuffer()).byteLength, 0);
        }
      },
    );

    it('GET /openapi.yaml returns the exact text of openapi.yaml', async () => {
      const expected = await readFile(path.join(PROJECT_ROOT, 'openapi.yaml'), 'utf8');
      const response = await api('/openapi.yaml');
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /yaml/);
      assert.equal(response.text, expected);
    });
  });

  describe('errors are problem+json', () => {
    it('an unknown route is 404', async () => {
      const body = assertProblem(await api('/v1/no-such-thing'), 404);
      assert.equal(body.type, 'urn:trustroot:problem:not_found');
    });

    it('an unknown route on the public listener is 404', async () => {
      const response = await fetch(`${trustroot.publicUrl}/v1/no-such-thing`);
      const body = assertProblem({ status: response.status, headers: response.headers, text: await response.text() }, 404);
      assert.equal(body.type, 'urn:trustroot:problem:not_found');
    });

    it('a wrong method (DELETE /v1/ca) is 405', async () => {
      const body = assertProblem(await api('/v1/ca', { method: 'DELETE' }), 405);
      assert.equal(body.type, 'urn:trustroot:problem:method_not_allowed');
    });

    it('a 405 names the allowed methods in an Allow header (RFC 9110 §15.5.6)', async () => {
      const response = await api('/v1/ca', { method: 'DELETE' });
      assertProblem(response, 405);
      assert.match(String(response.headers.allow), /\bGET\b/);
    });

    it('a body over the limit (64kb) is 413', async () => {
      const big = JSON.stringify({ padding: 'x'.repeat(70 * 1024) });
      const body = assertProblem(
        await api('/v1/ca', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }),
        413,
      );
      assert.equal(body.type, 'urn:trustroot:problem:payload_too_large');
    });

    it('invalid JSON is 400', async () => {
      const body = assertProblem(
        await api('/v1/ca', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"not json' }),
        400,
      );
      assert.equal(body.type, 'urn:trustroot:problem:bad_request');
      assert.match(body.detail, /JSON/);
    });

    it('an invalid query (?issuer=root) is 400 and names the parameter', async () => {
      const body = assertProblem(await api('/v1/ca/chain?issuer=root'), 400);
      assert.equal(body.type, 'urn:trustroot:problem:bad_request');
      assert.match(body.detail, /issuer/);
    });

    it('an unknown query parameter is 400', async () => {
      assertProblem(await api('/v1/ca?unexpected=1'), 400);
    });

    it("a caller's X-Request-Id is echoed, in the header and in the problem", async () => {
      const ok = await api('/v1/ca', { headers: { 'X-Request-Id': 'abc-123' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['x-request-id'], 'abc-123');
      const problem = assertProblem(await api('/v1/no-such-thing', { headers: { 'X-Request-Id': 'abc-123' } }), 404);
      assert.equal(problem.requestId, 'abc-123');
    });

    it('an insane X-Request-Id is replaced by a generated one', async () => {
      const response = await api('/v1/ca', { headers: { 'X-Request-Id': 'a b<script>' } });
      assert.equal(response.status, 200);
      const id = String(response.headers['x-request-id']);
      assert.notEqual(id, 'a b<script>');
      assert.match(id, /^[0-9a-f-]{36}$/);
    });
  });

  describe('TLS', () => {
    it('refuses TLS 1.0 and 1.1 (even from a client willing to speak them)', async () => {
      const probe = tlsProbe(trustroot.instance.apiPort, {
        ca: rootPem,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        // Lets this client really offer TLS 1.0/1.1, so that the refusal can only come from the server.
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      await assert.rejects(probe, (error: NodeJS.ErrnoException) => {
        // The server's protocol_version alert (70), not a client-side refusal.
        assert.match(`${error.code ?? ''} ${error.message}`, /ALERT_PROTOCOL_VERSION|alert protocol version/i);
        return true;
      });
    });

    it('refuses TLS 1.2 CBC suites (AEAD only)', async () => {
      const probe = tlsProbe(trustroot.instance.apiPort, {
        ca: rootPem,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA256',
      });
      await assert.rejects(probe, /HANDSHAKE_FAILURE|handshake failure|no shared cipher/i);
    });

    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      it(`accepts ${version} with a certificate that verifies against the root`, async () => {
        const probe = await tlsProbe(trustroot.instance.apiPort, { ca: rootPem, minVersion: version, maxVersion: version });
        assert.equal(probe.protocol, version);
        assert.match(probe.peerSerial, /^[0-9A-F]+$/);
      });
    }

    it('requests a client certificate naming the Trustroot CAs (OpenSSL s_client)', async () => {
      const files = await pemFiles({ 'root.pem': rootPem });
      try {
        const result = await openssl(
          ['s_client', '-connect', `127.0.0.1:${trustroot.instance.apiPort}`, '-tls1_2', '-CAfile', files.path('root.pem'), '-verify_return_error'],
          '',
        );
        const output = result.stdout + result.stderr;
        assert.match(output, /Acceptable client certificate CA names/, output);
        assert.match(output, /Trustroot Root CA/);
        assert.match(output, /Verify return code: 0 \(ok\)/);
      } finally {
        await files.cleanup();
      }
    });

    it('does not require a client certificate, and a foreign one is tolerated on public routes', async () => {
      const none = await api('/v1/ca');
      assert.equal(none.status, 200);
      const files = await pemFiles({});
      try {
        const made = await openssl([
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
          '-subj', '/CN=stranger', '-days', '1',
          '-keyout', files.path('stranger.key'), '-out', files.path('stranger.pem'),
        ]);
        assert.equal(made.code, 0, made.stderr);
        const cert = await readFile(files.path('stranger.pem'), 'utf8');
        const key = await readFile(files.path('stranger.key'), 'utf8');
        const withForeign = await api('/v1/ca', { cert, key });
        assert.equal(withForeign.status, 200, withForeign.text);
        const body = JSON.parse(withForeign.text) as { issuers: unknown[] };
        assert.equal(body.issuers.length, 4);
      } finally {
        await files.cleanup();
      }
    });
  });
});
