import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpsRequest } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

describe('a running Trustroot', () => {
  let trustroot: TestTrustroot;
  let rootPem: string;

  before(async () => {
    trustroot = await startTestTrustroot();
    const response = await fetch(`${trustroot.publicUrl}/ca/root.pem`);
    assert.equal(response.status, 200);
    rootPem = await response.text();
  });
  after(() => trustroot.destroy());

  it('serves the chain over HTTPS, and OpenSSL verifies the chain and the server certificate', async () => {
    const response = await httpsRequest(`${trustroot.apiUrl}/v1/ca/chain`, { ca: rootPem });
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^application\/pem-certificate-chain/);
    assert.ok(response.peerCertificateDer);
    const serverPem = `-----BEGIN CERTIFICATE-----\n${response.peerCertificateDer.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const files = await pemFiles({ 'root.pem': rootPem, 'chain.pem': response.text, 'server.pem': serverPem });
    try {
      const chain = await openssl(['verify', '-x509_strict', '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('chain.pem')]);
      assert.equal(chain.code, 0, chain.stderr + chain.stdout);
      const server = await openssl([
        'verify', '-x509_strict', '-purpose', 'sslserver',
        '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('server.pem'),
      ]);
      assert.equal(server.code, 0, server.stderr + server.stdout);
      assert.match(server.stdout, /server\.pem: OK/);
    } finally {
      await files.cleanup();
    }
  });
});
