import assert from 'node:assert/strict';
import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { CertificateProfile } from '../../../../src/domain/certificate-profile.ts';
import { DEFAULT_PROFILES } from '../../../../src/domain/default-profiles.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import { lintCertificate, type LintFailure } from '../../../../src/domain/lint/lint-certificate.ts';
import {
  buildCaCertificate,
  type IssuerLocations,
  type SigningIssuer,
  type SubjectAlternativeNames,
} from '../../../../src/domain/x509/certificate-builder.ts';
import { certificateFacts, certificatePem } from '../../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import {
  certificateTime,
  objectIdentifier,
  octetString,
  smallInteger,
  unsignedIntegerFromHex,
} from '../../../../src/domain/x509/der-writer.ts';
import { prepareFastLeaf, signFastLeaf, type FastLeafTemplate } from '../../../../src/domain/x509/fast-leaf.ts';
import { prepareLeafCertificate, signCertificateTemplate } from '../../../../src/domain/x509/leaf-certificate.ts';
import { ipAddressOctets, leafIssuerParts, type LeafIssuerParts } from '../../../../src/domain/x509/leaf-der-encoder.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

// ---------------------------------------------------------------------------------------------
// An independent DER splitter, so that the comparison does not trust the encoder's own reader.

/** The complete TLVs directly inside the constructed TLV `der`. */
function childTlvs(der: Uint8Array): Uint8Array[] {
  const header = (at: number): { contentStart: number; end: number } => {
    const first = der[at + 1] ?? 0;
    if (first < 0x80) return { contentStart: at + 2, end: at + 2 + first };
    const octets = first & 0x7f;
    let length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[at + 2 + i] ?? 0);
    return { contentStart: at + 2 + octets, end: at + 2 + octets + length };
  };
  const outer = header(0);
  assert.equal(outer.end, der.length, 'one TLV spanning the buffer');
  const children: Uint8Array[] = [];
  for (let at = outer.contentStart; at < outer.end; ) {
    const { end } = header(at);
    children.push(der.subarray(at, end));
    at = end;
  }
  return children;
}

function hex(data: Uint8Array | ArrayBuffer): string {
  return Buffer.from(data instanceof Uint8Array ? data : new Uint8Array(data)).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// The matrix

type IssuerKind = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'ed25519';
/** Issuer key types; ECDSA signatures are randomized, RSA PKCS#1 v1.5 and Ed25519 are not. */
const ISSUER_KINDS: readonly IssuerKind[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519'];
const DETERMINISTIC_SIGNATURES = new Set<IssuerKind>(['rsa-2048', 'ed25519']);
const SUBJECT_KEY_TYPES: readonly KeyAlgorithmName[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'];

type ProfileUsages = Pick<CertificateProfile, 'name' | 'keyUsages' | 'extendedKeyUsages'> & { keyTypes?: readonly KeyAlgorithmName[] };
/** The default profiles, plus multi-bit keyUsages (for the key families that may carry them). */
const PROFILES: readonly ProfileUsages[] = [
  ...DEFAULT_PROFILES.map(({ name, keyUsages, extendedKeyUsages }) => ({ name, keyUsages, extendedKeyUsages })),
  { name: 'rsa-key-transport', keyUsages: ['digitalSignature', 'keyEncipherment'], extendedKeyUsages: ['serverAuth'], keyTypes: ['rsa-2048'] },
  { name: 'ec-key-agreement', keyUsages: ['digitalSignature', 'keyAgreement'], extendedKeyUsages: ['clientAuth', 'serverAuth'], keyTypes: ['ecdsa-p256', 'ecdsa-p384'] },
];

const LOCATIONS: IssuerLocations = {
  caIssuersUrl: 'http://pki.example.test/ca/intermediate.crt',
  crlUrl: 'http://pki.example.test/crl/intermediate.crl',
  ocspUrl: 'http://pki.example.test/ocsp/intermediate',
};
const ALL_NAMES: SubjectAlternativeNames = {
  dnsNames: ['orders.svc.example.test', 'orders'],
  ipAddresses: ['10.1.2.3', '2001:db8::1'],
  uris: ['spiffe://example.test/ns/a/sa/orders'],
};
const SERIAL = '5f0e0d0c0b0a09080706050403020100';
const NOT_BEFORE = new Date('2030-03-01T10:00:00.250Z');
const NOT_AFTER = new Date('2030-03-02T10:00:07.999Z');

interface Variant {
  name: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  commonName?: string;
  sans: SubjectAlternativeNames;
  locations: IssuerLocations;
  /** Lint rules both paths are expected to fail (the same way); none for a well-formed leaf. */
  expectedLintFailures?: string[];
}

const BASE = { serialHex: SERIAL, notBefore: NOT_BEFORE, notAfter: NOT_AFTER, sans: ALL_NAMES, locations: LOCATIONS };
const VARIANTS: readonly Variant[] = [
  { ...BASE, name: 'DNS name only, empty subject', sans: { dnsNames: ['orders.svc.example.test'], ipAddresses: [], uris: [] } },
  { ...BASE, name: 'DNS + IPv4 + IPv6 + URI, empty subject' },
  { ...BASE, name: 'all names with a printable CN', commonName: 'orders.svc.example.test' },
  { ...BASE, name: 'CN needing RFC 4514 escaping', commonName: 'a,b+c"d' },
  { ...BASE, name: 'CN with leading #, =, ;, <>, backslash and a trailing space', commonName: '#x = <y>; \\z ' },
  { ...BASE, name: 'non-ASCII CN (UTF8String)', commonName: 'bücher.example.test — ✓' },
  { ...BASE, name: 'wildcard DNS name and CN', commonName: '*.example.test', sans: { dnsNames: ['*.example.test'], ipAddresses: [], uris: [] } },
  { ...BASE, name: '16-octet serial with the top bit set, 00-padded', serialHex: '00c3b2a1908f7e6d5c4b3a2918070605' },
  {
    ...BASE,
    name: '16-octet serial with the top bit set, unpadded (lint refuses it in both paths)',
    serialHex: 'c3b2a1908f7e6d5c4b3a291807060504',
    expectedLintFailures: ['serial-number'],
  },
  { ...BASE, name: 'serial with a leading zero nibble', serialHex: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' },
  { ...BASE, name: 'notBefore in 2049 (UTCTime), notAfter in 2050 (GeneralizedTime)', notBefore: new Date('2049-12-31T23:59:59.999Z'), notAfter: new Date('2050-01-01T00:00:00Z') },
  { ...BASE, name: 'validity entirely after 2050', notBefore: new Date('2051-06-01T00:00:00Z'), notAfter: new Date('2051-06-02T12:00:00.5Z') },
  { ...BASE, name: 'no OCSP URL', commonName: 'orders', locations: { caIssuersUrl: LOCATIONS.caIssuersUrl, crlUrl: LOCATIONS.crlUrl } },
  {
    ...BASE,
    name: 'IPv6 literals in non-canonical forms',
    sans: { dnsNames: [], ipAddresses: ['2001:DB8:0:0:0:0:0:1', '::', '::ffff:a01:203', 'fe80:0:0:1:0:0:0:1', '1::', '0:0:1::'], uris: [] },
  },
  {
    ...BASE,
    name: 'long names (multi-octet DER lengths)',
    commonName: `${'x'.repeat(40)}.example.test`,
    sans: { dnsNames: Array.from({ length: 12 }, (_, i) => `${'label'.repeat(10)}-${i}.example.test`), ipAddresses: [], uris: [] },
  },
];

/**
 * The name variants one case of the matrix checks: the first, plus every fourth from the case's
 * position on. The variants exercise name, serial and time encodings, which neither the issuer's
 * key nor the subject's changes; running all of them in every case made this file the slowest of
 * the suite (~30 s of CPU). Rotating them keeps every (issuer, profile, key type) case and still
 * meets each variant with each issuer kind several times over (see the test of this function).
 */
function variantsForCase(caseIndex: number): { index: number; variant: Variant }[] {
  return VARIANTS.flatMap((variant, index) => (index === 0 || index % 4 === caseIndex % 4 ? [{ index, variant }] : []));
}

/** A moment inside a leaf's validity (seconds since the epoch), for `openssl verify -attime`. */
function insideValidity(variant: Variant): string {
  return String(Math.floor((variant.notBefore.getTime() + variant.notAfter.getTime()) / 2000));
}

// ---------------------------------------------------------------------------------------------
// Keys and issuers

async function generateKeys(algorithm: KeyAlgorithmName, extractable = true): Promise<CryptoKeyPair> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  return (await webcrypto.subtle.generateKey(keyParams, extractable, usages)) as CryptoKeyPair;
}

interface TestIssuer {
  kind: IssuerKind;
  signer: SigningIssuer;
  parts: LeafIssuerParts;
}

const ROOT_WINDOW = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2060-01-01T00:00:00Z') };
const INTERMEDIATE_WINDOW = { notBefore: new Date('2025-01-01T00:05:00Z'), notAfter: new Date('2059-12-31T00:00:00Z') };

interface Issued {
  reference: x509.X509Certificate;
  referenceTemplate: Awaited<ReturnType<typeof prepareLeafCertificate>>;
  fastTemplate: FastLeafTemplate;
  fast: ReturnType<typeof signFastLeaf>;
}

describe('fast leaf path (hand-written DER + native signing)', () => {
  let root: x509.X509Certificate;
  let rootSigner: SigningIssuer;
  const issuers: TestIssuer[] = [];
  const subjectKeys = new Map<KeyAlgorithmName, x509.PublicKey>();
  /** Fast-path leaves to hand to OpenSSL, by issuer. */
  const forOpenssl: { issuer: IssuerKind; pem: string; attime: string; label: string }[] = [];

  before(async () => {
    const rootKeys = await generateKeys('ecdsa-p384');
    root = await buildCaCertificate({
      ...ROOT_WINDOW,
      serialHex: '4f0e0d0c0b0a09080706050403020100',
      subjectDn: 'CN=Fast Leaf Test Root, O=Trustroot',
      subjectPublicKey: rootKeys.publicKey,
      pathLength: 1,
      selfSigningKey: { privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p384' },
    });
    rootSigner = { name: 'root', certificate: root, privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p384' };
    for (const [index, kind] of ISSUER_KINDS.entries()) {
      // Non-extractable, as the key store loads them: KeyObject.from must still work.
      const keys = await generateKeys(kind, false);
      const certificate = await buildCaCertificate({
        ...INTERMEDIATE_WINDOW,
        serialHex: `5a5b5c5d5e5f6061626364656667686${index}`,
        subjectDn: `CN=Fast Leaf ${kind} Issuing CA+OU=Unit tests, O=Trustroot`,
        subjectPublicKey: keys.publicKey,
        pathLength: 0,
        parent: { issuer: rootSigner, locations: { caIssuersUrl: 'http://pki.example.test/ca/root.crt', crlUrl: 'http://pki.example.test/crl/root.crl' } },
      });
      const signer: SigningIssuer = { name: kind, certificate, privateKey: keys.privateKey, keyAlgorithm: kind };
      issuers.push({ kind, signer, parts: leafIssuerParts(signer) });
    }
    for (const type of SUBJECT_KEY_TYPES) {
      subjectKeys.set(type, await x509.PublicKey.create((await generateKeys(type)).publicKey));
    }
  });

  function subjectKey(type: KeyAlgorithmName): x509.PublicKey {
    const key = subjectKeys.get(type);
    assert.ok(key, `a ${type} subject key`);
    return key;
  }

  async function issueBoth(issuer: TestIssuer, profile: ProfileUsages, keyType: KeyAlgorithmName, variant: Variant, passDer: boolean): Promise<Issued> {
    const publicKey = subjectKey(keyType);
    const fields = {
      serialHex: variant.serialHex,
      notBefore: variant.notBefore,
      notAfter: variant.notAfter,
      commonName: variant.commonName,
      sans: variant.sans,
      keyAlgorithm: keyType,
      keyUsages: profile.keyUsages,
      extendedKeyUsages: profile.extendedKeyUsages,
      locations: variant.locations,
    };
    const referenceTemplate = await prepareLeafCertificate({ ...fields, subjectPublicKey: publicKey, issuer: issuer.signer });
    const reference = await signCertificateTemplate(referenceTemplate, issuer.signer);
    const fastTemplate = prepareFastLeaf(
      { ...fields, subjectPublicKey: passDer ? new Uint8Array(publicKey.rawData) : publicKey },
      issuer.parts,
    );
    return { reference, referenceTemplate, fastTemplate, fast: signFastLeaf(fastTemplate, issuer.parts) };
  }

  /** Everything but a randomized signature value equals the reference certificate, byte for byte. */
  function assertSameAsReference(issued: Pick<Issued, 'reference' | 'referenceTemplate' | 'fastTemplate' | 'fast'>, kind: IssuerKind, label: string): void {
    const referenceDer = new Uint8Array(issued.reference.rawData);
    const [referenceTbs, referenceAlgorithm, referenceSignature] = childTlvs(referenceDer);
    const [fastTbs, fastAlgorithm, fastSignature, ...extra] = childTlvs(issued.fast.der);
    assert.ok(referenceTbs && referenceAlgorithm && referenceSignature && fastTbs && fastAlgorithm && fastSignature, `${label}: three parts`);
    assert.equal(extra.length, 0, `${label}: nothing after the signature`);
    assert.equal(issued.fastTemplate.extensions.length, issued.referenceTemplate.extensions.length, `${label}: extension count`);
    issued.referenceTemplate.extensions.forEach((extension, index) => {
      assert.equal(hex(issued.fastTemplate.extensions[index]?.rawData ?? new ArrayBuffer(0)), hex(extension.rawData), `${label}: extension ${extension.type}`);
    });
    assert.equal(hex(fastTbs), hex(referenceTbs), `${label}: TBSCertificate`);
    assert.equal(hex(fastAlgorithm), hex(referenceAlgorithm), `${label}: signatureAlgorithm`);
    if (DETERMINISTIC_SIGNATURES.has(kind)) assert.equal(hex(issued.fast.der), hex(referenceDer), `${label}: whole certificate`);
  }

  function lint(template: FastLeafTemplate | Issued['referenceTemplate'], issuer: TestIssuer, profile: ProfileUsages): LintFailure[] {
    return lintCertificate(template, { issuerCertificate: issuer.signer.certificate, profile });
  }

  for (const kind of ISSUER_KINDS) {
    const cases = PROFILES.flatMap((profile) => (profile.keyTypes ?? SUBJECT_KEY_TYPES).map((keyType) => ({ profile, keyType })));
    for (const [caseIndex, { profile, keyType }] of cases.entries()) {
      const variants = variantsForCase(caseIndex);
      it(`${kind} issuer, ${profile.name} profile, ${keyType} key: ${variants.length} name variants equal the reference, verify, lint clean`, async () => {
        const issuer = issuers.find((candidate) => candidate.kind === kind);
        assert.ok(issuer);
        const issuerPublicKey = new NodeX509Certificate(Buffer.from(issuer.signer.certificate.rawData)).publicKey;
        for (const { index, variant } of variants) {
          const label = variant.name;
          const issued = await issueBoth(issuer, profile, keyType, variant, index % 2 === 0);
          assertSameAsReference(issued, kind, label);

          const parsed = new x509.X509Certificate(issued.fast.der);
          assert.equal(await parsed.verify({ publicKey: issuer.signer.certificate.publicKey, signatureOnly: true }), true, `${label}: @peculiar verify`);
          assert.equal(new NodeX509Certificate(Buffer.from(issued.fast.der)).verify(issuerPublicKey), true, `${label}: Node verify`);
          assert.deepEqual(issued.fast.facts, certificateFacts(parsed), `${label}: facts`);

          const fastLint = lint(issued.fastTemplate, issuer, profile);
          assert.deepEqual(fastLint, lint(issued.referenceTemplate, issuer, profile), `${label}: same lint result as the reference`);
          assert.deepEqual(fastLint.map((failure) => failure.ruleId), variant.expectedLintFailures ?? [], `${label}: lint ${JSON.stringify(fastLint)}`);

          if (profile.name === 'peer' && !variant.expectedLintFailures) {
            forOpenssl.push({ issuer: kind, pem: certificatePem(parsed), attime: insideValidity(variant), label: `${kind}/${keyType}/${label}` });
          }
        }
      });
    }
  }

  describe('checked by OpenSSL', () => {
    let files: Awaited<ReturnType<typeof pemFiles>> | undefined;
    after(async () => {
      await files?.cleanup();
    });

    it('every fast-path peer leaf verifies with -x509_strict up to the root, as an SSL server or client', async () => {
      assert.ok(forOpenssl.length >= ISSUER_KINDS.length * SUBJECT_KEY_TYPES.length, 'the matrix ran first and collected leaves');
      const pems: Record<string, string> = { 'root.pem': certificatePem(root) };
      for (const issuer of issuers) pems[`${issuer.kind}.pem`] = certificatePem(issuer.signer.certificate);
      forOpenssl.forEach((leaf, index) => {
        pems[`leaf-${index}.pem`] = leaf.pem;
      });
      const written = await pemFiles(pems);
      files = written;
      const failures: string[] = [];
      // One OpenSSL run per leaf (peer leaves carry both EKUs; the purposes alternate), a few at a time.
      const jobs = forOpenssl.map((leaf, index) => ({ leaf, index, purpose: index % 2 === 0 ? 'sslserver' : 'sslclient' }));
      for (let start = 0; start < jobs.length; start += 16) {
        await Promise.all(
          jobs.slice(start, start + 16).map(async ({ leaf, index, purpose }) => {
            const result = await openssl([
              'verify', '-x509_strict', '-purpose', purpose, '-attime', leaf.attime,
              '-CAfile', written.path('root.pem'), '-untrusted', written.path(`${leaf.issuer}.pem`), written.path(`leaf-${index}.pem`),
            ]);
            if (result.code !== 0 || !/: OK/.test(result.stdout)) failures.push(`${leaf.label} (${purpose}): ${result.stdout}${result.stderr}`);
          }),
        );
      }
      assert.deepEqual(failures, []);
    });
  });

  describe('catches tampering (the checks above can fail)', () => {
    /** A template whose extension `index` has its byte at `offset` (from the end when negative) XOR-ed with `mask`. */
    function tampered(template: FastLeafTemplate, index: number, offset: number, mask: number): FastLeafTemplate {
      const extensions = template.extensions.map((extension, at) => {
        if (at !== index) return extension;
        const bytes = new Uint8Array(extension.rawData).slice();
        const position = offset < 0 ? bytes.length + offset : offset;
        bytes[position] = (bytes[position] ?? 0) ^ mask;
        return new x509.Extension(bytes);
      });
      return { ...template, extensions };
    }

    const cases: { name: string; extension: number; offset: number; mask: number; rule: string }[] = [
      { name: 'basicConstraints made non-critical', extension: 0, offset: 9, mask: 0xff, rule: 'basic-constraints-critical-not-ca' },
      { name: 'keyUsage made non-critical', extension: 1, offset: 9, mask: 0xff, rule: 'key-usage-critical' },
      { name: 'an EKU OID changed (serverAuth → codeSigning)', extension: 2, offset: -1, mask: 0x02, rule: 'eku-matches-profile' },
      { name: 'a letter of a SAN name changed', extension: 3, offset: -1, mask: 0x01, rule: 'san-present-well-formed' },
      { name: 'the SKI changed', extension: 4, offset: -1, mask: 0x01, rule: 'ski-aki-present' },
    ];
    for (const { name, extension, offset, mask, rule } of cases) {
      it(`${name}: lint fails ${rule} and the bytes no longer equal the reference`, async () => {
        const issuer = issuers.find((candidate) => candidate.kind === 'ecdsa-p256');
        assert.ok(issuer);
        const profile = PROFILES.find((candidate) => candidate.name === 'server');
        assert.ok(profile);
        const issued = await issueBoth(issuer, profile, 'ecdsa-p256', VARIANTS[2] as Variant, false);
        assert.deepEqual(lint(issued.fastTemplate, issuer, profile), []);
        const bad = tampered(issued.fastTemplate, extension, offset, mask);
        assert.ok(lint(bad, issuer, profile).some((failure) => failure.ruleId === rule), JSON.stringify(lint(bad, issuer, profile)));
        const signed = signFastLeaf(bad, issuer.parts);
        assert.throws(() => assertSameAsReference({ ...issued, fastTemplate: bad, fast: signed }, issuer.kind, name), assert.AssertionError);
      });
    }

    it('a tampered CRL URL, which no lint rule reads, is caught by the equality check', async () => {
      const issuer = issuers.find((candidate) => candidate.kind === 'rsa-2048');
      assert.ok(issuer);
      const profile = PROFILES.find((candidate) => candidate.name === 'client');
      assert.ok(profile);
      const issued = await issueBoth(issuer, profile, 'ed25519', VARIANTS[1] as Variant, true);
      const bad = tampered(issued.fastTemplate, 6, -1, 0x01);
      assert.deepEqual(lint(bad, issuer, profile), []);
      assert.throws(
        () => assertSameAsReference({ ...issued, fastTemplate: bad, fast: signFastLeaf(bad, issuer.parts) }, issuer.kind, 'crl'),
        assert.AssertionError,
      );
    });

    it('signs exactly the template’s extension bytes: a tampered template yields a certificate carrying the tampering', async () => {
      const issuer = issuers.find((candidate) => candidate.kind === 'ed25519');
      assert.ok(issuer);
      const profile = PROFILES.find((candidate) => candidate.name === 'peer');
      assert.ok(profile);
      const issued = await issueBoth(issuer, profile, 'ecdsa-p384', VARIANTS[1] as Variant, false);
      const bad = tampered(issued.fastTemplate, 6, -1, 0x01);
      const parsed = new x509.X509Certificate(signFastLeaf(bad, issuer.parts).der);
      assert.equal(hex(parsed.extensions[6]?.rawData ?? new ArrayBuffer(0)), hex(bad.extensions[6]?.rawData ?? new ArrayBuffer(0)));
    });
  });

  describe('refusals', () => {
    it('a template prepared for another issuer is not signed', async () => {
      const [first, second] = issuers;
      assert.ok(first && second);
      const template = prepareFastLeaf({ ...BASE, keyAlgorithm: 'ecdsa-p256', subjectPublicKey: subjectKey('ecdsa-p256'), keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth'] }, first.parts);
      assert.throws(() => signFastLeaf(template, second.parts), /not prepared for this issuer/);
    });

    it('a template whose subjectDn no longer matches its commonName is not signed', () => {
      const [issuer] = issuers;
      assert.ok(issuer);
      const template = prepareFastLeaf({ ...BASE, commonName: 'a', keyAlgorithm: 'ecdsa-p256', subjectPublicKey: subjectKey('ecdsa-p256'), keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth'] }, issuer.parts);
      assert.throws(() => signFastLeaf({ ...template, subjectDn: 'CN=b' }, issuer.parts), /does not match/);
    });

    it('an issuer whose private key does not belong to its certificate is refused once, up front', async () => {
      const [issuer] = issuers;
      assert.ok(issuer);
      const stranger = await generateKeys('ecdsa-p256', false);
      assert.throws(() => leafIssuerParts({ ...issuer.signer, privateKey: stranger.privateKey, keyAlgorithm: 'ecdsa-p256' }), /does not match/);
    });

    it('refuses names the reference would mis-encode instead of encoding them differently', () => {
      const [issuer] = issuers;
      assert.ok(issuer);
      const prepare = (sans: SubjectAlternativeNames) => () =>
        prepareFastLeaf({ ...BASE, sans, keyAlgorithm: 'ecdsa-p256', subjectPublicKey: subjectKey('ecdsa-p256'), keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth'] }, issuer.parts);
      assert.throws(prepare({ dnsNames: ['bücher.example.test'], ipAddresses: [], uris: [] }), /non-ASCII/);
      assert.throws(prepare({ dnsNames: [], ipAddresses: ['::ffff:10.1.2.3'], uris: [] }), /not an IPv4 or plain hexadecimal IPv6/);
      assert.throws(prepare({ dnsNames: [], ipAddresses: ['fe80::1%eth0'], uris: [] }), /not an IPv4 or plain hexadecimal IPv6/);
      assert.throws(prepare({ dnsNames: [], ipAddresses: ['010.1.2.3'], uris: [] }), /not an IPv4 or plain hexadecimal IPv6/);
    });

    it('refuses a zero serial (the library would silently pick a random one) and dates DER cannot hold', () => {
      const [issuer] = issuers;
      assert.ok(issuer);
      const sign = (overrides: Partial<Variant>) => () =>
        signFastLeaf(
          prepareFastLeaf({ ...BASE, ...overrides, keyAlgorithm: 'ecdsa-p256', subjectPublicKey: subjectKey('ecdsa-p256'), keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth'] }, issuer.parts),
          issuer.parts,
        );
      assert.throws(sign({ serialHex: '0000' }), /positive/);
      assert.throws(sign({ notBefore: new Date('1949-12-31T23:59:59Z') }), /cannot be encoded/);
      assert.throws(sign({ notBefore: new Date(Number.NaN) }), /invalid date/);
    });
  });

  it('checks every name variant with each issuer kind in at least three profile and key type cases', () => {
    const caseCount = PROFILES.reduce((count, profile) => count + (profile.keyTypes ?? SUBJECT_KEY_TYPES).length, 0);
    const timesChecked = VARIANTS.map(() => 0);
    for (let caseIndex = 0; caseIndex < caseCount; caseIndex += 1) {
      for (const { index } of variantsForCase(caseIndex)) timesChecked[index] = (timesChecked[index] ?? 0) + 1;
    }
    assert.ok(Math.min(...timesChecked) >= 3, `times each variant is checked per issuer kind: ${timesChecked.join(', ')}`);
  });

  it('keeps a CN exactly even where the reference string round trip would alter it', () => {
    const [issuer] = issuers;
    assert.ok(issuer);
    // @peculiar/x509 parses the escaped DN string back: "\0a" there means a newline, and an
    // escaped trailing backslash swallows the value. The fast path never round-trips a string.
    for (const commonName of ['a\\0ab', 'ends with a backslash \\']) {
      const template = prepareFastLeaf({ ...BASE, commonName, keyAlgorithm: 'ecdsa-p256', subjectPublicKey: subjectKey('ecdsa-p256'), keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth'] }, issuer.parts);
      const { der, facts } = signFastLeaf(template, issuer.parts);
      const parsed = new x509.X509Certificate(der);
      assert.deepEqual(parsed.subjectName.getField('CN'), [commonName]);
      assert.equal(facts.commonName, commonName);
      assert.deepEqual(facts, certificateFacts(parsed));
    }
  });

  it('takes the issuer Name from the issuer certificate’s bytes, equal to what the reference writes', () => {
    for (const issuer of issuers) {
      assert.equal(hex(issuer.parts.issuerNameDer), hex(issuer.signer.certificate.subjectName.toArrayBuffer()));
    }
  });
});

describe('der-writer', () => {
  it('writes minimal positive INTEGERs from hex', () => {
    assert.equal(hex(unsignedIntegerFromHex('7f')), '02017f');
    assert.equal(hex(unsignedIntegerFromHex('80')), '02020080');
    assert.equal(hex(unsignedIntegerFromHex('000080')), '02020080');
    assert.equal(hex(unsignedIntegerFromHex('0001')), '020101');
    assert.equal(hex(unsignedIntegerFromHex('abc')), '02020abc');
    assert.equal(hex(unsignedIntegerFromHex('00')), '020100');
    assert.equal(hex(smallInteger(2)), '020102');
    assert.equal(hex(smallInteger(128)), '02020080');
  });

  it('writes OIDs, including multi-octet arcs, and caches without sharing', () => {
    assert.equal(hex(objectIdentifier('1.2.840.113549.1.1.11')), '06092a864886f70d01010b');
    assert.equal(hex(objectIdentifier('2.5.29.19')), '0603551d13');
    assert.equal(hex(objectIdentifier('2.999.3')), '0603883703');
    const first = objectIdentifier('2.5.4.3');
    first[2] = 0;
    assert.equal(hex(objectIdentifier('2.5.4.3')), '0603550403');
    assert.throws(() => objectIdentifier('1.40.1'), /below 40/);
    assert.throws(() => objectIdentifier('1.02'), /not a dotted OID/);
  });

  it('writes short and long definite lengths', () => {
    assert.equal(hex(octetString(new Uint8Array(127))).slice(0, 4), '047f');
    assert.equal(hex(octetString(new Uint8Array(128))).slice(0, 6), '048180');
    assert.equal(hex(octetString(new Uint8Array(255))).slice(0, 6), '0481ff');
    assert.equal(hex(octetString(new Uint8Array(256))).slice(0, 8), '04820100');
    assert.equal(hex(octetString(new Uint8Array(70000))).slice(0, 10), '0483011170');
  });

  it('switches from UTCTime to GeneralizedTime at 2050 and drops milliseconds', () => {
    assert.equal(Buffer.from(certificateTime(new Date('2049-12-31T23:59:59.999Z'))).toString('latin1'), '\x17\x0d491231235959Z');
    assert.equal(Buffer.from(certificateTime(new Date('2050-01-01T00:00:00Z'))).toString('latin1'), '\x18\x0f20500101000000Z');
    assert.equal(Buffer.from(certificateTime(new Date('1950-01-01T00:00:00Z'))).toString('latin1'), '\x17\x0d500101000000Z');
    assert.throws(() => certificateTime(new Date('1949-12-31T23:59:59Z')), /cannot be encoded/);
  });

  it('encodes IP addresses like @peculiar/x509 for the forms it gets right', () => {
    assert.equal(hex(ipAddressOctets('10.1.2.3')), '0a010203');
    assert.equal(hex(ipAddressOctets('2001:db8::1')), '20010db8000000000000000000000001');
    assert.equal(hex(ipAddressOctets('::')), '0'.repeat(32));
    assert.equal(hex(ipAddressOctets('1::')), `0001${'0'.repeat(28)}`);
  });
});
