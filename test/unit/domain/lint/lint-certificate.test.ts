import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import type { ExtendedKeyUsageName, KeyUsageName } from '../../../../src/domain/certificate-profile.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import { LINT_RULES, lintCertificate } from '../../../../src/domain/lint/lint-certificate.ts';
import type { LintContext } from '../../../../src/domain/lint/lint-rule.ts';
import { templatePublicKeyInfo } from '../../../../src/domain/lint/template-extension.ts';
import { buildCaCertificate, type SubjectAlternativeNames } from '../../../../src/domain/x509/certificate-builder.ts';
import type { CertificateTemplate } from '../../../../src/domain/x509/certificate-template.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';

const ISSUER_VALIDITY = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
const LEAF_VALIDITY = { notBefore: new Date('2030-03-01T10:00:00Z'), notAfter: new Date('2030-03-02T10:00:00Z') };
const SERIAL = '4a1b2c3d4e5f60718293a4b5c6d7e8f9';
const EKU_OIDS: Record<ExtendedKeyUsageName, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };
const KU_FLAGS: Record<KeyUsageName, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
};
const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  crlDistributionPoints: '2.5.29.31',
};

async function generateKeys(algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  return (await webcrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
}

interface Fixture {
  issuer: x509.X509Certificate;
  /** An issuer with the same name and validity but no subjectKeyIdentifier. */
  issuerWithoutSki: x509.X509Certificate;
  keys: Map<KeyAlgorithmName, CryptoKeyPair>;
}

let fixture: Fixture;

before(async () => {
  const issuerKeys = await generateKeys('ecdsa-p256');
  const issuer = await buildCaCertificate({
    serialHex: '5a5b5c5d5e5f60616263646566676869',
    ...ISSUER_VALIDITY,
    subjectDn: 'CN=Trustroot Test Issuing CA',
    subjectPublicKey: issuerKeys.publicKey,
    pathLength: 0,
    selfSigningKey: { privateKey: issuerKeys.privateKey, keyAlgorithm: 'ecdsa-p256' },
  });
  const issuerWithoutSki = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '5a5b5c5d5e5f6061626364656667686a',
    name: 'CN=Trustroot Test Issuing CA',
    ...ISSUER_VALIDITY,
    keys: issuerKeys,
    signingAlgorithm: keyAlgorithmParameters('ecdsa-p256').signingParams,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  const keys = new Map<KeyAlgorithmName, CryptoKeyPair>();
  for (const algorithm of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'] as const) keys.set(algorithm, await generateKeys(algorithm));
  fixture = { issuer, issuerWithoutSki, keys };
});

function keysFor(algorithm: KeyAlgorithmName): CryptoKeyPair {
  const keys = fixture.keys.get(algorithm);
  if (!keys) throw new Error(`no test keys for ${algorithm}`);
  return keys;
}

interface TemplateOptions {
  keyAlgorithm?: KeyAlgorithmName;
  keyUsages?: KeyUsageName[];
  extendedKeyUsages?: ExtendedKeyUsageName[];
  subjectDn?: string;
  sans?: SubjectAlternativeNames;
}

function generalNames(sans: SubjectAlternativeNames): x509.JsonGeneralName[] {
  return [
    ...sans.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...sans.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
}

/** A template as `buildLeafCertificate` would sign it, and the context it is linted in. */
async function validCase(options: TemplateOptions = {}): Promise<{ template: CertificateTemplate; context: LintContext }> {
  const keyAlgorithm = options.keyAlgorithm ?? 'ecdsa-p256';
  const keyUsages = options.keyUsages ?? ['digitalSignature'];
  const extendedKeyUsages = options.extendedKeyUsages ?? ['serverAuth', 'clientAuth'];
  const subjectDn = options.subjectDn ?? 'CN=api.kyc.internal';
  const sans = options.sans ?? { dnsNames: ['api.kyc.internal'], ipAddresses: ['10.20.0.5', '2001:db8::5'], uris: ['spiffe://kyc.internal/ns/prod/sa/api'] };
  const { publicKey } = keysFor(keyAlgorithm);
  const template: CertificateTemplate = {
    serialHex: SERIAL,
    ...LEAF_VALIDITY,
    subjectDn,
    sans,
    subjectPublicKey: await x509.PublicKey.create(publicKey),
    keyAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsages.reduce((flags, name) => flags | KU_FLAGS[name], 0), true),
      new x509.ExtendedKeyUsageExtension(extendedKeyUsages.map((name) => EKU_OIDS[name]), false),
      new x509.SubjectAlternativeNameExtension(generalNames(sans), subjectDn === ''),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(fixture.issuer.publicKey),
      new x509.CRLDistributionPointsExtension(['http://ca.kyc.internal/crl/issuing.crl']),
      new x509.AuthorityInfoAccessExtension({ caIssuers: 'http://ca.kyc.internal/ca/issuing.crt' }),
    ],
  };
  return { template, context: { issuerCertificate: fixture.issuer, profile: { keyUsages, extendedKeyUsages } } };
}

/** The template's extensions with the one of `oid` replaced (or removed when `replacement` is undefined). */
function replaceExtension(template: CertificateTemplate, oid: string, replacement: x509.Extension | undefined): CertificateTemplate {
  assert.ok(template.extensions.some((extension) => extension.type === oid), `the template has no ${oid}`);
  const extensions = template.extensions.flatMap((extension) => (extension.type === oid ? (replacement ? [replacement] : []) : [extension]));
  return { ...template, extensions };
}

/** DER of an Extension built by hand: what no encoder here would write, for the strict reader to refuse. */
function rawExtension(oidDer: number[], criticalDer: number[], valueDer: number[]): x509.Extension {
  const tlv = (tag: number, content: number[]): number[] => {
    assert.ok(content.length < 128, 'short-form lengths only');
    return [tag, content.length, ...content];
  };
  return new x509.Extension(new Uint8Array(tlv(0x30, [...oidDer, ...criticalDer, ...tlv(0x04, valueDer)])).buffer);
}
const SAN_OID_DER = [0x06, 0x03, 0x55, 0x1d, 0x11];
const SKI_OID_DER = [0x06, 0x03, 0x55, 0x1d, 0x0e];
/** BOOLEAN FALSE, encoded: DER leaves the DEFAULT out. */
const EXPLICIT_FALSE = [0x01, 0x01, 0x00];
/** GeneralNames holding one dNSName, `a.kyc.internal`. */
const ONE_DNS_NAME = [0x30, 16, 0x82, 14, ...Buffer.from('a.kyc.internal')];

function failingRuleIds(template: CertificateTemplate, context: LintContext): string[] {
  return lintCertificate(template, context).map((failure) => failure.ruleId).sort();
}

describe('lintCertificate on valid templates', () => {
  const rows: { name: string; options: TemplateOptions }[] = [
    { name: 'ECDSA P-256, serverAuth + clientAuth', options: {} },
    { name: 'ECDSA P-384 with keyAgreement', options: { keyAlgorithm: 'ecdsa-p384', keyUsages: ['digitalSignature', 'keyAgreement'] } },
    { name: 'RSA 2048 with keyEncipherment', options: { keyAlgorithm: 'rsa-2048', keyUsages: ['digitalSignature', 'keyEncipherment'], extendedKeyUsages: ['serverAuth'] } },
    { name: 'Ed25519, clientAuth only', options: { keyAlgorithm: 'ed25519', extendedKeyUsages: ['clientAuth'] } },
    { name: 'an empty subject with a critical SAN', options: { subjectDn: '' } },
    { name: 'a SPIFFE-only identity', options: { subjectDn: '', sans: { dnsNames: [], ipAddresses: [], uris: ['spiffe://kyc.internal/ns/prod/sa/worker'] } } },
    { name: 'IPv6 written non-canonically in the template', options: { sans: { dnsNames: [], ipAddresses: ['2001:DB8:0:0::5'], uris: [] } } },
  ];
  for (const row of rows) {
    it(`passes ${row.name}`, async () => {
      const { template, context } = await validCase(row.options);
      assert.deepEqual(lintCertificate(template, context), []);
    });
  }

  const serials = ['4000000000000001', '7f'.repeat(20), `00${'c0'.repeat(16)}`, `00${'80'.repeat(19)}`];
  for (const serialHex of serials) {
    it(`passes serial ${serialHex}`, async () => {
      const { template, context } = await validCase();
      assert.deepEqual(lintCertificate({ ...template, serialHex }, context), []);
    });
  }

  it('passes a validity exactly equal to the issuer\'s', async () => {
    const { template, context } = await validCase();
    assert.deepEqual(lintCertificate({ ...template, ...ISSUER_VALIDITY }, context), []);
  });

  // RFC 7093 methods 1–3: the leftmost 160 bits of a SHA-2 hash of the key, instead of its SHA-1.
  for (const hash of ['sha256', 'sha384', 'sha512']) {
    it(`passes an SKI that is the ${hash} key identifier (RFC 7093)`, async () => {
      const { template, context } = await validCase();
      const keyId = createHash(hash).update(templatePublicKeyInfo(template).keyBits).digest().subarray(0, 20).toString('hex');
      const withSki = replaceExtension(template, OID.subjectKeyIdentifier, new x509.SubjectKeyIdentifierExtension(keyId));
      assert.deepEqual(lintCertificate(withSki, context), []);
    });
  }
});

type Case = { template: CertificateTemplate; context: LintContext };

interface MutationRow {
  /** The rule this mutation exists to trip. */
  rule: string;
  name: string;
  options?: TemplateOptions;
  mutate: (valid: Case) => Promise<Case> | Case;
  /** Other rules that necessarily fail too, with the reason in the row's name. */
  alsoFails?: string[];
  message?: RegExp;
}

const mutations: MutationRow[] = [
  // validity-within-issuer
  { rule: 'validity-within-issuer', name: 'notAfter equal to notBefore', mutate: ({ template, context }) => ({ template: { ...template, notAfter: template.notBefore }, context }), message: /must be before notAfter/ },
  { rule: 'validity-within-issuer', name: 'notAfter before notBefore', mutate: ({ template, context }) => ({ template: { ...template, notBefore: template.notAfter, notAfter: template.notBefore }, context }) },
  { rule: 'validity-within-issuer', name: 'notBefore before the issuer\'s', mutate: ({ template, context }) => ({ template: { ...template, notBefore: new Date('2024-12-31T23:59:59Z') }, context }), message: /before the issuer's notBefore/ },
  { rule: 'validity-within-issuer', name: 'notAfter after the issuer\'s', mutate: ({ template, context }) => ({ template: { ...template, notAfter: new Date('2035-01-01T00:00:01Z') }, context }), message: /after the issuer's notAfter/ },
  { rule: 'validity-within-issuer', name: 'an invalid date', mutate: ({ template, context }) => ({ template: { ...template, notAfter: new Date(Number.NaN) }, context }), message: /valid dates/ },

  // basic-constraints-critical-not-ca
  { rule: 'basic-constraints-critical-not-ca', name: 'basicConstraints missing', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.basicConstraints, undefined), context }), message: /missing/ },
  { rule: 'basic-constraints-critical-not-ca', name: 'basicConstraints not critical', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.basicConstraints, new x509.BasicConstraintsExtension(false, undefined, false)), context }), message: /critical/ },
  { rule: 'basic-constraints-critical-not-ca', name: 'cA TRUE', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.basicConstraints, new x509.BasicConstraintsExtension(true, undefined, true)), context }), message: /cA FALSE/ },
  { rule: 'basic-constraints-critical-not-ca', name: 'a pathLenConstraint with cA FALSE', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.basicConstraints, new x509.BasicConstraintsExtension(false, 0, true)), context }), message: /pathLenConstraint/ },
  {
    rule: 'basic-constraints-critical-not-ca',
    name: 'a basicConstraints value that does not decode (the rule throws; lint fails closed)',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.basicConstraints, new x509.Extension(OID.basicConstraints, true, new Uint8Array([0x04, 0x00]))), context }),
    message: /^the rule could not run/,
  },

  // key-usage-critical
  { rule: 'key-usage-critical', name: 'keyUsage missing', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, undefined), context }), message: /missing/ },
  { rule: 'key-usage-critical', name: 'keyUsage not critical', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, false)), context }), message: /critical/ },
  {
    rule: 'key-usage-critical',
    name: 'a usage the profile does not grant (keyAgreement on EC, allowed for the key)',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true)), context }),
    message: /\[digitalSignature, keyAgreement\] but the profile grants \[digitalSignature\]/,
  },
  {
    rule: 'key-usage-critical',
    name: 'a usage the profile grants left out',
    options: { keyUsages: ['digitalSignature', 'keyAgreement'] },
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)), context }),
  },
  {
    rule: 'key-usage-critical',
    name: 'a keyUsage with no bits set',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(0 as x509.KeyUsageFlags, true)), context }),
    message: /at least one bit/,
  },
  {
    rule: 'key-usage-critical',
    name: 'keyCertSign in a leaf',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true)), context }),
    message: /keyCertSign/,
  },

  // key-usage-matches-key (the profile is changed with the template, so key-usage-critical passes)
  {
    rule: 'key-usage-matches-key',
    name: 'a public key BIT STRING with unused bits (not a whole key; the SKI rule cannot read it either)',
    alsoFails: ['ski-aki-present'],
    mutate: ({ template, context }) => {
      const spki = new Uint8Array(template.subjectPublicKey.rawData).slice();
      // P-256: SEQUENCE { SEQUENCE { 2 OIDs } (short length at [3]), BIT STRING, unused-bits octet, key }.
      const unusedBitsAt = 2 + 2 + (spki[3] ?? 0) + 2;
      assert.equal(spki[unusedBitsAt - 2], 0x03, 'the BIT STRING follows the AlgorithmIdentifier');
      spki[unusedBitsAt] = 1;
      return { template: { ...template, subjectPublicKey: { rawData: spki.buffer } }, context };
    },
    message: /whole number of octets/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'keyEncipherment on an EC key',
    options: { keyUsages: ['digitalSignature', 'keyEncipherment'] },
    mutate: (valid) => valid,
    message: /keyEncipherment is only for RSA keys/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'keyAgreement on an RSA key',
    options: { keyAlgorithm: 'rsa-2048', keyUsages: ['digitalSignature', 'keyAgreement'] },
    mutate: (valid) => valid,
    message: /keyAgreement is only for EC keys/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'keyAgreement on an Ed25519 key',
    options: { keyAlgorithm: 'ed25519', keyUsages: ['digitalSignature', 'keyAgreement'] },
    mutate: (valid) => valid,
    message: /keyAgreement is only for EC keys/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'keyEncipherment on an Ed25519 key',
    options: { keyAlgorithm: 'ed25519', keyUsages: ['digitalSignature', 'keyEncipherment'] },
    mutate: (valid) => valid,
    message: /keyEncipherment is only for RSA keys/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'dataEncipherment on an Ed25519 key (key-usage-critical: no profile grants it)',
    options: { keyAlgorithm: 'ed25519' },
    mutate: ({ template, context }) => ({
      template: replaceExtension(template, OID.keyUsage, new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.dataEncipherment, true)),
      context,
    }),
    alsoFails: ['key-usage-critical'],
    message: /Ed25519 key may have only digitalSignature, not \[digitalSignature, dataEncipherment\]/,
  },
  {
    rule: 'key-usage-matches-key',
    name: 'a declared key algorithm that is not the public key\'s',
    mutate: ({ template, context }) => ({ template: { ...template, keyAlgorithm: 'rsa-2048' }, context }),
    message: /says rsa-2048 but its public key is EC/,
  },

  // eku-matches-profile
  { rule: 'eku-matches-profile', name: 'EKU missing', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.extKeyUsage, undefined), context }), message: /missing/ },
  {
    rule: 'eku-matches-profile',
    name: 'a purpose the profile does not grant (codeSigning)',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.extKeyUsage, new x509.ExtendedKeyUsageExtension([EKU_OIDS.serverAuth, EKU_OIDS.clientAuth, '1.3.6.1.5.5.7.3.3'])), context }),
    message: /1\.3\.6\.1\.5\.5\.7\.3\.3/,
  },
  {
    rule: 'eku-matches-profile',
    name: 'a granted purpose left out',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.extKeyUsage, new x509.ExtendedKeyUsageExtension([EKU_OIDS.serverAuth])), context }),
  },
  {
    rule: 'eku-matches-profile',
    name: 'a purpose listed twice',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.extKeyUsage, new x509.ExtendedKeyUsageExtension([EKU_OIDS.serverAuth, EKU_OIDS.clientAuth, EKU_OIDS.serverAuth])), context }),
    message: /more than once/,
  },
  {
    rule: 'eku-matches-profile',
    name: 'anyExtendedKeyUsage',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.extKeyUsage, new x509.ExtendedKeyUsageExtension(['2.5.29.37.0'])), context }),
  },

  // san-present-well-formed
  { rule: 'san-present-well-formed', name: 'SAN missing (the subject is not empty)', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, undefined), context }), message: /missing/ },
  {
    rule: 'san-present-well-formed',
    name: 'an encoded name the template does not have',
    mutate: ({ template, context }) => ({
      template: replaceExtension(template, OID.subjectAltName, new x509.SubjectAlternativeNameExtension([...generalNames(template.sans), { type: 'dns', value: 'admin.kyc.internal' }])),
      context,
    }),
    message: /admin\.kyc\.internal/,
  },
  {
    rule: 'san-present-well-formed',
    name: 'a template name that is not encoded',
    mutate: ({ template, context }) => ({ template: { ...template, sans: { ...template.sans, uris: [...template.sans.uris, 'spiffe://kyc.internal/ns/prod/sa/db'] } }, context }),
  },
  {
    rule: 'san-present-well-formed',
    name: 'a malformed DNS name (encoded as decided)',
    options: { sans: { dnsNames: ['API.kyc.internal'], ipAddresses: [], uris: [] } },
    mutate: (valid) => valid,
    message: /must be lower case/,
  },
  {
    rule: 'san-present-well-formed',
    name: 'a dotted IPv4-mapped IPv6, which @peculiar/x509 mis-encodes',
    options: { sans: { dnsNames: [], ipAddresses: ['::ffff:10.20.0.5'], uris: [] } },
    mutate: (valid) => valid,
    message: /in hex/,
  },
  {
    rule: 'san-present-well-formed',
    name: 'an email name in the SAN',
    mutate: ({ template, context }) => ({
      template: replaceExtension(template, OID.subjectAltName, new x509.SubjectAlternativeNameExtension([...generalNames(template.sans), { type: 'email', value: 'ops@kyc.internal' }])),
      context,
    }),
    message: /email/,
  },

  {
    rule: 'san-present-well-formed',
    name: 'a SAN whose critical flag is an encoded FALSE (BER, not DER)',
    alsoFails: ['san-critical-if-empty-subject'],
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, rawExtension(SAN_OID_DER, EXPLICIT_FALSE, ONE_DNS_NAME)), context }),
    message: /left out in DER/,
  },
  {
    rule: 'san-present-well-formed',
    name: 'an iPAddress name of 5 octets',
    alsoFails: ['san-critical-if-empty-subject'],
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, rawExtension(SAN_OID_DER, [], [0x30, 7, 0x87, 5, 10, 0, 0, 1, 2])), context }),
    message: /4- or 16-octet/,
  },
  {
    rule: 'san-present-well-formed',
    name: 'a SAN value with bytes after its GeneralNames',
    alsoFails: ['san-critical-if-empty-subject'],
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, rawExtension(SAN_OID_DER, [], [...ONE_DNS_NAME, 0x05, 0x00])), context }),
  },

  // san-critical-if-empty-subject
  {
    rule: 'san-critical-if-empty-subject',
    name: 'an empty subject with a non-critical SAN',
    options: { subjectDn: '' },
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, new x509.SubjectAlternativeNameExtension(generalNames(template.sans), false)), context }),
    message: /must be critical/,
  },
  {
    rule: 'san-critical-if-empty-subject',
    name: 'a subject with a critical SAN',
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, new x509.SubjectAlternativeNameExtension(generalNames(template.sans), true)), context }),
    message: /must not be critical/,
  },

  // subject-or-san: whenever it fails, the SAN is missing or empty, which san-present-well-formed
  // reports too; the two cannot fail apart.
  {
    rule: 'subject-or-san',
    name: 'an empty subject and an empty SAN (san-present-well-formed: empty SAN)',
    options: { subjectDn: '', sans: { dnsNames: [], ipAddresses: [], uris: [] } },
    mutate: (valid) => valid,
    alsoFails: ['san-present-well-formed'],
    message: /neither a subject nor any subject alternative name/,
  },
  {
    rule: 'subject-or-san',
    name: 'an empty subject and no SAN (san-present-well-formed: missing SAN)',
    options: { subjectDn: '' },
    mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectAltName, undefined), context }),
    alsoFails: ['san-present-well-formed'],
  },

  // serial-number
  { rule: 'serial-number', name: 'upper-case hex', mutate: ({ template, context }) => ({ template: { ...template, serialHex: SERIAL.toUpperCase() }, context }), message: /lower-case hex/ },
  { rule: 'serial-number', name: 'not hex', mutate: ({ template, context }) => ({ template: { ...template, serialHex: 'serial-1' }, context }), message: /lower-case hex/ },
  { rule: 'serial-number', name: 'an empty serial', mutate: ({ template, context }) => ({ template: { ...template, serialHex: '' }, context }), message: /lower-case hex/ },
  { rule: 'serial-number', name: 'an odd number of digits', mutate: ({ template, context }) => ({ template: { ...template, serialHex: SERIAL.slice(1) }, context }), message: /whole octets/ },
  { rule: 'serial-number', name: 'zero', mutate: ({ template, context }) => ({ template: { ...template, serialHex: '00'.repeat(16) }, context }), message: /positive/ },
  { rule: 'serial-number', name: 'a needless leading 00', mutate: ({ template, context }) => ({ template: { ...template, serialHex: `00${SERIAL}` }, context }), message: /not minimally encoded/ },
  { rule: 'serial-number', name: 'a negative serial (first octet 0x80 or more)', mutate: ({ template, context }) => ({ template: { ...template, serialHex: `c0${SERIAL.slice(2)}` }, context }), message: /negative/ },
  { rule: 'serial-number', name: '21 octets', mutate: ({ template, context }) => ({ template: { ...template, serialHex: '7f'.repeat(21) }, context }), message: /at most 20/ },
  { rule: 'serial-number', name: '21 octets with the sign octet', mutate: ({ template, context }) => ({ template: { ...template, serialHex: `00${'80'.repeat(20)}` }, context }), message: /at most 20/ },
  { rule: 'serial-number', name: '7 octets (under 64 bits)', mutate: ({ template, context }) => ({ template: { ...template, serialHex: '40000000000001' }, context }), message: /at least 8/ },
  { rule: 'serial-number', name: '7 value octets behind a sign octet', mutate: ({ template, context }) => ({ template: { ...template, serialHex: '0080000000000001' }, context }), message: /at least 8/ },

  // ski-aki-present
  { rule: 'ski-aki-present', name: 'SKI missing', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.subjectKeyIdentifier, undefined), context }), message: /subjectKeyIdentifier extension is missing/ },
  {
    rule: 'ski-aki-present',
    name: 'an SKI of another key',
    mutate: async ({ template, context }) => ({ template: replaceExtension(template, OID.subjectKeyIdentifier, await x509.SubjectKeyIdentifierExtension.create(keysFor('ed25519').publicKey)), context }),
    message: /not derived from the certificate's public key/,
  },
  {
    rule: 'ski-aki-present',
    name: 'a critical SKI',
    mutate: async ({ template, context }) => ({ template: replaceExtension(template, OID.subjectKeyIdentifier, await x509.SubjectKeyIdentifierExtension.create(keysFor('ecdsa-p256').publicKey, true)), context }),
    message: /must not be critical/,
  },
  {
    rule: 'ski-aki-present',
    name: 'an SKI whose critical flag is an encoded FALSE (BER, not DER)',
    mutate: async ({ template, context }) => {
      const ski = await x509.SubjectKeyIdentifierExtension.create(keysFor('ecdsa-p256').publicKey);
      return { template: replaceExtension(template, OID.subjectKeyIdentifier, rawExtension(SKI_OID_DER, EXPLICIT_FALSE, [0x04, 20, ...Buffer.from(ski.keyId, 'hex')])), context };
    },
    message: /left out in DER/,
  },
  { rule: 'ski-aki-present', name: 'AKI missing', mutate: ({ template, context }) => ({ template: replaceExtension(template, OID.authorityKeyIdentifier, undefined), context }), message: /authorityKeyIdentifier extension is missing/ },
  {
    rule: 'ski-aki-present',
    name: 'an AKI of another issuer',
    mutate: async ({ template, context }) => ({ template: replaceExtension(template, OID.authorityKeyIdentifier, await x509.AuthorityKeyIdentifierExtension.create(keysFor('ecdsa-p384').publicKey)), context }),
    message: /is not the issuer's subjectKeyIdentifier/,
  },
  {
    rule: 'ski-aki-present',
    name: 'a critical AKI',
    mutate: async ({ template, context }) => ({ template: replaceExtension(template, OID.authorityKeyIdentifier, await x509.AuthorityKeyIdentifierExtension.create(fixture.issuer.publicKey, true)), context }),
    message: /must not be critical/,
  },
  {
    rule: 'ski-aki-present',
    name: 'an AKI with issuer and serial but no keyIdentifier',
    mutate: ({ template, context }) => ({
      template: replaceExtension(template, OID.authorityKeyIdentifier, new x509.AuthorityKeyIdentifierExtension({ name: new x509.GeneralNames([{ type: 'dns', value: 'ca.kyc.internal' }]), serialNumber: '01' })),
      context,
    }),
    message: /no keyIdentifier/,
  },
  {
    rule: 'ski-aki-present',
    name: 'an issuer without an SKI',
    mutate: ({ template, context }) => ({ template, context: { ...context, issuerCertificate: fixture.issuerWithoutSki } }),
    message: /issuer certificate has no subjectKeyIdentifier/,
  },

  // no-duplicate-extensions
  {
    rule: 'no-duplicate-extensions',
    name: 'a second CRL distribution points extension',
    mutate: ({ template, context }) => ({ template: { ...template, extensions: [...template.extensions, new x509.CRLDistributionPointsExtension(['http://other.example/crl'])] }, context }),
    message: /2\.5\.29\.31 appears more than once/,
  },
  {
    rule: 'no-duplicate-extensions',
    name: 'a second, CA:TRUE basicConstraints after the first',
    mutate: ({ template, context }) => ({ template: { ...template, extensions: [...template.extensions, new x509.BasicConstraintsExtension(true, undefined, true)] }, context }),
    message: /2\.5\.29\.19 appears more than once/,
  },
];

describe('lintCertificate: one mutation per rule trips exactly that rule', () => {
  for (const row of mutations) {
    it(`${row.rule}: ${row.name}`, async () => {
      const { template, context } = await row.mutate(await validCase(row.options));
      const failures = lintCertificate(template, context);
      const expected = [row.rule, ...(row.alsoFails ?? [])].sort();
      assert.deepEqual(failures.map((failure) => failure.ruleId).sort(), expected, JSON.stringify(failures));
      const own = failures.find((failure) => failure.ruleId === row.rule);
      assert.ok(own && own.message.length > 0);
      if (row.message) assert.match(own.message, row.message);
    });
  }
});

describe('LINT_RULES', () => {
  it('have unique ids', () => {
    const ids = LINT_RULES.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length, ids.join(', '));
  });

  it('each have a kebab-case id and a source', () => {
    for (const rule of LINT_RULES) {
      assert.match(rule.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      assert.ok(rule.source.trim().length > 0, rule.id);
    }
  });

  it('each have at least one mutation row that makes them fail', () => {
    const covered = new Set(mutations.map((row) => row.rule));
    const untested = LINT_RULES.map((rule) => rule.id).filter((id) => !covered.has(id));
    assert.deepEqual(untested, [], `rules without a failing case: ${untested.join(', ')}`);
    // subject-or-san fails only when the SAN is missing or empty, which san-present-well-formed
    // reports as well; every other rule has a row where it fails alone.
    const alone = new Set(mutations.filter((row) => !row.alsoFails?.length).map((row) => row.rule));
    const neverAlone = LINT_RULES.map((rule) => rule.id).filter((id) => !alone.has(id));
    assert.deepEqual(neverAlone, ['subject-or-san']);
    const unknown = [...covered].filter((id) => !LINT_RULES.some((rule) => rule.id === id));
    assert.deepEqual(unknown, [], `rows for rules that do not exist: ${unknown.join(', ')}`);
  });

  it('are one per file, each file named after its rule id', () => {
    const folder = fileURLToPath(new URL('../../../../src/domain/lint/', import.meta.url));
    const support = new Set(['lint-rule', 'lint-certificate', 'template-extension', 'key-usage-names']);
    const ruleFiles = readdirSync(folder)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.slice(0, -3))
      .filter((name) => !support.has(name))
      .sort();
    assert.deepEqual(ruleFiles, LINT_RULES.map((rule) => rule.id).sort());
  });

  it('a valid template really signs into a certificate whose extensions are the template\'s', async () => {
    const { template } = await validCase();
    const issuerKeys = await generateKeys('ecdsa-p256');
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: template.serialHex,
      subject: template.subjectDn,
      issuer: fixture.issuer.subjectName,
      notBefore: template.notBefore,
      notAfter: template.notAfter,
      publicKey: new x509.PublicKey(template.subjectPublicKey.rawData),
      signingKey: issuerKeys.privateKey,
      signingAlgorithm: keyAlgorithmParameters('ecdsa-p256').signingParams,
      extensions: template.extensions.map((extension) => new x509.Extension(extension.rawData)),
    });
    assert.equal(certificate.serialNumber, template.serialHex);
    assert.deepEqual(
      Array.from(certificate.extensions, (extension) => extension.type),
      template.extensions.map((extension) => extension.type),
    );
    assert.deepEqual(failingRuleIds(template, { issuerCertificate: fixture.issuer, profile: { keyUsages: ['digitalSignature'], extendedKeyUsages: ['serverAuth', 'clientAuth'] } }), []);
  });
});
