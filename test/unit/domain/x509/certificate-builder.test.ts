import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import {
  buildCaCertificate,
  buildLeafCertificate,
  type IssuerLocations,
  type SigningIssuer,
} from '../../../../src/domain/x509/certificate-builder.ts';
import { certificateFacts, certificatePem } from '../../../../src/domain/x509/certificate-facts.ts';
import { sha256Hex } from '../../../../src/domain/sha256-hex.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

async function ecKeys(namedCurve: 'P-256' | 'P-384'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function signer(name: string, certificate: x509.X509Certificate, keys: CryptoKeyPair, keyAlgorithm: KeyAlgorithmName): SigningIssuer {
  return { name, certificate, privateKey: keys.privateKey, keyAlgorithm };
}

function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing ${what}`);
  return value;
}

function crlUrls(certificate: x509.X509Certificate): string[] {
  const extension = certificate.getExtension(x509.CRLDistributionPointsExtension);
  return Array.from(extension?.distributionPoints ?? []).flatMap((point) =>
    (point.distributionPoint?.fullName ?? []).flatMap((name) => (name.uniformResourceIdentifier ? [name.uniformResourceIdentifier] : [])),
  );
}

function aiaUrls(certificate: x509.X509Certificate): { caIssuers: string[]; ocsp: string[] } {
  const extension = certificate.getExtension(x509.AuthorityInfoAccessExtension);
  return {
    caIssuers: (extension?.caIssuers ?? []).map((name) => `${name.type}:${name.value}`),
    ocsp: (extension?.ocsp ?? []).map((name) => `${name.type}:${name.value}`),
  };
}

const ROOT = {
  serialHex: '4f0e0d0c0b0a09080706050403020100',
  notBefore: new Date('2025-01-01T00:00:00Z'),
  // After 2049: encoded as GeneralizedTime.
  notAfter: new Date('2055-01-01T00:00:00Z'),
};
const INTERMEDIATE = {
  serialHex: '5a5b5c5d5e5f60616263646566676869',
  notBefore: new Date('2025-01-01T00:05:00Z'),
  notAfter: new Date('2035-01-01T12:34:56Z'),
};
const LEAF = {
  serialHex: '7fffffffffffffffffffffffffffff01',
  notBefore: new Date('2030-03-01T10:00:00Z'),
  notAfter: new Date('2030-03-02T10:00:07Z'),
};
/** A moment inside every validity above, for `openssl verify -attime`. */
const VERIFY_AT = String(Date.parse('2030-03-01T12:00:00Z') / 1000);

const ROOT_LOCATIONS: IssuerLocations = {
  caIssuersUrl: 'http://pki.example.org/ca/root.crt',
  crlUrl: 'http://pki.example.org/crl/root.crl',
};
const INTERMEDIATE_LOCATIONS: IssuerLocations = {
  caIssuersUrl: 'http://pki.example.org/ca/intermediate.crt',
  crlUrl: 'http://pki.example.org/crl/intermediate.crl',
  ocspUrl: 'http://pki.example.org/ocsp/intermediate',
};
const SANS = {
  dnsNames: ['orders.svc.example.org', 'orders'],
  ipAddresses: ['10.1.2.3', '2001:db8::1'],
  uris: ['spiffe://example.org/ns/a'],
};

describe('CA and leaf certificates', () => {
  let rootKeys: CryptoKeyPair;
  let intermediateKeys: CryptoKeyPair;
  let leafKeys: CryptoKeyPair;
  let root: x509.X509Certificate;
  let intermediate: x509.X509Certificate;
  let leaf: x509.X509Certificate;
  let namedLeaf: x509.X509Certificate;
  let files: Awaited<ReturnType<typeof pemFiles>>;

  before(async () => {
    [rootKeys, intermediateKeys, leafKeys] = await Promise.all([ecKeys('P-384'), ecKeys('P-256'), ecKeys('P-256')]);
    root = await buildCaCertificate({
      ...ROOT,
      subjectDn: 'CN=Unit Root CA, O=Trustroot',
      subjectPublicKey: rootKeys.publicKey,
      pathLength: 1,
      selfSigningKey: { privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p384' },
    });
    intermediate = await buildCaCertificate({
      ...INTERMEDIATE,
      subjectDn: 'CN=Unit Issuing CA, O=Trustroot',
      subjectPublicKey: intermediateKeys.publicKey,
      pathLength: 0,
      parent: { issuer: signer('root', root, rootKeys, 'ecdsa-p384'), locations: ROOT_LOCATIONS },
    });
    const leafParams = {
      ...LEAF,
      sans: SANS,
      subjectPublicKey: leafKeys.publicKey,
      keyUsages: x509.KeyUsageFlags.digitalSignature,
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      issuer: signer('intermediate', intermediate, intermediateKeys, 'ecdsa-p256'),
      locations: INTERMEDIATE_LOCATIONS,
    };
    leaf = await buildLeafCertificate(leafParams);
    namedLeaf = await buildLeafCertificate({ ...leafParams, commonName: 'orders, "eu" + <test>' });
    files = await pemFiles({
      'root.pem': certificatePem(root),
      'intermediate.pem': certificatePem(intermediate),
      'leaf.pem': certificatePem(leaf),
      'named-leaf.pem': certificatePem(namedLeaf),
    });
  });
  after(async () => {
    await files.cleanup();
  });

  const expected = [
    { name: 'root', get: () => root, window: ROOT },
    { name: 'intermediate', get: () => intermediate, window: INTERMEDIATE },
    { name: 'leaf', get: () => leaf, window: LEAF },
  ];
  for (const { name, get, window } of expected) {
    it(`${name}: carries the given serial and validity`, () => {
      const certificate = get();
      assert.equal(certificate.serialNumber.toLowerCase(), window.serialHex);
      assert.equal(certificate.notBefore.getTime(), window.notBefore.getTime());
      assert.equal(certificate.notAfter.getTime(), window.notAfter.getTime());
    });

    it(`${name}: has a subject key identifier of its own public key`, async () => {
      const ski = required(get().getExtension(x509.SubjectKeyIdentifierExtension), 'SKI');
      assert.match(ski.keyId, /^[0-9a-f]{40}$/);
      const keys = { root: rootKeys, intermediate: intermediateKeys, leaf: leafKeys }[name];
      const expectedSki = await x509.SubjectKeyIdentifierExtension.create(required(keys, 'keys').publicKey);
      assert.equal(ski.keyId, expectedSki.keyId);
    });
  }

  it('signs with SHA-384 under the P-384 root and SHA-256 under the P-256 intermediate', () => {
    assert.deepEqual(root.signatureAlgorithm, { name: 'ECDSA', hash: { name: 'SHA-384' } });
    assert.deepEqual(intermediate.signatureAlgorithm, { name: 'ECDSA', hash: { name: 'SHA-384' } });
    assert.deepEqual(leaf.signatureAlgorithm, { name: 'ECDSA', hash: { name: 'SHA-256' } });
  });

  const constraints = [
    { name: 'root', get: () => root, ca: true, pathLength: 1 as number | undefined },
    { name: 'intermediate', get: () => intermediate, ca: true, pathLength: 0 as number | undefined },
    { name: 'leaf', get: () => leaf, ca: false, pathLength: undefined },
  ];
  for (const { name, get, ca, pathLength } of constraints) {
    it(`${name}: critical basicConstraints CA=${ca} pathLength=${pathLength}`, () => {
      const basic = required(get().getExtension(x509.BasicConstraintsExtension), 'basicConstraints');
      assert.equal(basic.critical, true);
      assert.equal(basic.ca, ca);
      assert.equal(basic.pathLength, pathLength);
    });
  }

  it('gives CAs a critical keyUsage of keyCertSign, cRLSign (and digitalSignature for OCSP)', () => {
    for (const certificate of [root, intermediate]) {
      const usage = required(certificate.getExtension(x509.KeyUsagesExtension), 'keyUsage');
      assert.equal(usage.critical, true);
      assert.equal(
        usage.usages,
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
      );
      assert.equal(certificate.getExtension(x509.ExtendedKeyUsageExtension), null);
    }
  });

  it('gives the leaf a critical keyUsage of digitalSignature and serverAuth + clientAuth EKU', () => {
    const usage = required(leaf.getExtension(x509.KeyUsagesExtension), 'keyUsage');
    assert.equal(usage.critical, true);
    assert.equal(usage.usages, x509.KeyUsageFlags.digitalSignature);
    const eku = required(leaf.getExtension(x509.ExtendedKeyUsageExtension), 'EKU');
    assert.deepEqual([...eku.usages], [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  });

  it('chains key identifiers: AKI of each certificate is its issuer’s SKI', () => {
    const ski = (certificate: x509.X509Certificate) =>
      required(certificate.getExtension(x509.SubjectKeyIdentifierExtension), 'SKI').keyId;
    const aki = (certificate: x509.X509Certificate) =>
      required(certificate.getExtension(x509.AuthorityKeyIdentifierExtension), 'AKI').keyId;
    assert.equal(aki(intermediate), ski(root));
    assert.equal(aki(leaf), ski(intermediate));
    assert.equal(aki(root), ski(root));
    assert.notEqual(ski(intermediate), ski(root));
  });

  it('names the issuer by its exact encoded subject', () => {
    assert.deepEqual(Buffer.from(intermediate.issuerName.toArrayBuffer()), Buffer.from(root.subjectName.toArrayBuffer()));
    assert.deepEqual(Buffer.from(leaf.issuerName.toArrayBuffer()), Buffer.from(intermediate.subjectName.toArrayBuffer()));
    assert.equal(root.issuer, root.subject);
  });

  it('puts the parent’s CRL and caIssuers URLs into the intermediate, and none into the root', () => {
    assert.deepEqual(crlUrls(intermediate), [ROOT_LOCATIONS.crlUrl]);
    assert.deepEqual(aiaUrls(intermediate), { caIssuers: [`url:${ROOT_LOCATIONS.caIssuersUrl}`], ocsp: [] });
    assert.deepEqual(crlUrls(root), []);
    assert.equal(root.getExtension(x509.AuthorityInfoAccessExtension), null);
  });

  it('puts the intermediate’s CRL, caIssuers and OCSP URLs into the leaf', () => {
    assert.deepEqual(crlUrls(leaf), [INTERMEDIATE_LOCATIONS.crlUrl]);
    assert.deepEqual(aiaUrls(leaf), {
      caIssuers: [`url:${INTERMEDIATE_LOCATIONS.caIssuersUrl}`],
      ocsp: [`url:${INTERMEDIATE_LOCATIONS.ocspUrl}`],
    });
  });

  it('omits OCSP from the leaf AIA when the issuer has no responder', async () => {
    const withoutOcsp = await buildLeafCertificate({
      ...LEAF,
      commonName: 'x',
      sans: SANS,
      subjectPublicKey: leafKeys.publicKey,
      keyUsages: x509.KeyUsageFlags.digitalSignature,
      extendedKeyUsages: [x509.ExtendedKeyUsage.clientAuth],
      issuer: signer('intermediate', intermediate, intermediateKeys, 'ecdsa-p256'),
      locations: { caIssuersUrl: INTERMEDIATE_LOCATIONS.caIssuersUrl, crlUrl: INTERMEDIATE_LOCATIONS.crlUrl },
    });
    assert.deepEqual(aiaUrls(withoutOcsp).ocsp, []);
  });

  it('marks SAN critical when the subject is empty, and not critical with a subject', () => {
    assert.equal(leaf.subject, '');
    assert.equal(required(leaf.getExtension(x509.SubjectAlternativeNameExtension), 'SAN').critical, true);
    assert.notEqual(namedLeaf.subject, '');
    assert.equal(required(namedLeaf.getExtension(x509.SubjectAlternativeNameExtension), 'SAN').critical, false);
  });

  it('escapes the common name so that it parses back unchanged', () => {
    assert.deepEqual(namedLeaf.subjectName.getField('CN'), ['orders, "eu" + <test>']);
    assert.equal(namedLeaf.subjectName.getField('O').length, 0);
  });

  it('refuses to build a root without its own signing key', async () => {
    await assert.rejects(
      buildCaCertificate({ ...ROOT, subjectDn: 'CN=No Key', subjectPublicKey: rootKeys.publicKey }),
      /needs its own private key/,
    );
  });

  describe('certificateFacts', () => {
    it('reads the SAN lists, serial, names and validity', () => {
      const facts = certificateFacts(leaf);
      assert.deepEqual(facts.sans, SANS);
      assert.equal(facts.serialHex, LEAF.serialHex);
      assert.equal(facts.subjectDn, '');
      assert.equal(facts.commonName, undefined);
      assert.equal(facts.notBefore.getTime(), LEAF.notBefore.getTime());
      assert.equal(facts.notAfter.getTime(), LEAF.notAfter.getTime());
      assert.equal(certificateFacts(namedLeaf).commonName, 'orders, "eu" + <test>');
      assert.equal(certificateFacts(intermediate).subjectDn, 'CN=Unit Issuing CA, O=Trustroot');
    });

    it('hashes the SubjectPublicKeyInfo and the whole DER with SHA-256', async () => {
      const facts = certificateFacts(leaf);
      const spki = new Uint8Array(await webcrypto.subtle.exportKey('spki', leafKeys.publicKey));
      assert.match(facts.spkiSha256, /^[0-9a-f]{64}$/);
      assert.equal(facts.spkiSha256, createHash('sha256').update(spki).digest('hex'));
      assert.equal(facts.fingerprintSha256, createHash('sha256').update(new Uint8Array(leaf.rawData)).digest('hex'));
      assert.deepEqual(facts.der, new Uint8Array(leaf.rawData));
      assert.notEqual(facts.fingerprintSha256, certificateFacts(namedLeaf).fingerprintSha256);
      assert.equal(facts.spkiSha256, certificateFacts(namedLeaf).spkiSha256);
    });

    it('lists empty SANs for a CA certificate', () => {
      assert.deepEqual(certificateFacts(root).sans, { dnsNames: [], ipAddresses: [], uris: [] });
    });

    it('sha256Hex accepts bytes and ArrayBuffers alike', () => {
      const expectedHex = createHash('sha256').update(Buffer.from([1, 2, 3])).digest('hex');
      assert.equal(sha256Hex(new Uint8Array([1, 2, 3])), expectedHex);
      assert.equal(sha256Hex(new Uint8Array([1, 2, 3]).buffer), expectedHex);
    });
  });

  describe('checked by OpenSSL', () => {
    const verify = (leafFile: string, ...extra: string[]) =>
      openssl([
        'verify',
        '-x509_strict',
        '-attime',
        VERIFY_AT,
        ...extra,
        '-CAfile',
        files.path('root.pem'),
        '-untrusted',
        files.path('intermediate.pem'),
        files.path(leafFile),
      ]);

    for (const leafFile of ['leaf.pem', 'named-leaf.pem']) {
      it(`${leafFile} verifies strictly to the root`, async () => {
        const result = await verify(leafFile);
        assert.equal(result.code, 0, result.stderr + result.stdout);
        assert.match(result.stdout, /: OK/);
      });

      for (const purpose of ['sslserver', 'sslclient']) {
        it(`${leafFile} is fit for -purpose ${purpose}`, async () => {
          const result = await verify(leafFile, '-purpose', purpose);
          assert.equal(result.code, 0, result.stderr + result.stdout);
        });
      }
    }

    it('the intermediate verifies strictly against the root', async () => {
      const result = await openssl([
        'verify', '-x509_strict', '-attime', VERIFY_AT, '-CAfile', files.path('root.pem'), files.path('intermediate.pem'),
      ]);
      assert.equal(result.code, 0, result.stderr + result.stdout);
    });

    it('the leaf does not verify without the intermediate, nor after its validity', async () => {
      const missing = await openssl(['verify', '-attime', VERIFY_AT, '-CAfile', files.path('root.pem'), files.path('leaf.pem')]);
      assert.notEqual(missing.code, 0);
      const expired = await verify('leaf.pem', '-attime', String(LEAF.notAfter.getTime() / 1000 + 60));
      assert.notEqual(expired.code, 0);
    });

    it('pathLength 0 stops a CA under the intermediate', async () => {
      const subKeys = await ecKeys('P-256');
      const sub = await buildCaCertificate({
        serialHex: '6000000000000000000000000000000b',
        notBefore: INTERMEDIATE.notBefore,
        notAfter: INTERMEDIATE.notAfter,
        subjectDn: 'CN=Too Deep CA',
        subjectPublicKey: subKeys.publicKey,
        parent: { issuer: signer('intermediate', intermediate, intermediateKeys, 'ecdsa-p256'), locations: INTERMEDIATE_LOCATIONS },
      });
      const deepLeaf = await buildLeafCertificate({
        ...LEAF,
        sans: SANS,
        subjectPublicKey: leafKeys.publicKey,
        keyUsages: x509.KeyUsageFlags.digitalSignature,
        extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth],
        issuer: signer('sub', sub, subKeys, 'ecdsa-p256'),
        locations: INTERMEDIATE_LOCATIONS,
      });
      const deep = await pemFiles({
        'chain.pem': certificatePem(intermediate) + certificatePem(sub),
        'leaf.pem': certificatePem(deepLeaf),
      });
      try {
        const result = await openssl([
          'verify', '-attime', VERIFY_AT, '-CAfile', files.path('root.pem'), '-untrusted', deep.path('chain.pem'), deep.path('leaf.pem'),
        ]);
        assert.notEqual(result.code, 0);
        assert.match(result.stdout + result.stderr, /path length/i);
      } finally {
        await deep.cleanup();
      }
    });
  });
});
