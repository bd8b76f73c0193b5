import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { certificatePem, derCertificatePem } from '../../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';

describe('certificate PEM', () => {
  it('derCertificatePem writes the text @peculiar/x509 writes, for every line break position', () => {
    // Lengths around each multiple of 48 octets (a full 64-character line) and across a real certificate's size.
    for (let length = 1; length <= 1_500; length += length < 200 ? 1 : 47) {
      const der = randomBytes(length);
      const reference = `${x509.PemConverter.encode(new Uint8Array(der).buffer, 'CERTIFICATE').trim()}\n`;
      assert.equal(derCertificatePem(new Uint8Array(der)), reference, `${length} octets`);
    }
  });

  it('derCertificatePem reads only its view of a larger buffer', () => {
    const backing = randomBytes(300);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 10, 100);
    assert.equal(derCertificatePem(view), derCertificatePem(new Uint8Array(backing.subarray(10, 110))));
  });

  it('certificatePem is the certificate as OpenSSL reads it back, the same text on every call', async () => {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=PEM test',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const pem = certificatePem(certificate);
    assert.equal(pem, `${certificate.toString('pem').trim()}\n`);
    assert.equal(certificatePem(certificate), pem);
    assert.deepEqual(new Uint8Array(new X509Certificate(pem).raw), new Uint8Array(certificate.rawData));
  });
});
