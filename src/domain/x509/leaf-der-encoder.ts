import { createPublicKey, hash, KeyObject, sign, verify, type webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import type { ExtendedKeyUsageName, KeyUsageName } from '../certificate-profile.ts';
import { keyAlgorithmParameters } from '../key-algorithm.ts';
import type { IssuerLocations, SigningIssuer, SubjectAlternativeNames } from './certificate-builder.ts';
import {
  DER_TAG,
  type DerBytes,
  bitString,
  booleanTrue,
  certificateTime,
  explicitContext,
  hexOctets,
  ia5Octets,
  implicitConstructed,
  implicitPrimitive,
  isPrintableString,
  nullValue,
  objectIdentifier,
  octetString,
  printableString,
  sequence,
  set,
  smallInteger,
  unsignedInteger,
  utf8String,
} from './der-writer.ts';
import { DerReader, type DerElement } from '../csr/der-reader.ts';
import { extendedKeyUsageOids, keyUsageFlags } from './leaf-certificate.ts';

/**
 * The hand-written DER encoder of the issuance fast path. It produces, byte for byte, the
 * certificate `prepareLeafCertificate` + `signCertificateTemplate` produce through
 * @peculiar/x509 (same field order, string types, extension order and encodings), without an
 * ASN.1 object model, and signs with Node's native `crypto.sign`. The equality is pinned by
 * test/unit/domain/x509/fast-leaf.test.ts against the reference path.
 */

const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  cRLDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ed25519: '1.3.101.112',
} as const;

/** GeneralName CHOICE tags (RFC 5280 4.2.1.6), all IMPLICIT. */
const GENERAL_NAME = { dNSName: 2, uniformResourceIdentifier: 6, iPAddress: 7 } as const;

type NodeHash = 'sha256' | 'sha384' | 'sha512';
const NODE_HASHES: Readonly<Record<string, NodeHash>> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/** What signing a leaf needs from its issuer, computed once per issuer by `leafIssuerParts`. */
export interface LeafIssuerParts {
  certificate: SigningIssuer['certificate'];
  /** The issuer's subject Name TLV, copied from its certificate's bytes (name chaining is byte-exact). */
  issuerNameDer: DerBytes;
  /** AlgorithmIdentifier TLV written both in TBSCertificate.signature and Certificate.signatureAlgorithm. */
  signatureAlgorithmDer: DerBytes;
  /** The leaf's authorityKeyIdentifier Extension TLV: keyIdentifier = SHA-1 of the issuer's key bits. */
  authorityKeyIdentifierDer: DerBytes;
  /** The issuer's private key as a native key object (works for non-extractable CryptoKeys). */
  signingKey: KeyObject;
  /** Digest for `crypto.sign`; null for Ed25519, which hashes internally. */
  hash: NodeHash | null;
  /** 'der' for ECDSA: X.509 carries a DER Ecdsa-Sig-Value (RFC 5758 3.2), not IEEE P1363 r‖s. */
  dsaEncoding: 'der' | undefined;
}

/** The fields of a leaf certificate that are not the issuer's. */
export interface LeafFields {
  /** Serial magnitude in hex (positive); encoded as the minimal positive INTEGER. */
  serialHex: string;
  /** Truncated to whole seconds when encoded. */
  notBefore: Date;
  notAfter: Date;
  /** Subject CN; absent or '' for an empty subject (the SAN is then critical). */
  commonName?: string | undefined;
  sans: SubjectAlternativeNames;
  /** The subject's DER SubjectPublicKeyInfo, embedded verbatim. */
  subjectPublicKeyInfo: Uint8Array;
  keyUsages: readonly KeyUsageName[];
  extendedKeyUsages: readonly ExtendedKeyUsageName[];
  locations: IssuerLocations;
}

// ---------------------------------------------------------------------------------------------
// Reading the few structures the encoder takes apart (issuer certificate, SPKI, SAN), with the
// strict DER reader the CSR parser uses.

function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined || element.tag !== tag) throw new Error(`malformed ${what}`);
  return element;
}

/** The subjectPublicKey BIT STRING's key bits (without the unused-bits octet) of a DER SPKI. */
function spkiKeyBits(spki: Uint8Array): Uint8Array {
  const reader = new DerReader(spki, { strict: true });
  const outer = expectTag(reader.readExactly(0, spki.length), DER_TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const [algorithm, key, ...rest] = reader.children(outer);
  expectTag(algorithm, DER_TAG.SEQUENCE, 'SubjectPublicKeyInfo algorithm');
  const bits = expectTag(key, DER_TAG.BIT_STRING, 'SubjectPublicKeyInfo key');
  if (rest.length > 0 || bits.end - bits.contentStart < 1) throw new Error('malformed SubjectPublicKeyInfo');
  return spki.subarray(bits.contentStart + 1, bits.end);
}

/** RFC 5280 4.2.1.2 method 1, as @peculiar/x509's `PublicKey.getKeyIdentifier()` computes it. */
function keyIdentifier(spki: Uint8Array): Uint8Array {
  return hash('sha1', spkiKeyBits(spki), 'buffer');
}

/** The subject Name TLV and SubjectPublicKeyInfo TLV of a certificate, as bytes of that certificate. */
function subjectAndKeyOf(certificateDer: Uint8Array): { name: DerBytes; spki: DerBytes } {
  const reader = new DerReader(certificateDer, { strict: true });
  const certificate = expectTag(reader.read(0, certificateDer.length), DER_TAG.SEQUENCE, 'certificate');
  const tbs = expectTag(reader.children(certificate)[0], DER_TAG.SEQUENCE, 'TBSCertificate');
  const fields = reader.children(tbs);
  // version [0] is optional (absent for v1); then serial, signature, issuer, validity, subject, spki.
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = expectTag(fields[first + 4], DER_TAG.SEQUENCE, 'subject Name');
  const spki = expectTag(fields[first + 5], DER_TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  return {
    name: certificateDer.slice(subject.start, subject.end),
    spki: certificateDer.slice(spki.start, spki.end),
  };
}

// ---------------------------------------------------------------------------------------------
// The issuer's parts

/**
 * The signature algorithm @peculiar/x509's X509CertificateGenerator would use for this issuer:
 * it merges `{ hash: 'SHA-256' }`, the key algorithm's signing parameters and the key's own
 * algorithm (so an RSA key's bound hash wins), then maps name and hash to an AlgorithmIdentifier
 * (ECDSA and Ed25519 without parameters, RSA PKCS#1 v1.5 with NULL parameters).
 */
function signatureAlgorithmOf(issuer: SigningIssuer): Pick<LeafIssuerParts, 'signatureAlgorithmDer' | 'hash' | 'dsaEncoding'> {
  const merged: { name: string; hash?: unknown } = {
    hash: 'SHA-256',
    ...keyAlgorithmParameters(issuer.keyAlgorithm).signingParams,
    ...issuer.privateKey.algorithm,
  };
  // WebCrypto gives the hash as a name ('SHA-256') or, on an RSA key, as { name: 'SHA-256' }.
  const hashName = typeof merged.hash === 'object' && merged.hash !== null && 'name' in merged.hash ? merged.hash.name : merged.hash;
  const hash = typeof hashName === 'string' ? NODE_HASHES[hashName.toUpperCase()] : undefined;
  switch (merged.name.toUpperCase()) {
    case 'ECDSA': {
      if (!hash) throw new Error(`ECDSA issuers sign with SHA-256, -384 or -512, not ${String(hashName)}`);
      const oid = { sha256: OID.ecdsaWithSha256, sha384: OID.ecdsaWithSha384, sha512: OID.ecdsaWithSha512 }[hash];
      return { signatureAlgorithmDer: sequence(objectIdentifier(oid)), hash, dsaEncoding: 'der' };
    }
    case 'RSASSA-PKCS1-V1_5': {
      if (!hash) throw new Error(`RSA issuers sign with SHA-256, -384 or -512, not ${String(hashName)}`);
      const oid = { sha256: OID.sha256WithRsa, sha384: OID.sha384WithRsa, sha512: OID.sha512WithRsa }[hash];
      return { signatureAlgorithmDer: sequence(objectIdentifier(oid), nullValue()), hash, dsaEncoding: undefined };
    }
    case 'ED25519':
      return { signatureAlgorithmDer: sequence(objectIdentifier(OID.ed25519)), hash: null, dsaEncoding: undefined };
    default:
      throw new Error(`issuer key algorithm ${merged.name} is not supported by the fast leaf encoder`);
  }
}

/**
 * Precomputes, once per issuer, everything every leaf it signs shares: the issuer Name bytes,
 * the signature AlgorithmIdentifier, the AKI extension and a native signing key. Checks once
 * that the private key belongs to the certificate (a test signature verifies), so a mismatched
 * issuer fails here rather than by issuing certificates that never chain.
 */
export function leafIssuerParts(issuer: SigningIssuer): LeafIssuerParts {
  const certificateDer = new Uint8Array(issuer.certificate.rawData);
  const { name, spki } = subjectAndKeyOf(certificateDer);
  const algorithm = signatureAlgorithmOf(issuer);
  // Node's KeyObject.from takes its own CryptoKey type, which the DOM lib's is structurally unlike.
  const signingKey = KeyObject.from(issuer.privateKey as unknown as webcrypto.CryptoKey);
  if (signingKey.type !== 'private') throw new Error(`issuer ${issuer.name}: the signing key is not a private key`);
  const probe = Buffer.from('trustroot fast-leaf key check');
  const probeSignature = sign(algorithm.hash, probe, { key: signingKey, dsaEncoding: algorithm.dsaEncoding });
  const publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  if (!verify(algorithm.hash, probe, { key: publicKey, dsaEncoding: algorithm.dsaEncoding }, probeSignature)) {
    throw new Error(`issuer ${issuer.name}: the private key does not match the certificate's public key`);
  }
  const authorityKeyIdentifierDer = sequence(
    objectIdentifier(OID.authorityKeyIdentifier),
    octetString(sequence(implicitPrimitive(0, keyIdentifier(spki)))),
  );
  return { certificate: issuer.certificate, issuerNameDer: name, authorityKeyIdentifierDer, signingKey, ...algorithm };
}

// ---------------------------------------------------------------------------------------------
// Extensions

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (written only when TRUE), extnValue }. */
function extension(oid: string, critical: boolean, value: Uint8Array): DerBytes {
  return critical
    ? sequence(objectIdentifier(oid), booleanTrue(), octetString(value))
    : sequence(objectIdentifier(oid), octetString(value));
}

/** Profile constants repeat on every certificate; their encodings are cached by input. */
const CONSTANT_CACHE_LIMIT = 256;
const constantCache = new Map<string, DerBytes>();

/** A cached encoding, copied out so that no caller can corrupt the cache. */
function cached(key: string, encode: () => DerBytes): DerBytes {
  let der = constantCache.get(key);
  if (der === undefined) {
    der = encode();
    if (constantCache.size >= CONSTANT_CACHE_LIMIT) constantCache.clear();
    constantCache.set(key, der);
  }
  return der.slice();
}

/**
 * keyUsage's named BIT STRING as @peculiar/asn1-schema's `BitString.fromNumber` writes it:
 * flag bit k is the k-th bit from the most significant bit of the first octet, trailing zero
 * bits are dropped (DER), and no flags at all is an empty BIT STRING.
 */
function keyUsageBits(flags: number): DerBytes {
  if (flags === 0) return bitString(new Uint8Array(0));
  const bitLength = 32 - Math.clz32(flags);
  const octets = new Uint8Array(Math.ceil(bitLength / 8));
  for (let bit = 0; bit < bitLength; bit++) {
    if (flags & (1 << bit)) octets[bit >> 3] = (octets[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  }
  return bitString(octets, octets.length * 8 - bitLength);
}

/**
 * The 4 or 16 octets of an IP address SAN. Only plain IPv4 dotted quads and IPv6 hex groups
 * are accepted: a zone or a dotted IPv4 tail inside IPv6 (which @peculiar/x509 mis-encodes)
 * throws instead of being encoded differently from the reference path.
 */
export function ipAddressOctets(address: string): Uint8Array {
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split('.').map((part) => Number(part)));
  if (family !== 6 || address.includes('.') || address.includes('%')) {
    throw new Error(`${JSON.stringify(address)} is not an IPv4 or plain hexadecimal IPv6 address`);
  }
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const octets = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    octets[index * 2] = value >> 8;
    octets[index * 2 + 1] = value & 0xff;
  });
  return octets;
}

function subjectAltNames(sans: SubjectAlternativeNames): DerBytes {
  return sequence(
    ...sans.dnsNames.map((name) => implicitPrimitive(GENERAL_NAME.dNSName, ia5Octets(name))),
    ...sans.ipAddresses.map((address) => implicitPrimitive(GENERAL_NAME.iPAddress, ipAddressOctets(address))),
    ...sans.uris.map((uri) => implicitPrimitive(GENERAL_NAME.uniformResourceIdentifier, ia5Octets(uri))),
  );
}

function uriName(url: string): DerBytes {
  return implicitPrimitive(GENERAL_NAME.uniformResourceIdentifier, ia5Octets(url));
}

/**
 * Every extension of a leaf, each a complete DER Extension, in the order and encoding of
 * `prepareLeafCertificate`: critical basicConstraints CA:FALSE, critical keyUsage, EKU, SAN
 * (critical iff the subject is empty; DNS, then IP, then URI names), SKI (SHA-1 of the subject
 * key bits), AKI, CRL distribution point, AIA (OCSP before caIssuers, as @peculiar writes them).
 */
export function encodeLeafExtensions(
  fields: Pick<LeafFields, 'commonName' | 'sans' | 'subjectPublicKeyInfo' | 'keyUsages' | 'extendedKeyUsages' | 'locations'>,
  parts: Pick<LeafIssuerParts, 'authorityKeyIdentifierDer'>,
): DerBytes[] {
  const flags = keyUsageFlags(fields.keyUsages);
  const ekuOids = extendedKeyUsageOids(fields.extendedKeyUsages);
  const { caIssuersUrl, crlUrl, ocspUrl } = fields.locations;
  return [
    cached('basicConstraints', () => extension(OID.basicConstraints, true, sequence())),
    cached(`keyUsage:${flags}`, () => extension(OID.keyUsage, true, keyUsageBits(flags))),
    cached(`extKeyUsage:${ekuOids.join(',')}`, () => extension(OID.extKeyUsage, false, sequence(...ekuOids.map(objectIdentifier)))),
    extension(OID.subjectAltName, !fields.commonName, subjectAltNames(fields.sans)),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(fields.subjectPublicKeyInfo))),
    parts.authorityKeyIdentifierDer.slice(),
    cached(`crl:${crlUrl}`, () =>
      extension(OID.cRLDistributionPoints, false, sequence(sequence(explicitContext(0, implicitConstructed(0, uriName(crlUrl)))))),
    ),
    cached(`aia:${JSON.stringify([ocspUrl || null, caIssuersUrl])}`, () =>
      extension(
        OID.authorityInfoAccess,
        false,
        sequence(
          ...(ocspUrl ? [sequence(objectIdentifier(OID.ocsp), uriName(ocspUrl))] : []),
          sequence(objectIdentifier(OID.caIssuers), uriName(caIssuersUrl)),
        ),
      ),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------
// TBSCertificate and Certificate

/**
 * The subject Name: empty, or one RDN with the CN as @peculiar/x509's `Name` encodes a value
 * parsed from a string: PrintableString when every character allows it, else UTF8String.
 */
export function encodeSubjectName(commonName: string | undefined): DerBytes {
  if (!commonName) return sequence();
  const value = isPrintableString(commonName) ? printableString(commonName) : utf8String(commonName);
  return sequence(set(sequence(objectIdentifier(OID.commonName), value)));
}

/**
 * The serial INTEGER exactly as @peculiar/x509 writes `serialNumber: hex`: leading zero octets
 * dropped, a 00 prepended when the top bit is set. A zero serial throws (the library would
 * silently substitute a random one).
 */
export function encodeSerialNumber(serialHex: string): DerBytes {
  const magnitude = hexOctets(serialHex);
  if (magnitude.every((octet) => octet === 0)) throw new Error('the serial number must be positive');
  return unsignedInteger(magnitude);
}

/**
 * TBSCertificate: v3, serial, signature algorithm, issuer, validity, subject, SPKI (verbatim)
 * and the given extension TLVs, in order. At least one extension is required (RFC 5280 4.1:
 * Extensions ::= SEQUENCE SIZE (1..MAX)).
 */
export function encodeLeafTbs(
  fields: Pick<LeafFields, 'serialHex' | 'notBefore' | 'notAfter' | 'commonName' | 'subjectPublicKeyInfo'>,
  extensionsDer: readonly Uint8Array[],
  parts: Pick<LeafIssuerParts, 'issuerNameDer' | 'signatureAlgorithmDer'>,
): DerBytes {
  if (extensionsDer.length === 0) throw new Error('a v3 leaf certificate needs at least one extension');
  return sequence(
    explicitContext(0, smallInteger(2)),
    encodeSerialNumber(fields.serialHex),
    parts.signatureAlgorithmDer,
    parts.issuerNameDer,
    sequence(certificateTime(fields.notBefore), certificateTime(fields.notAfter)),
    encodeSubjectName(fields.commonName),
    fields.subjectPublicKeyInfo,
    explicitContext(3, sequence(...extensionsDer)),
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }, signed natively. */
export function signLeafTbs(tbs: Uint8Array, parts: LeafSigningParts): DerBytes {
  return signedCertificate(tbs, parts, sign(parts.hash, tbs, { key: parts.signingKey, dsaEncoding: parts.dsaEncoding }));
}

type LeafSigningParts = Pick<LeafIssuerParts, 'signatureAlgorithmDer' | 'signingKey' | 'hash' | 'dsaEncoding'>;

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
function signedCertificate(tbs: Uint8Array, parts: LeafSigningParts, signature: Uint8Array): DerBytes {
  return sequence(tbs, parts.signatureAlgorithmDer, bitString(signature));
}

// ---------------------------------------------------------------------------------------------
// Reading facts back from the encoded extensions

/**
 * An IP address as @peculiar/x509 renders iPAddress octets: dotted decimal, or eight
 * lower-case hex groups without leading zeros whose longest run (first on a tie) of two or more
 * zero groups becomes `::`.
 */
export function formatIpAddress(octets: Uint8Array): string {
  if (octets.length === 4) return Array.from(octets).join('.');
  if (octets.length !== 16) throw new Error(`an iPAddress of ${octets.length} octets is not an address`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((octets[i] ?? 0) << 8) | (octets[i + 1] ?? 0)).toString(16));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * The DNS, IP and URI names of the first subjectAltName among `extensionsDer`, in encoded
 * order, as a parsed certificate reports them (`certificateFacts`); empty lists without one.
 */
export function readSubjectAltNames(extensionsDer: readonly Uint8Array[]): SubjectAlternativeNames {
  const sans: SubjectAlternativeNames = { dnsNames: [], ipAddresses: [], uris: [] };
  const sanOid = objectIdentifier(OID.subjectAltName);
  for (const der of extensionsDer) {
    const reader = new DerReader(der, { strict: true });
    const outer = expectTag(reader.read(0, der.length), DER_TAG.SEQUENCE, 'Extension');
    const children = reader.children(outer);
    const id = expectTag(children[0], DER_TAG.OBJECT_IDENTIFIER, 'extension id');
    if (!Buffer.from(der.subarray(id.start, id.end)).equals(sanOid)) continue;
    const value = expectTag(children[children.length - 1], DER_TAG.OCTET_STRING, 'extension value');
    const names = expectTag(reader.read(value.contentStart, value.contentEnd), DER_TAG.SEQUENCE, 'GeneralNames');
    for (const name of reader.children(names)) {
      const content = der.subarray(name.contentStart, name.end);
      if (name.tag === (0x80 | GENERAL_NAME.dNSName)) sans.dnsNames.push(latin1(content));
      else if (name.tag === (0x80 | GENERAL_NAME.iPAddress)) sans.ipAddresses.push(formatIpAddress(content));
      else if (name.tag === (0x80 | GENERAL_NAME.uniformResourceIdentifier)) sans.uris.push(latin1(content));
    }
    return sans;
  }
  return sans;
}
