import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extension } from '@peculiar/asn1-x509';
import { Nonce, OCSPRequest, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import {
  MalformedOcspRequestError,
  certIdMatchesIssuer,
  parseOcspRequest,
  type OcspCertId,
  type ParsedOcspRequest,
} from '../../../../src/domain/ocsp/ocsp-request.ts';
import {
  buildOcspResponse,
  ocspErrorResponse,
  type OcspCertStatus,
  type OcspResponder,
} from '../../../../src/domain/ocsp/ocsp-response.ts';
import {
  buildCaCertificate,
  buildLeafCertificate,
  type IssuerLocations,
  type SigningIssuer,
} from '../../../../src/domain/x509/certificate-builder.ts';
import { certificatePem } from '../../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

const subtle = webcrypto.subtle;
const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const HOUR = 3_600_000;
// OpenSSL checks thisUpdate/nextUpdate and the chain against the real clock, so the fixtures are
// built around it (the domain code itself never reads the clock).
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const ROOT_LOCATIONS: IssuerLocations = { caIssuersUrl: 'http://pki.example.org/ca/root.crt', crlUrl: 'http://pki.example.org/crl/root.crl' };
const INTERMEDIATE_LOCATIONS: IssuerLocations = {
  caIssuersUrl: 'http://pki.example.org/ca/intermediate.crt',
  crlUrl: 'http://pki.example.org/crl/intermediate.crl',
  ocspUrl: 'http://pki.example.org/ocsp/intermediate',
};
/** A leading zero nibble, to check that CertID serials come back without leading zeros. */
const LEAF_SERIAL = '0fedcba9876543210fedcba987654321';

async function generateKeys(algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  return (await subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
}

/** The private key re-imported as non-extractable, as a CA key handle is in production. */
async function nonExtractable(keys: CryptoKeyPair, algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  const privateKey = await subtle.importKey('pkcs8', pkcs8, keyAlgorithmParameters(algorithm).keyParams, false, ['sign']);
  return { publicKey: keys.publicKey, privateKey };
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const base64 = Buffer.from(await subtle.exportKey('pkcs8', key)).toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

function validity(serialHex: string): { serialHex: string; notBefore: Date; notAfter: Date } {
  return { serialHex, notBefore: new Date(NOW.getTime() - HOUR), notAfter: new Date(NOW.getTime() + 24 * HOUR) };
}

async function intermediateUnder(
  rootIssuer: SigningIssuer,
  algorithm: KeyAlgorithmName,
  serialHex: string,
  name: string,
): Promise<{ issuer: SigningIssuer; keys: CryptoKeyPair }> {
  const keys = await nonExtractable(await generateKeys(algorithm), algorithm);
  const certificate = await buildCaCertificate({
    ...validity(serialHex),
    subjectDn: `CN=${name}, O=Trustroot`,
    subjectPublicKey: keys.publicKey,
    pathLength: 0,
    parent: { issuer: rootIssuer, locations: ROOT_LOCATIONS },
  });
  return { issuer: { name, certificate, privateKey: keys.privateKey, keyAlgorithm: algorithm }, keys };
}

async function leafUnder(
  issuer: SigningIssuer,
  serialHex: string,
  extendedKeyUsages: string[] = [x509.ExtendedKeyUsage.serverAuth],
): Promise<{ certificate: x509.X509Certificate; keys: CryptoKeyPair }> {
  const keys = await generateKeys('ecdsa-p256');
  const certificate = await buildLeafCertificate({
    ...validity(serialHex),
    sans: { dnsNames: ['orders.svc.example.org'], ipAddresses: [], uris: [] },
    subjectPublicKey: keys.publicKey,
    keyUsages: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsages,
    issuer,
    locations: INTERMEDIATE_LOCATIONS,
  });
  return { certificate, keys };
}

function onlyCertId(request: ParsedOcspRequest): OcspCertId {
  assert.equal(request.certIds.length, 1);
  const [certId] = request.certIds;
  assert.ok(certId);
  return certId;
}

function issuerResponder(issuer: SigningIssuer): OcspResponder {
  return { certificate: issuer.certificate, privateKey: issuer.privateKey, keyAlgorithm: issuer.keyAlgorithm, includeCertificates: [] };
}

function assertMalformed(der: Uint8Array, message?: RegExp): void {
  assert.throws(
    () => parseOcspRequest(der),
    (error: unknown) => {
      assert.ok(error instanceof MalformedOcspRequestError, `expected MalformedOcspRequestError, got ${String(error)}`);
      if (message) assert.match(error.message, message);
      return true;
    },
  );
}

/** A request built with the ASN.1 library, for shapes the openssl CLI cannot produce. */
function requestWithNonceExtension(base: Uint8Array, extnValue: ArrayBuffer): Uint8Array {
  const request = AsnConvert.parse(base, OCSPRequest);
  request.tbsRequest.requestExtensions = [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(extnValue) })];
  return new Uint8Array(AsnConvert.serialize(request));
}

describe('OCSP request parsing and responses, checked with openssl', () => {
  let root: SigningIssuer;
  let intermediate: SigningIssuer;
  let leaf: x509.X509Certificate;
  let leafKeys: CryptoKeyPair;
  let files: Awaited<ReturnType<typeof pemFiles>>;

  async function request(name: string, args: string[]): Promise<Uint8Array> {
    const result = await openssl(['ocsp', '-issuer', files.path('intermediate.pem'), ...args, '-reqout', files.path(name)]);
    assert.equal(result.code, 0, result.stderr);
    return new Uint8Array(await readFile(files.path(name)));
  }

  async function writeDer(name: string, der: Uint8Array): Promise<string> {
    await writeFile(files.path(name), der);
    return files.path(name);
  }

  /**
   * `openssl ocsp -respin` with `-issuer`/`-cert`: verifies the response (signature, signer, chain
   * to root.pem) and prints the leaf's status. `-no_nonce` because openssl would otherwise invent a
   * request with a fresh nonce of its own to compare with (it ignores -reqin once -cert is given).
   */
  async function checkStatus(response: Uint8Array, extra: { digest?: string; args?: string[] } = {}): Promise<string> {
    const result = await openssl([
      'ocsp',
      '-respin',
      await writeDer('resp.der', response),
      '-issuer',
      files.path('intermediate.pem'),
      ...(extra.digest ? [extra.digest] : []),
      '-cert',
      files.path('leaf.pem'),
      '-no_nonce',
      '-CAfile',
      files.path('root.pem'),
      ...(extra.args ?? []),
    ]);
    return `${result.stdout}${result.stderr}`;
  }

  /** `openssl ocsp -reqin -respin`: verifies the response and compares its nonce with the request's. */
  async function checkNonce(requestFile: string, response: Uint8Array): Promise<string> {
    const result = await openssl([
      'ocsp',
      '-reqin',
      files.path(requestFile),
      '-respin',
      await writeDer('resp.der', response),
      '-CAfile',
      files.path('root.pem'),
      '-verify_other',
      files.path('intermediate.pem'),
    ]);
    return `${result.stdout}${result.stderr}`;
  }

  before(async () => {
    const rootKeys = await generateKeys('ecdsa-p256');
    const rootCertificate = await buildCaCertificate({
      ...validity('4f0e0d0c0b0a09080706050403020100'),
      subjectDn: 'CN=OCSP Test Root, O=Trustroot',
      subjectPublicKey: rootKeys.publicKey,
      pathLength: 1,
      selfSigningKey: { privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p256' },
    });
    root = { name: 'root', certificate: rootCertificate, privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p256' };
    intermediate = (await intermediateUnder(root, 'ecdsa-p256', '5a5b5c5d5e5f60616263646566676869', 'OCSP Test Issuing CA')).issuer;
    ({ certificate: leaf, keys: leafKeys } = await leafUnder(intermediate, LEAF_SERIAL));
    files = await pemFiles({
      'root.pem': certificatePem(root.certificate),
      'intermediate.pem': certificatePem(intermediate.certificate),
      'leaf.pem': certificatePem(leaf),
      'leaf.key': await pkcs8Pem(leafKeys.privateKey),
    });
  });
  after(async () => {
    await files.cleanup();
  });

  it('keeps the issuing CA key non-extractable (KeyObject.from must cope)', () => {
    assert.equal(intermediate.privateKey.extractable, false);
  });

  describe('parseOcspRequest on requests made by openssl', () => {
    for (const { label, args, hashAlgorithm } of [
      { label: 'SHA-1 CertID, no nonce', args: ['-no_nonce'], hashAlgorithm: 'SHA-1' },
      { label: 'SHA-256 CertID, no nonce', args: ['-no_nonce', '-sha256'], hashAlgorithm: 'SHA-256' },
    ] as const) {
      it(label, async () => {
        const parsed = parseOcspRequest(await request('plain.der', [...args, '-cert', files.path('leaf.pem')]));
        const certId = onlyCertId(parsed);
        assert.equal(certId.hashAlgorithm, hashAlgorithm);
        assert.equal(certId.serialHex, LEAF_SERIAL.replace(/^0+/, ''));
        assert.equal(certId.issuerNameHash.length, hashAlgorithm === 'SHA-1' ? 20 : 32);
        assert.equal(parsed.nonce, undefined);
        assert.equal(certIdMatchesIssuer(certId, intermediate.certificate), true);
        assert.equal(certIdMatchesIssuer(certId, root.certificate), false);
      });
    }

    it('returns the nonce contents (openssl sends 16 octets)', async () => {
      const parsed = parseOcspRequest(await request('nonce.der', ['-cert', files.path('leaf.pem'), '-nonce']));
      assert.equal(parsed.nonce?.length, 16);
    });

    it('echoes each CertID byte for byte from the request', async () => {
      const der = await request('plain.der', ['-cert', files.path('leaf.pem'), '-no_nonce']);
      const certId = onlyCertId(parseOcspRequest(der));
      assert.ok(Buffer.from(der).includes(Buffer.from(certId.der)));
      assert.equal(certId.der[0], 0x30);
    });

    it('accepts 16 CertIDs in order', async () => {
      const serials = Array.from({ length: 16 }, (_, i) => ['-serial', `0x${(i + 1).toString(16)}`]).flat();
      const parsed = parseOcspRequest(await request('sixteen.der', ['-no_nonce', ...serials]));
      assert.deepEqual(
        parsed.certIds.map((certId) => certId.serialHex),
        Array.from({ length: 16 }, (_, i) => (i + 1).toString(16)),
      );
    });

    it('accepts a signed request and ignores the signature', async () => {
      const der = await request('signed.der', ['-cert', files.path('leaf.pem'), '-signer', files.path('leaf.pem'), '-signkey', files.path('leaf.key')]);
      assert.ok(AsnConvert.parse(der, OCSPRequest).optionalSignature, 'openssl signed the request');
      const parsed = parseOcspRequest(der);
      assert.equal(onlyCertId(parsed).serialHex, LEAF_SERIAL.replace(/^0+/, ''));
    });

    it('treats an unsupported CertID hash (SHA-384) as not matching, not as malformed', async () => {
      const certId = onlyCertId(parseOcspRequest(await request('sha384.der', ['-sha384', '-cert', files.path('leaf.pem'), '-no_nonce'])));
      assert.equal(certId.hashAlgorithm, 'unsupported');
      assert.equal(certIdMatchesIssuer(certId, intermediate.certificate), false);
    });

    it('accepts a 32-octet nonce (the RFC 8954 maximum)', async () => {
      const base = await request('plain.der', ['-cert', files.path('leaf.pem'), '-no_nonce']);
      const nonce = new Uint8Array(32).fill(7);
      const parsed = parseOcspRequest(requestWithNonceExtension(base, AsnConvert.serialize(new Nonce(nonce))));
      assert.deepEqual(parsed.nonce, nonce);
    });
  });

  describe('parseOcspRequest rejects malformed requests with MalformedOcspRequestError only', () => {
    let valid: Uint8Array;
    before(async () => {
      valid = await request('nonce.der', ['-cert', files.path('leaf.pem'), '-nonce']);
    });

    it('empty input', () => assertMalformed(new Uint8Array(0)));
    it('garbage', () => assertMalformed(new TextEncoder().encode('GET /ocsp HTTP/1.1\r\n\r\n')));
    it('a lone SEQUENCE header', () => assertMalformed(new Uint8Array([0x30, 0x00])));
    it('truncated', () => assertMalformed(valid.subarray(0, valid.length - 1)));
    it('trailing bytes', () => assertMalformed(new Uint8Array([...valid, 0x00])));
    it('more than 8 KiB', () => assertMalformed(new Uint8Array(8 * 1024 + 1).fill(0x30), /8192/));

    it('17 CertIDs (made by openssl)', async () => {
      const serials = Array.from({ length: 17 }, (_, i) => ['-serial', `0x${(i + 1).toString(16)}`]).flat();
      assertMalformed(await request('seventeen.der', ['-no_nonce', ...serials]), /17/);
    });

    it('zero CertIDs', () => {
      const request = AsnConvert.parse(valid, OCSPRequest);
      request.tbsRequest.requestList = [];
      assertMalformed(new Uint8Array(AsnConvert.serialize(request)), /no certificate/);
    });

    it('a 64-octet nonce (RFC 8954)', () => {
      assertMalformed(requestWithNonceExtension(valid, AsnConvert.serialize(new Nonce(new Uint8Array(64).fill(1)))), /nonce/);
    });

    it('an empty nonce (RFC 8954)', () => {
      assertMalformed(requestWithNonceExtension(valid, AsnConvert.serialize(new Nonce(new Uint8Array(0)))), /nonce/);
    });

    it('a nonce extension that is not an OCTET STRING', () => {
      assertMalformed(requestWithNonceExtension(valid, new Uint8Array([0x01, 0x02, 0x03]).buffer), /nonce/);
    });

    it('every truncation and every single-byte corruption either parses or is malformed', () => {
      for (let length = 0; length < valid.length; length += 1) assertMalformed(valid.subarray(0, length));
      for (let index = 0; index < valid.length; index += 1) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const corrupted = new Uint8Array(valid);
          corrupted[index] = (corrupted[index] ?? 0) ^ mask;
          try {
            parseOcspRequest(corrupted);
          } catch (error) {
            assert.ok(error instanceof MalformedOcspRequestError, `byte ${index} ^ ${mask}: ${String(error)}`);
          }
        }
      }
    });
  });

  describe('buildOcspResponse, verified by openssl', () => {
    const LEAF_SERIAL_CANONICAL = LEAF_SERIAL.replace(/^0+/, '');
    const THIS_UPDATE = new Date(NOW.getTime() - 60_000);
    const NEXT_UPDATE = new Date(NOW.getTime() + HOUR);

    /** The leaf's status for CertIDs that name it; 'unknown' for anything else. */
    function statusOfLeaf(status: OcspCertStatus): (certId: OcspCertId) => OcspCertStatus {
      return (certId) =>
        certIdMatchesIssuer(certId, intermediate.certificate) && certId.serialHex === LEAF_SERIAL_CANONICAL ? status : { kind: 'unknown' };
    }

    async function respond(
      der: Uint8Array,
      status: (certId: OcspCertId) => OcspCertStatus,
      options: { responder?: OcspResponder; nonce?: Uint8Array | undefined; producedAt?: Date } = {},
    ): Promise<Uint8Array> {
      const parsed = parseOcspRequest(der);
      return buildOcspResponse({
        responder: options.responder ?? issuerResponder(intermediate),
        producedAt: options.producedAt ?? NOW,
        answers: parsed.certIds.map((certId) => ({ certId, status: status(certId), thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE })),
        nonce: 'nonce' in options ? options.nonce : parsed.nonce,
      });
    }

    it('good: openssl verifies the issuer-signed response and reports the leaf good', async () => {
      const output = await checkStatus(await respond(await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]), statusOfLeaf({ kind: 'good' })));
      assert.match(output, /Response verify OK/);
      assert.match(output, /leaf\.pem: good/);
      assert.doesNotMatch(output, /WARNING|error/i);
    });

    it('echoes the nonce: openssl -reqin compares it and reports no mismatch', async () => {
      const req = await request('req-nonce.der', ['-cert', files.path('leaf.pem'), '-nonce']);
      const output = await checkNonce('req-nonce.der', await respond(req, statusOfLeaf({ kind: 'good' })));
      assert.match(output, /Response verify OK/);
      assert.doesNotMatch(output, /Nonce Verify error|no nonce/);
    });

    it('(control) openssl -reqin does flag a wrong or missing nonce', async () => {
      const req = await request('req-nonce.der', ['-cert', files.path('leaf.pem'), '-nonce']);
      assert.match(await checkNonce('req-nonce.der', await respond(req, statusOfLeaf({ kind: 'good' }), { nonce: new Uint8Array(16) })), /Nonce Verify error/);
      assert.match(await checkNonce('req-nonce.der', await respond(req, statusOfLeaf({ kind: 'good' }), { nonce: undefined })), /WARNING: no nonce in response/);
    });

    it('revoked with keyCompromise, SHA-256 CertID: reason and revocation time reach openssl', async () => {
      const revokedAt = new Date(NOW.getTime() - 30 * 60_000 + 456);
      const req = await request('req256.der', ['-no_nonce', '-sha256', '-cert', files.path('leaf.pem')]);
      const output = await checkStatus(await respond(req, statusOfLeaf({ kind: 'revoked', revokedAt, reason: 'keyCompromise' })), { digest: '-sha256' });
      assert.match(output, /Response verify OK/);
      assert.match(output, /leaf\.pem: revoked/);
      assert.match(output, /Reason: keyCompromise/);
      const expected = new Date(revokedAt.getTime() - 456).toUTCString().replace(/^\w+, (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$2 $1 $4 $3 GMT');
      assert.match(output, new RegExp(`Revocation Time: ${expected.replace(/ 0(\d) /, '  $1 ')}`));
    });

    for (const reason of ['unspecified', undefined] as const) {
      it(`revoked with reason ${String(reason)}: revocationReason is omitted`, async () => {
        const req = await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]);
        const output = await checkStatus(await respond(req, statusOfLeaf({ kind: 'revoked', revokedAt: THIS_UPDATE, reason })));
        assert.match(output, /Response verify OK/);
        assert.match(output, /leaf\.pem: revoked/);
        assert.doesNotMatch(output, /Reason:/);
      });
    }

    it('unknown: openssl reports the leaf unknown', async () => {
      const req = await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]);
      const output = await checkStatus(await respond(req, () => ({ kind: 'unknown' })));
      assert.match(output, /Response verify OK/);
      assert.match(output, /leaf\.pem: unknown/);
    });

    it('answers an unsupported hash (SHA-384 CertID) unknown, echoing the CertID', async () => {
      const req = await request('req384.der', ['-no_nonce', '-sha384', '-cert', files.path('leaf.pem')]);
      const output = await checkStatus(await respond(req, statusOfLeaf({ kind: 'good' })), { digest: '-sha384' });
      assert.match(output, /Response verify OK/);
      assert.match(output, /leaf\.pem: unknown/);
    });

    it('answers several CertIDs in request order', async () => {
      const req = await request('multi.der', ['-no_nonce', '-serial', '0x1234', '-cert', files.path('leaf.pem')]);
      const response = await respond(req, statusOfLeaf({ kind: 'good' }));
      const result = await openssl([
        'ocsp', '-respin', await writeDer('resp.der', response), '-issuer', files.path('intermediate.pem'),
        '-serial', '0x1234', '-cert', files.path('leaf.pem'), '-no_nonce', '-CAfile', files.path('root.pem'),
      ]);
      const output = `${result.stdout}${result.stderr}`;
      assert.match(output, /Response verify OK/);
      assert.match(output, /0x1234: unknown[\s\S]*leaf\.pem: good/);
    });

    it('identifies the responder by key and writes whole-second GeneralizedTimes', async () => {
      const producedAt = new Date(NOW.getTime() + 999);
      const response = await respond(await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]), statusOfLeaf({ kind: 'good' }), { producedAt });
      const result = await openssl(['ocsp', '-respin', await writeDer('resp.der', response), '-resp_text', '-noverify']);
      const responderId = /Responder Id: ([0-9A-F]+)/.exec(result.stdout)?.[1];
      const issuerKeyHash = /Issuer Key Hash: ([0-9A-F]+)/.exec(result.stdout)?.[1];
      assert.ok(responderId);
      assert.equal(responderId, issuerKeyHash, 'byKey is the SHA-1 of the issuer key, as in the SHA-1 CertID');
      const generalizedTime = NOW.toISOString().replace(/[-:T]/g, '').replace(/\.\d{3}Z$/, 'Z');
      const encoded = Buffer.concat([Buffer.from([0x18, generalizedTime.length]), Buffer.from(generalizedTime, 'ascii')]);
      assert.ok(Buffer.from(response).includes(encoded), `producedAt encoded as ${generalizedTime}`);
    });

    it('a delegated responder (id-kp-OCSPSigning, certificate included) verifies; one without the EKU does not', async () => {
      const delegated = await leafUnder(intermediate, '6a6b6c6d6e6f70717273747576777879', [OCSP_SIGNING]);
      const notDelegated = await leafUnder(intermediate, '6a6b6c6d6e6f7071727374757677787a', [x509.ExtendedKeyUsage.serverAuth]);
      const req = await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]);
      const responder = (certificate: x509.X509Certificate, keys: CryptoKeyPair): OcspResponder => ({
        certificate,
        privateKey: keys.privateKey,
        keyAlgorithm: 'ecdsa-p256',
        includeCertificates: [certificate],
      });
      const good = await checkStatus(await respond(req, statusOfLeaf({ kind: 'good' }), { responder: responder(delegated.certificate, delegated.keys) }), {
        args: ['-verify_other', files.path('intermediate.pem')],
      });
      assert.match(good, /Response verify OK/);
      assert.match(good, /leaf\.pem: good/);
      const bad = await checkStatus(await respond(req, statusOfLeaf({ kind: 'good' }), { responder: responder(notDelegated.certificate, notDelegated.keys) }), {
        args: ['-verify_other', files.path('intermediate.pem')],
      });
      assert.match(bad, /Response Verify Failure/);
    });

    for (const { algorithm, printed } of [
      { algorithm: 'ecdsa-p384', printed: 'ecdsa-with-SHA384' },
      { algorithm: 'ed25519', printed: 'ED25519' },
      { algorithm: 'rsa-2048', printed: 'sha256WithRSAEncryption' },
    ] as const) {
      it(`signs with a ${algorithm} issuer key as ${printed}`, async () => {
        const other = await intermediateUnder(root, algorithm, '3a3b3c3d3e3f40414243444546474849', `OCSP ${algorithm} CA`);
        const otherLeaf = await leafUnder(other.issuer, LEAF_SERIAL);
        await writeFile(files.path('other-ca.pem'), certificatePem(other.issuer.certificate));
        await writeFile(files.path('other-leaf.pem'), certificatePem(otherLeaf.certificate));
        const reqResult = await openssl(['ocsp', '-issuer', files.path('other-ca.pem'), '-no_nonce', '-cert', files.path('other-leaf.pem'), '-reqout', files.path('other-req.der')]);
        assert.equal(reqResult.code, 0, reqResult.stderr);
        const parsed = parseOcspRequest(new Uint8Array(await readFile(files.path('other-req.der'))));
        const certId = onlyCertId(parsed);
        assert.equal(certIdMatchesIssuer(certId, other.issuer.certificate), true);
        assert.equal(certIdMatchesIssuer(certId, intermediate.certificate), false);
        const response = await buildOcspResponse({
          responder: issuerResponder(other.issuer),
          producedAt: NOW,
          answers: [{ certId, status: { kind: 'good' }, thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE }],
          nonce: undefined,
        });
        const result = await openssl([
          'ocsp', '-respin', await writeDer('resp.der', response), '-issuer', files.path('other-ca.pem'), '-cert', files.path('other-leaf.pem'),
          '-no_nonce', '-CAfile', files.path('root.pem'), '-resp_text',
        ]);
        const output = `${result.stdout}${result.stderr}`;
        assert.match(output, /Response verify OK/);
        assert.match(output, /other-leaf\.pem: good/);
        assert.match(output, new RegExp(`Signature Algorithm: ${printed}`));
      });
    }

    it('refuses to sign with a key that is not the responder certificate\'s', async () => {
      const req = await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')]);
      const wrongKey: OcspResponder = { ...issuerResponder(intermediate), privateKey: root.privateKey };
      await assert.rejects(respond(req, statusOfLeaf({ kind: 'good' }), { responder: wrongKey }), /does not verify/);
    });

    it('refuses an empty answer list and nextUpdate before thisUpdate', async () => {
      await assert.rejects(buildOcspResponse({ responder: issuerResponder(intermediate), producedAt: NOW, answers: [], nonce: undefined }), /at least one/);
      const certId = onlyCertId(parseOcspRequest(await request('req.der', ['-no_nonce', '-cert', files.path('leaf.pem')])));
      await assert.rejects(
        buildOcspResponse({
          responder: issuerResponder(intermediate),
          producedAt: NOW,
          answers: [{ certId, status: { kind: 'good' }, thisUpdate: NEXT_UPDATE, nextUpdate: THIS_UPDATE }],
          nonce: undefined,
        }),
        /nextUpdate/,
      );
    });
  });

  describe('ocspErrorResponse', () => {
    for (const { status, printed } of [
      { status: 'malformedRequest', printed: 'malformedrequest (1)' },
      { status: 'internalError', printed: 'internalerror (2)' },
      { status: 'tryLater', printed: 'trylater (3)' },
      { status: 'unauthorized', printed: 'unauthorized (6)' },
    ] as const) {
      it(`${status}: openssl reads "Responder Error: ${printed}"`, async () => {
        const result = await openssl(['ocsp', '-respin', await writeDer(`${status}.der`, ocspErrorResponse(status))]);
        assert.match(`${result.stdout}${result.stderr}`, new RegExp(`Responder Error: ${printed.replace(/[()]/g, '\\$&')}`));
      });
    }

    it('has no responseBytes', () => {
      assert.deepEqual([...ocspErrorResponse('malformedRequest')], [0x30, 0x03, 0x0a, 0x01, 0x01]);
    });
  });
});
