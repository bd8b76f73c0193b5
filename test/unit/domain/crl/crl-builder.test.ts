import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList, CRLReasons, Time } from '@peculiar/asn1-x509';
import { buildCrl, type CrlEntry, type CrlParams } from '../../../../src/domain/crl/crl-builder.ts';
import {
  isRevocationReasonName,
  reasonCode,
  REVOCATION_REASONS,
  type RevocationReasonName,
} from '../../../../src/domain/crl/revocation-reason.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../../../../src/domain/key-algorithm.ts';
import {
  buildCaCertificate,
  buildLeafCertificate,
  type IssuerLocations,
  type SigningIssuer,
} from '../../../../src/domain/x509/certificate-builder.ts';
import { certificatePem } from '../../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../../support/openssl.ts';

const ROOT_WINDOW = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2055-01-01T00:00:00Z') };
const CA_WINDOW = { notBefore: new Date('2025-01-01T00:05:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') };
const LEAF_WINDOW = { notBefore: new Date('2030-03-01T00:00:00Z'), notAfter: new Date('2030-06-01T00:00:00Z') };
/** 750 ms past the second: the CRL must carry the truncated time. */
const THIS_UPDATE = new Date('2030-03-02T00:00:00.750Z');
const NEXT_UPDATE = new Date('2030-03-09T00:00:00Z');
/** Inside every validity above and the CRL's window, for `openssl verify -attime`. */
const VERIFY_AT = String(Date.parse('2030-03-03T00:00:00Z') / 1000);
const REVOKED_AT = new Date('2030-03-01T12:00:00Z');
const INVALID_SINCE = new Date('2030-02-28T23:30:00Z');
const LOCATIONS: IssuerLocations = { caIssuersUrl: 'http://pki.example.org/ca.crt', crlUrl: 'http://pki.example.org/ca.crl' };

/** DER AlgorithmIdentifiers, written out by hand from RFC 5758, RFC 8410 and RFC 4055. */
const ALGORITHM_DER = {
  ecdsaWithSHA256: '300a06082a8648ce3d040302', // 1.2.840.10045.4.3.2, no parameters
  ecdsaWithSHA384: '300a06082a8648ce3d040303', // 1.2.840.10045.4.3.3, no parameters
  ed25519: '300506032b6570', // 1.3.101.112, no parameters
  sha256WithRSAEncryption: '300d06092a864886f70d01010b0500', // 1.2.840.113549.1.1.11, NULL
};
const CRL_NUMBER_OID = '2.5.29.20';
/** asn1js refuses more than 10,000 nodes by default; a CRL has about six per entry. */
const LARGE_CRL = { berOptions: { maxNodes: Number.MAX_SAFE_INTEGER, maxContentLength: Number.MAX_SAFE_INTEGER } };

function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`missing ${what}`);
  return value;
}

/** A key pair whose private half is non-extractable, as the CA's keys are in production. */
async function nonExtractableKeys(algorithm: KeyAlgorithmName): Promise<CryptoKeyPair> {
  const { keyParams, usages } = keyAlgorithmParameters(algorithm);
  const generated = (await webcrypto.subtle.generateKey(keyParams, true, usages)) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', generated.privateKey);
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', pkcs8, keyParams, false, ['sign'])) as CryptoKey;
  assert.equal(privateKey.extractable, false);
  return { publicKey: generated.publicKey, privateKey };
}

let serialCounter = 0x10;
/** Distinct 16-octet serials shaped like `generateSerialNumber`'s (top bit clear, next bit set). */
function nextSerial(): string {
  serialCounter += 1;
  return `5a${serialCounter.toString(16).padStart(30, '0')}`;
}

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

/** The value of a DER INTEGER (non-negative) such as the cRLNumber extension's value. */
function derUnsignedInteger(der: ArrayBuffer): bigint {
  const bytes = new Uint8Array(der);
  assert.equal(bytes[0], 0x02, 'INTEGER tag');
  const length = required(bytes[1], 'length');
  assert.ok(length < 0x80);
  assert.equal(bytes.length, 2 + length);
  return BigInt(`0x${hex(bytes.subarray(2))}`);
}

/** The children of the TBSCertList as OpenSSL's own parser sees them (depth 2 of the CRL). */
async function tbsChildren(crlFile: string): Promise<string[]> {
  const parsed = await openssl(['asn1parse', '-inform', 'DER', '-in', crlFile]);
  assert.equal(parsed.code, 0, parsed.stderr);
  const children: string[] = [];
  let depthOneSeen = 0;
  for (const line of parsed.stdout.split('\n')) {
    // The first depth-1 element is the TBSCertList; the second (signatureAlgorithm) ends it.
    if (/:d=1 /.test(line)) depthOneSeen += 1;
    else if (depthOneSeen === 1 && /:d=2 /.test(line)) children.push(/(?:prim|cons): (.*?)\s*(?::.*)?$/.exec(line)?.[1] ?? line);
    if (depthOneSeen > 1) break;
  }
  return children;
}

/** A DER/BER element, parsed just far enough to be re-encoded with chosen length forms. */
interface Node {
  tag: number;
  content: Uint8Array;
  children?: Node[];
}

function parseNodes(bytes: Uint8Array): Node[] {
  const nodes: Node[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = required(bytes[offset], 'tag');
    const first = required(bytes[offset + 1], 'length');
    let length = first;
    let start = offset + 2;
    if (first & 0x80) {
      length = 0;
      for (let index = 0; index < (first & 0x7f); index += 1) length = length * 256 + required(bytes[start + index], 'length octet');
      start += first & 0x7f;
    }
    const content = bytes.subarray(start, start + length);
    nodes.push(tag & 0x20 ? { tag, content, children: parseNodes(content) } : { tag, content });
    offset = start + length;
  }
  return nodes;
}

/** Re-encodes, giving `longForm` nodes a (valid BER, non-DER) two-octet long-form length. */
function encodeNode(node: Node, longForm: (node: Node) => boolean): Buffer<ArrayBuffer> {
  const content = node.children ? Buffer.concat(node.children.map((child) => encodeNode(child, longForm))) : node.content;
  const length = content.length;
  const header =
    longForm(node) || length > 0xff
      ? [node.tag, 0x82, length >> 8, length & 0xff]
      : length >= 0x80
        ? [node.tag, 0x81, length]
        : [node.tag, length];
  return Buffer.concat([Buffer.from(header), content]);
}

interface IssuerSpec {
  label: string;
  keyAlgorithm: KeyAlgorithmName;
  /** Expected DER of the AlgorithmIdentifier, in the TBSCertList and around the signature. */
  algorithmDer: string;
}

interface Issuer extends IssuerSpec {
  signer: SigningIssuer;
  /** PEM of the issuer and everything above it, for OpenSSL's trust store. */
  chainPem: string;
}

/** The root signs its own CRL; the three intermediates sit under it. */
const ROOT_SPEC: IssuerSpec = { label: 'P-384 root', keyAlgorithm: 'ecdsa-p384', algorithmDer: ALGORITHM_DER.ecdsaWithSHA384 };
const SUBORDINATE_SPECS: IssuerSpec[] = [
  { label: 'P-256 intermediate', keyAlgorithm: 'ecdsa-p256', algorithmDer: ALGORITHM_DER.ecdsaWithSHA256 },
  { label: 'Ed25519 intermediate', keyAlgorithm: 'ed25519', algorithmDer: ALGORITHM_DER.ed25519 },
  { label: 'RSA-2048 intermediate', keyAlgorithm: 'rsa-2048', algorithmDer: ALGORITHM_DER.sha256WithRSAEncryption },
];

function crlPem(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
}

const execFileAsync = promisify(execFile);

describe('revocation reasons', () => {
  it('maps each name to its RFC 5280 CRLReason code', () => {
    const rfc: Record<RevocationReasonName, number> = {
      unspecified: CRLReasons.unspecified,
      keyCompromise: CRLReasons.keyCompromise,
      caCompromise: CRLReasons.cACompromise,
      affiliationChanged: CRLReasons.affiliationChanged,
      superseded: CRLReasons.superseded,
      cessationOfOperation: CRLReasons.cessationOfOperation,
      privilegeWithdrawn: CRLReasons.privilegeWithdrawn,
    };
    assert.deepEqual(
      REVOCATION_REASONS.map((name) => [name, reasonCode(name)]),
      Object.entries(rfc),
    );
    assert.deepEqual(REVOCATION_REASONS.map(reasonCode), [0, 1, 2, 3, 4, 5, 9]);
  });

  it('recognises only the supported names', () => {
    for (const name of REVOCATION_REASONS) assert.equal(isRevocationReasonName(name), true);
    for (const other of ['certificateHold', 'removeFromCRL', 'cACompromise', 'KeyCompromise', '']) {
      assert.equal(isRevocationReasonName(other), false, other);
    }
  });
});

describe('buildCrl', () => {
  const issuers = new Map<string, Issuer>();
  let leafKeys: CryptoKeyPair;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let fileCounter = 0;

  function issuerNamed(label: string): Issuer {
    return required(issuers.get(label), label);
  }

  before(async () => {
    const rootKeys = await nonExtractableKeys('ecdsa-p384');
    const rootCertificate = await buildCaCertificate({
      ...ROOT_WINDOW,
      serialHex: nextSerial(),
      subjectDn: 'CN=CRL Test Root, O=Trustroot',
      subjectPublicKey: rootKeys.publicKey,
      selfSigningKey: { privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p384' },
    });
    const root: SigningIssuer = { name: 'root', certificate: rootCertificate, privateKey: rootKeys.privateKey, keyAlgorithm: 'ecdsa-p384' };
    const rootPem = certificatePem(rootCertificate);
    issuers.set(ROOT_SPEC.label, { ...ROOT_SPEC, signer: root, chainPem: rootPem });
    const subordinates = await Promise.all(
      SUBORDINATE_SPECS.map(async (spec): Promise<Issuer> => {
        const keys = await nonExtractableKeys(spec.keyAlgorithm);
        const certificate = await buildCaCertificate({
          ...CA_WINDOW,
          serialHex: nextSerial(),
          subjectDn: `CN=CRL Test ${spec.label}, O=Trustroot, C=DE`,
          subjectPublicKey: keys.publicKey,
          pathLength: 0,
          parent: { issuer: root, locations: LOCATIONS },
        });
        const signer: SigningIssuer = { name: spec.label, certificate, privateKey: keys.privateKey, keyAlgorithm: spec.keyAlgorithm };
        return { ...spec, signer, chainPem: certificatePem(certificate) + rootPem };
      }),
    );
    for (const issuer of subordinates) issuers.set(issuer.label, issuer);
    leafKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    files = await pemFiles({});
  });

  after(async () => {
    await files.cleanup();
  });

  function params(issuer: SigningIssuer, entries: Iterable<CrlEntry>, overrides: Partial<CrlParams> = {}): CrlParams {
    return {
      issuerCertificate: issuer.certificate,
      privateKey: issuer.privateKey,
      keyAlgorithm: issuer.keyAlgorithm,
      crlNumber: 42n,
      thisUpdate: THIS_UPDATE,
      nextUpdate: NEXT_UPDATE,
      entries,
      ...overrides,
    };
  }

  /** Writes the CRL (DER and PEM) and the given PEMs into the temporary folder; returns their paths. */
  async function writeCrl(der: Uint8Array, pems: Record<string, string> = {}): Promise<{ der: string; pem: string } & Record<string, string>> {
    fileCounter += 1;
    const prefix = `crl-${fileCounter}`;
    const paths: Record<string, string> = { der: files.path(`${prefix}.der`), pem: files.path(`${prefix}.pem`) };
    await writeFile(required(paths['der'], 'der'), der);
    await writeFile(required(paths['pem'], 'pem'), crlPem(der));
    for (const [name, content] of Object.entries(pems)) {
      paths[name] = files.path(`${prefix}-${name}`);
      await writeFile(required(paths[name], name), content);
    }
    return paths as { der: string; pem: string } & Record<string, string>;
  }

  async function leaf(issuer: SigningIssuer, serialHex: string): Promise<x509.X509Certificate> {
    return buildLeafCertificate({
      ...LEAF_WINDOW,
      serialHex,
      sans: { dnsNames: ['orders.svc.example.org'], ipAddresses: [], uris: [] },
      subjectPublicKey: leafKeys.publicKey,
      keyUsages: x509.KeyUsageFlags.digitalSignature,
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth],
      issuer,
      locations: LOCATIONS,
    });
  }

  for (const spec of [ROOT_SPEC, ...SUBORDINATE_SPECS]) {
    describe(`signed by the ${spec.label}`, () => {
      let issuer: Issuer;
      let revokedLeaf: x509.X509Certificate;
      let goodLeaf: x509.X509Certificate;
      let entries: CrlEntry[];
      let der: Uint8Array<ArrayBuffer>;
      let crl: x509.X509Crl;
      let paths: Awaited<ReturnType<typeof writeCrl>>;

      before(async () => {
        issuer = issuerNamed(spec.label);
        revokedLeaf = await leaf(issuer.signer, nextSerial());
        goodLeaf = await leaf(issuer.signer, nextSerial());
        entries = [
          { serialHex: revokedLeaf.serialNumber, revokedAt: REVOKED_AT, reason: 'keyCompromise', invalidityDate: INVALID_SINCE },
          { serialHex: nextSerial(), revokedAt: new Date('2030-03-01T13:14:15.999Z'), reason: 'superseded' },
          { serialHex: nextSerial(), revokedAt: new Date('2030-03-01T23:59:59Z'), reason: 'unspecified' },
        ];
        der = await buildCrl(params(issuer.signer, entries));
        crl = new x509.X509Crl(der);
        paths = await writeCrl(der, {
          'chain.pem': issuer.chainPem,
          'revoked.pem': certificatePem(revokedLeaf),
          'good.pem': certificatePem(goodLeaf),
        });
      });

      it('is a v2 CRL whose signature verifies with the issuer public key', async () => {
        assert.equal(crl.version, 1); // v2
        assert.equal(await crl.verify({ publicKey: issuer.signer.certificate.publicKey }), true);
        const stranger = issuerNamed(spec === ROOT_SPEC ? 'P-256 intermediate' : ROOT_SPEC.label).signer.certificate.publicKey;
        // x509 throws rather than answering false when the curves differ; either is a refusal.
        assert.equal(await crl.verify({ publicKey: stranger }).catch(() => false), false);
      });

      it('states the signature algorithm of the key, identically inside and outside the TBSCertList', () => {
        const list = AsnConvert.parse(der, CertificateList);
        assert.equal(hex(AsnConvert.serialize(list.tbsCertList.signature)), issuer.algorithmDer);
        assert.equal(hex(AsnConvert.serialize(list.signatureAlgorithm)), issuer.algorithmDer);
        assert.equal(hex(der).split(issuer.algorithmDer).length - 1, 2);
      });

      it('names the issuer by the exact DER of the CA subject', () => {
        assert.equal(crl.issuer, issuer.signer.certificate.subject);
        const subject = Buffer.from(issuer.signer.certificate.subjectName.toArrayBuffer());
        assert.equal(hex(AsnConvert.serialize(AsnConvert.parse(der, CertificateList).tbsCertList.issuer)), subject.toString('hex'));
        assert.ok(Buffer.from(der).includes(subject));
      });

      it('carries thisUpdate and nextUpdate in whole seconds', () => {
        assert.equal(crl.thisUpdate.toISOString(), '2030-03-02T00:00:00.000Z');
        assert.equal(required(crl.nextUpdate, 'nextUpdate').toISOString(), NEXT_UPDATE.toISOString());
      });

      it('carries a non-critical cRLNumber and an AKI equal to the CA SKI', () => {
        const number = required(crl.getExtension(CRL_NUMBER_OID), 'cRLNumber');
        assert.equal(number.critical, false);
        assert.equal(derUnsignedInteger(number.value), 42n);
        const aki = required(crl.getExtension(x509.AuthorityKeyIdentifierExtension), 'AKI');
        assert.equal(aki.critical, false);
        assert.equal(aki.keyId, required(issuer.signer.certificate.getExtension(x509.SubjectKeyIdentifierExtension), 'SKI').keyId);
        assert.deepEqual(
          crl.extensions.map((extension) => extension.type),
          ['2.5.29.35', CRL_NUMBER_OID],
        );
      });

      it('lists the entries with serial, whole-second date, reason and invalidity date', () => {
        assert.deepEqual(
          crl.entries.map((entry) => ({
            serial: entry.serialNumber,
            date: entry.revocationDate.toISOString(),
            reason: entry.reason,
            invalidity: entry.invalidity?.toISOString(),
            extensions: entry.extensions.length,
          })),
          [
            { serial: revokedLeaf.serialNumber, date: REVOKED_AT.toISOString(), reason: x509.X509CrlReason.keyCompromise, invalidity: INVALID_SINCE.toISOString(), extensions: 2 },
            { serial: entries[1]?.serialHex, date: '2030-03-01T13:14:15.000Z', reason: x509.X509CrlReason.superseded, invalidity: undefined, extensions: 1 },
            // 'unspecified' carries no reasonCode (RFC 5280 5.3.1) and so no extensions at all.
            { serial: entries[2]?.serialHex, date: '2030-03-01T23:59:59.000Z', reason: undefined, invalidity: undefined, extensions: 0 },
          ],
        );
      });

      it('is canonical DER: asn1-x509 re-encodes it to the same bytes', () => {
        assert.equal(hex(AsnConvert.serialize(AsnConvert.parse(der, CertificateList))), hex(der));
      });

      it('verifies with OpenSSL against the CA certificate', async () => {
        const result = await openssl(['crl', '-inform', 'DER', '-in', paths.der, '-CAfile', required(paths['chain.pem'], 'chain'), '-noout']);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout + result.stderr, /verify OK/);
      });

      it('reads in OpenSSL with its entries, reasons and CRL number', async () => {
        const result = await openssl(['crl', '-inform', 'DER', '-in', paths.der, '-noout', '-text']);
        assert.equal(result.code, 0, result.stderr);
        const text = result.stdout;
        assert.match(text, /Version 2 \(0x1\)/);
        assert.match(text, /X509v3 CRL Number: *\n\s*42\n/);
        assert.match(text, /Last Update: Mar {2}2 00:00:00 2030 GMT/);
        assert.match(text, /Revoked Certificates:/);
        // OpenSSL prints CRL serials as upper-case hex without colons.
        const serials = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => match[1]);
        assert.deepEqual(serials, entries.map((entry) => entry.serialHex.toUpperCase()));
        assert.equal(text.match(/X509v3 CRL Reason Code:/g)?.length, 2);
        assert.match(text, /X509v3 CRL Reason Code: *\n\s*Key Compromise/);
        assert.match(text, /X509v3 CRL Reason Code: *\n\s*Superseded/);
        assert.match(text, /Invalidity Date: *\n\s*Feb 28 23:30:00 2030 GMT/);
      });

      it('makes OpenSSL reject the listed leaf as revoked and accept the other', async () => {
        const verify = (leafPath: string) =>
          openssl(['verify', '-attime', VERIFY_AT, '-crl_check', '-CRLfile', paths.pem, '-CAfile', required(paths['chain.pem'], 'chain'), leafPath]);
        const revoked = await verify(required(paths['revoked.pem'], 'revoked leaf'));
        assert.notEqual(revoked.code, 0);
        assert.match(revoked.stdout + revoked.stderr, /certificate revoked/);
        const good = await verify(required(paths['good.pem'], 'good leaf'));
        assert.equal(good.code, 0, good.stdout + good.stderr);
        assert.match(good.stdout, /: OK/);
      });
    });
  }

  it('omits revokedCertificates entirely when there are no entries', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    const der = await buildCrl(params(issuer.signer, []));
    const crl = new x509.X509Crl(der);
    assert.equal(crl.entries.length, 0);
    assert.equal(await crl.verify({ publicKey: issuer.signer.certificate.publicKey }), true);
    const paths = await writeCrl(der, { 'chain.pem': issuer.chainPem });
    // version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no SEQUENCE between.
    assert.deepEqual(await tbsChildren(paths.der), ['INTEGER', 'SEQUENCE', 'SEQUENCE', 'UTCTIME', 'UTCTIME', 'cont [ 0 ]']);
    const text = await openssl(['crl', '-inform', 'DER', '-in', paths.der, '-CAfile', required(paths['chain.pem'], 'chain'), '-text']);
    assert.match(text.stdout + text.stderr, /verify OK/);
    assert.match(text.stdout, /No Revoked Certificates\./);
  });

  it('copies the issuer Name byte for byte from the certificate, even where re-encoding would differ', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    // The same certificate with the subject's commonName given a BER long-form length: still the
    // same Name, but x509's re-encoded `subjectName` is now shorter than the bytes in the certificate.
    const [certificateNode] = parseNodes(new Uint8Array(issuer.signer.certificate.rawData));
    const tbsNode = required(certificateNode?.children?.[0], 'tbsCertificate');
    const subjectNode = required(tbsNode.children?.[5], 'subject');
    const commonName = Buffer.from('CRL Test P-256 intermediate');
    const isCommonNameValue = (node: Node) => !node.children && Buffer.from(node.content).equals(commonName);
    const berCertificate = new x509.X509Certificate(encodeNode(required(certificateNode, 'certificate'), isCommonNameValue));
    const rawSubject = encodeNode(subjectNode, isCommonNameValue);
    const reEncodedSubject = Buffer.from(berCertificate.subjectName.toArrayBuffer());
    assert.equal(berCertificate.subject, issuer.signer.certificate.subject);
    assert.notEqual(rawSubject.length, reEncodedSubject.length);

    const der = Buffer.from(await buildCrl({ ...params(issuer.signer, []), issuerCertificate: berCertificate }));
    assert.ok(der.includes(rawSubject));
    assert.ok(!der.includes(reEncodedSubject));
  });

  it('encodes a single entry as one SEQUENCE between nextUpdate and the extensions', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    const der = await buildCrl(params(issuer.signer, [{ serialHex: '7f', revokedAt: REVOKED_AT, reason: 'cessationOfOperation' }]));
    const paths = await writeCrl(der);
    assert.deepEqual(await tbsChildren(paths.der), ['INTEGER', 'SEQUENCE', 'SEQUENCE', 'UTCTIME', 'UTCTIME', 'SEQUENCE', 'cont [ 0 ]']);
    const [entry] = new x509.X509Crl(der).entries;
    assert.equal(required(entry, 'entry').reason, x509.X509CrlReason.cessationOfOperation);
  });

  it('encodes serials as minimal positive INTEGERs', async () => {
    const cases = [
      { serialHex: '7f', content: '7f' },
      { serialHex: '80', content: '0080' },
      { serialHex: '00ff', content: '00ff' },
      { serialHex: '0001', content: '01' },
      { serialHex: 'ABC', content: '0abc' },
      { serialHex: 'de:ad:be:ef', content: '00deadbeef' },
      { serialHex: 'f'.repeat(40), content: `00${'f'.repeat(40)}` },
    ];
    const issuer = issuerNamed('P-256 intermediate');
    const der = await buildCrl(params(issuer.signer, cases.map(({ serialHex }) => ({ serialHex, revokedAt: REVOKED_AT, reason: 'superseded' as const }))));
    const revoked = required(AsnConvert.parse(der, CertificateList).tbsCertList.revokedCertificates, 'revokedCertificates');
    assert.deepEqual(
      revoked.map((entry) => hex(entry.userCertificate)),
      cases.map(({ content }) => content),
    );
    const paths = await writeCrl(der);
    const text = await openssl(['crl', '-inform', 'DER', '-in', paths.der, '-noout', '-text']);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(
      [...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => match[1]),
      ['7F', '80', 'FF', '01', '0ABC', 'DEADBEEF', 'F'.repeat(40)],
    );
  });

  it('uses UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 5.1.2.4), in whole seconds', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    const thisUpdate = new Date('2049-12-31T23:59:59.999Z');
    const nextUpdate = new Date('2050-01-01T00:00:00.500Z');
    const der = await buildCrl(
      params(issuer.signer, [
        { serialHex: '01', revokedAt: new Date('2049-06-01T00:00:00Z'), reason: 'keyCompromise', invalidityDate: new Date('2049-05-31T00:00:00.999Z') },
        { serialHex: '02', revokedAt: new Date('2050-06-01T08:09:10.123Z'), reason: 'unspecified' },
      ], { thisUpdate, nextUpdate }),
    );
    const tbs = AsnConvert.parse(der, CertificateList).tbsCertList;
    // asn1-x509's own Time choice is the reference encoding.
    const reference = (date: string) => hex(AsnConvert.serialize(new Time(new Date(date))));
    assert.equal(hex(AsnConvert.serialize(tbs.thisUpdate)), reference('2049-12-31T23:59:59Z'));
    assert.ok(tbs.thisUpdate.utcTime);
    assert.equal(hex(AsnConvert.serialize(required(tbs.nextUpdate, 'nextUpdate'))), reference('2050-01-01T00:00:00Z'));
    assert.ok(tbs.nextUpdate?.generalTime);
    const [first, second] = required(tbs.revokedCertificates, 'entries');
    assert.ok(first?.revocationDate.utcTime);
    assert.equal(second?.revocationDate.generalTime?.toISOString(), '2050-06-01T08:09:10.000Z');
    const crl = new x509.X509Crl(der);
    // InvalidityDate is always GeneralizedTime, also before 2050.
    assert.equal(crl.entries[0]?.invalidity?.toISOString(), '2049-05-31T00:00:00.000Z');
    assert.ok(Buffer.from(der).includes(Buffer.from('180f32303439303533313030303030305a', 'hex')));
    assert.equal(hex(AsnConvert.serialize(AsnConvert.parse(der, CertificateList))), hex(der));
  });

  it('encodes the largest allowed CRL number (2^159 - 1, 20 octets)', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    const largest = (1n << 159n) - 1n;
    const crl = new x509.X509Crl(await buildCrl(params(issuer.signer, [], { crlNumber: largest })));
    assert.equal(derUnsignedInteger(required(crl.getExtension(CRL_NUMBER_OID), 'cRLNumber').value), largest);
  });

  it('iterates the entries once, so a generator works', async () => {
    const issuer = issuerNamed('P-256 intermediate');
    let produced = 0;
    function* generate(): Generator<CrlEntry> {
      for (let index = 0; index < 5; index += 1) {
        produced += 1;
        yield { serialHex: (0x1000 + index).toString(16), revokedAt: REVOKED_AT, reason: 'affiliationChanged' };
      }
    }
    const crl = new x509.X509Crl(await buildCrl(params(issuer.signer, generate())));
    assert.equal(produced, 5);
    assert.deepEqual(crl.entries.map((entry) => entry.serialNumber), ['1000', '1001', '1002', '1003', '1004']);
  });

  describe('refuses', () => {
    const entry: CrlEntry = { serialHex: '01', revokedAt: REVOKED_AT, reason: 'superseded' };
    const refusals: { name: string; make: () => CrlParams | Promise<CrlParams>; message: RegExp }[] = [
      { name: 'a zero serial', make: () => params(p256(), [{ ...entry, serialHex: '00' }]), message: /CRL entry 0: serial "00"/ },
      { name: 'a serial that is not hex', make: () => params(p256(), [entry, { ...entry, serialHex: '12g4' }]), message: /CRL entry 1: serial/ },
      { name: 'an empty serial', make: () => params(p256(), [{ ...entry, serialHex: '' }]), message: /serial ""/ },
      { name: 'a serial over 20 octets', make: () => params(p256(), [{ ...entry, serialHex: '1'.repeat(41) }]), message: /at most 20 octets/ },
      {
        name: 'an unknown reason',
        make: () => params(p256(), [{ ...entry, reason: 'certificateHold' as RevocationReasonName }]),
        message: /unknown revocation reason "certificateHold"/,
      },
      { name: 'an invalid revocation date', make: () => params(p256(), [{ ...entry, revokedAt: new Date('nope') }]), message: /revokedAt is not a valid date/ },
      {
        name: 'an invalid invalidity date',
        make: () => params(p256(), [{ ...entry, invalidityDate: new Date(Number.NaN) }]),
        message: /invalidityDate is not a valid date/,
      },
      {
        name: 'nextUpdate in the same second as thisUpdate',
        make: () => params(p256(), [], { thisUpdate: new Date('2030-01-01T00:00:00.100Z'), nextUpdate: new Date('2030-01-01T00:00:00.900Z') }),
        message: /nextUpdate must be later/,
      },
      { name: 'nextUpdate before thisUpdate', make: () => params(p256(), [], { nextUpdate: new Date('2030-03-01T00:00:00Z') }), message: /nextUpdate must be later/ },
      { name: 'CRL number 0', make: () => params(p256(), [], { crlNumber: 0n }), message: /crlNumber must be positive/ },
      { name: 'CRL number 2^159', make: () => params(p256(), [], { crlNumber: 1n << 159n }), message: /below 2\^159/ },
      { name: 'a key of another algorithm', make: () => params(p256(), [], { keyAlgorithm: 'ecdsa-p384' }), message: /not a ecdsa-p384 key/ },
      { name: 'an RSA key of another size', make: () => params(rsa(), [], { keyAlgorithm: 'rsa-3072' }), message: /not a rsa-3072 key/ },
      {
        name: 'a key that does not belong to the issuer certificate',
        make: () => params(p256(), [], { privateKey: issuerNamed(ROOT_SPEC.label).signer.privateKey, keyAlgorithm: 'ecdsa-p384' }),
        message: /does not belong to the issuer certificate/,
      },
      {
        name: 'a public key',
        make: async () => {
          const keys = await nonExtractableKeys('ecdsa-p256');
          return params(p256(), [], { privateKey: keys.publicKey });
        },
        message: /private key allowed to sign/,
      },
      {
        name: 'an issuer certificate without subjectKeyIdentifier',
        make: async () => {
          const keys = await nonExtractableKeys('ecdsa-p256');
          const certificate = await x509.X509CertificateGenerator.createSelfSigned({
            serialNumber: '01',
            name: 'CN=No SKI',
            ...CA_WINDOW,
            keys,
            signingAlgorithm: keyAlgorithmParameters('ecdsa-p256').signingParams,
            extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
          });
          return { ...params(p256(), []), issuerCertificate: certificate, privateKey: keys.privateKey };
        },
        message: /no subjectKeyIdentifier/,
      },
    ];
    function p256(): SigningIssuer {
      return issuerNamed('P-256 intermediate').signer;
    }
    function rsa(): SigningIssuer {
      return issuerNamed('RSA-2048 intermediate').signer;
    }
    for (const { name, make, message } of refusals) {
      it(name, async () => {
        await assert.rejects(async () => buildCrl(await make()), message);
      });
    }
  });

  it('builds large CRLs in linear time (timings reported, not asserted)', async (t) => {
    const issuer = issuerNamed('P-256 intermediate');
    const reasons: RevocationReasonName[] = ['keyCompromise', 'superseded', 'unspecified', 'cessationOfOperation'];
    const makeEntries = (count: number): CrlEntry[] =>
      Array.from({ length: count }, (_, index) => ({
        serialHex: `4${index.toString(16).padStart(31, '0')}`,
        revokedAt: new Date(Date.UTC(2030, 0, 1) + index * 1000),
        reason: reasons[index % reasons.length] ?? 'unspecified',
        ...(index % 10 === 0 ? { invalidityDate: new Date(Date.UTC(2029, 11, 31)) } : {}),
      }));

    for (const count of [10_000, 100_000]) {
      const entries = makeEntries(count);
      const started = performance.now();
      const der = await buildCrl(params(issuer.signer, entries));
      const elapsed = performance.now() - started;
      t.diagnostic(`${count} entries: built in ${elapsed.toFixed(0)} ms, ${der.length} bytes of DER`);
      const paths = await writeCrl(der, { 'chain.pem': issuer.chainPem });
      if (count <= 10_000) {
        const crl = new x509.X509Crl(der, LARGE_CRL);
        assert.equal(crl.entries.length, count);
        assert.equal(await crl.verify({ publicKey: issuer.signer.certificate.publicKey }), true);
      }
      // OpenSSL checks the signature and counts the entries; its text is piped through grep
      // because it is megabytes long.
      const verified = await openssl(['crl', '-inform', 'DER', '-in', paths.der, '-CAfile', required(paths['chain.pem'], 'chain'), '-noout']);
      assert.match(verified.stdout + verified.stderr, /verify OK/);
      const counted = await execFileAsync('sh', ['-c', 'openssl crl -inform DER -in "$1" -noout -text | grep -c "Serial Number"', 'sh', paths.der]);
      assert.equal(Number(counted.stdout.trim()), count);
    }
  });
});
