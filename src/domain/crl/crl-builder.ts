import { constants, createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { id_ecdsaWithSHA256, id_ecdsaWithSHA384 } from '@peculiar/asn1-ecc';
import { id_sha256WithRSAEncryption } from '@peculiar/asn1-rsa';
import { AsnConvert, AsnIntegerBigIntConverter, AsnIntegerConverter, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  CRLReason,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  id_ce_invalidityDate,
  InvalidityDate,
  KeyIdentifier,
  Version,
} from '@peculiar/asn1-x509';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import { normalizeSerialHex } from '../serial-number.ts';
import { x509 } from '../x509/crypto-provider.ts';
import { reasonCode, REVOCATION_REASONS, type RevocationReasonName } from './revocation-reason.ts';

/** One revoked certificate as it appears on a CRL. */
export interface CrlEntry {
  /** The certificate's serial number in hex (any case, colons allowed); positive, at most 20 octets. */
  serialHex: string;
  /** When the certificate was revoked; encoded to whole seconds (fractions are truncated). */
  revokedAt: Date;
  /** 'unspecified' puts no reasonCode extension on the entry, as RFC 5280 5.3.1 recommends. */
  reason: RevocationReasonName;
  /** When the key is known or suspected to have been compromised; whole seconds. */
  invalidityDate?: Date;
}

export interface CrlParams {
  /** Its subject Name (exact DER) becomes the CRL issuer; its subjectKeyIdentifier becomes the AKI. */
  issuerCertificate: x509.X509Certificate;
  /** The issuer's private key; a non-extractable WebCrypto handle is fine. */
  privateKey: CryptoKey;
  /** The issuer key's algorithm; it decides the signature algorithm. */
  keyAlgorithm: KeyAlgorithmName;
  /** The cRLNumber extension: positive, below 2^159 (at most 20 octets, RFC 5280 5.2.3). */
  crlNumber: bigint;
  thisUpdate: Date;
  /** Strictly after thisUpdate, once both are truncated to whole seconds. */
  nextUpdate: Date;
  /**
   * The revoked certificates, iterated exactly once (a generator is fine). Serials must be unique:
   * the database guarantees it, and checking here would cost memory for no gain.
   */
  entries: Iterable<CrlEntry>;
}

/**
 * Builds and signs an RFC 5280 v2 CRL and returns its DER, in a Uint8Array that owns its whole
 * ArrayBuffer (so `der.buffer` is exactly the CRL).
 *
 * Cost is linear in the number of entries: each entry is encoded straight into one growing
 * buffer and the list is copied twice more (into the TBSCertList, then into the CRL), whereas
 * `@peculiar/x509`'s X509CrlGenerator is quadratic (10k entries take seconds, 100k never end).
 * Everything outside the entry loop is encoded with `@peculiar/asn1-x509`.
 *
 * The TBSCertList is signed with Node's native crypto through `KeyObject.from(privateKey)`, and the
 * signature is then checked against the issuer certificate's public key, so that a key that does
 * not belong to the certificate fails here instead of in every relying party.
 *
 * Throws (before any signing) on: a key that does not match `keyAlgorithm`, an issuer certificate
 * without subjectKeyIdentifier, a crlNumber out of range, nextUpdate not after thisUpdate, an
 * invalid date, an invalid serial or an unknown reason.
 */
export async function buildCrl(params: CrlParams): Promise<Uint8Array<ArrayBuffer>> {
  const scheme = signatureScheme(params.keyAlgorithm);
  const signingKey = signingKeyObject(params.privateKey, params.keyAlgorithm, scheme);

  const thisUpdateSeconds = wholeSeconds(params.thisUpdate, 'thisUpdate');
  const nextUpdateSeconds = wholeSeconds(params.nextUpdate, 'nextUpdate');
  if (nextUpdateSeconds <= thisUpdateSeconds) {
    throw new Error('nextUpdate must be later than thisUpdate (compared in whole seconds)');
  }
  if (params.crlNumber < 1n || params.crlNumber >= CRL_NUMBER_LIMIT) {
    throw new Error('crlNumber must be positive and below 2^159 (at most 20 octets)');
  }
  const issuerName = rawSubjectName(params.issuerCertificate);
  const crlExtensions = encodeCrlExtensions(params.issuerCertificate, params.crlNumber);

  // The hot loop; everything above is cheap and can fail, so it runs first.
  const revoked = encodeRevokedCertificates(params.entries);

  const times = new ByteSink(2 * MAX_TIME_OCTETS);
  writeTime(times, params.thisUpdate);
  writeTime(times, params.nextUpdate);

  const tbsParts: Uint8Array[] = [VERSION_V2, scheme.algorithmIdentifier, issuerName, times.bytes()];
  // RFC 5280 5.1.2.6: with no entries, revokedCertificates is absent, not an empty SEQUENCE.
  if (revoked.length > 0) tbsParts.push(header(TAG_SEQUENCE, revoked.length), revoked);
  tbsParts.push(crlExtensions);
  const tbsCertList = concat([header(TAG_SEQUENCE, totalLength(tbsParts)), ...tbsParts]);

  const signOptions = { key: signingKey, dsaEncoding: 'der' as const, ...scheme.padding };
  const signature = sign(scheme.hash, tbsCertList, signOptions);
  const issuerPublicKey = createPublicKey({
    key: Buffer.from(params.issuerCertificate.publicKey.rawData),
    format: 'der',
    type: 'spki',
  });
  if (!verify(scheme.hash, tbsCertList, { key: issuerPublicKey, dsaEncoding: 'der', ...scheme.padding }, signature)) {
    throw new Error('the private key does not belong to the issuer certificate: the CRL signature does not verify');
  }

  // BIT STRING: a leading octet of 0 unused bits, then the signature.
  const signatureBits = [header(TAG_BIT_STRING, signature.length + 1), ZERO_UNUSED_BITS, signature];
  const listParts = [tbsCertList, scheme.algorithmIdentifier, ...signatureBits];
  return concat([header(TAG_SEQUENCE, totalLength(listParts)), ...listParts]);
}

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_SEQUENCE = 0x30;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_CONTEXT_0_CONSTRUCTED = 0xa0;

const CRL_NUMBER_LIMIT = 1n << 159n;
const ZERO_UNUSED_BITS = new Uint8Array([0]);
const VERSION_V2 = new Uint8Array(AsnIntegerConverter.toASN(Version.v2).toBER(false));
/** "YYYYMMDDHHMMSSZ" with its two-octet header; UTCTime is two digits shorter. */
const MAX_TIME_OCTETS = 17;
/** Ed25519's OID (RFC 8410); the peculiar packages export no constant for it. */
const ID_ED25519 = '1.3.101.112';

interface SignatureScheme {
  /** DER AlgorithmIdentifier, written both in the TBSCertList and around the signature. */
  algorithmIdentifier: Uint8Array;
  /** Digest for `crypto.sign`; null for Ed25519, which hashes internally. */
  hash: string | null;
  /** What `KeyObject.from(privateKey)` must report, so the key cannot disagree with the OID. */
  keyType: 'ec' | 'ed25519' | 'rsa';
  namedCurve?: string;
  modulusLength?: number;
  /** PKCS #1 v1.5 stated explicitly for RSA rather than left to Node's default. */
  padding: { padding?: number };
}

function algorithmIdentifier(algorithm: string, parameters?: null): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm, parameters })));
}

function signatureScheme(name: KeyAlgorithmName): SignatureScheme {
  switch (name) {
    // RFC 5758 3.2: ECDSA and (RFC 8410 3) Ed25519 identifiers have no parameters at all.
    case 'ecdsa-p256':
      return { algorithmIdentifier: algorithmIdentifier(id_ecdsaWithSHA256), hash: 'sha256', keyType: 'ec', namedCurve: 'prime256v1', padding: {} };
    case 'ecdsa-p384':
      return { algorithmIdentifier: algorithmIdentifier(id_ecdsaWithSHA384), hash: 'sha384', keyType: 'ec', namedCurve: 'secp384r1', padding: {} };
    case 'ed25519':
      return { algorithmIdentifier: algorithmIdentifier(ID_ED25519), hash: null, keyType: 'ed25519', padding: {} };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      // Built from the OID, not asn1-rsa's `sha256WithRSAEncryption` constant: in 2.11.1 that
      // constant carries the sha512-256WithRSAEncryption OID (1.2.840.113549.1.1.16).
      // RFC 4055 5: the parameters MUST be NULL.
      return {
        algorithmIdentifier: algorithmIdentifier(id_sha256WithRSAEncryption, null),
        hash: 'sha256',
        keyType: 'rsa',
        modulusLength: Number(name.slice(4)),
        padding: { padding: constants.RSA_PKCS1_PADDING },
      };
  }
}

/**
 * The private key as a Node KeyObject. `KeyObject.from` accepts non-extractable CryptoKeys; the
 * KeyObject it returns can be exported, so it never leaves this module. WebCrypto's own checks are
 * bypassed by that route, so the key's usages and type are checked here instead.
 */
function signingKeyObject(privateKey: CryptoKey, keyAlgorithm: KeyAlgorithmName, scheme: SignatureScheme): KeyObject {
  if (privateKey.type !== 'private' || !privateKey.usages.includes('sign')) {
    throw new Error('the CRL signing key must be a private key allowed to sign');
  }
  const key = KeyObject.from(privateKey);
  const details = key.asymmetricKeyDetails;
  const matches =
    key.asymmetricKeyType === scheme.keyType &&
    (scheme.namedCurve === undefined || details?.namedCurve === scheme.namedCurve) &&
    (scheme.modulusLength === undefined || details?.modulusLength === scheme.modulusLength);
  if (!matches) {
    throw new Error(`the CRL signing key is not a ${keyAlgorithm} key`);
  }
  return key;
}

/**
 * The certificate's subject exactly as encoded in it. `x509.X509Certificate.subjectName` re-encodes
 * the parsed Name, which can differ from the original bytes; relying parties match the CRL issuer to
 * the certificate's subject byte for byte, so the bytes are taken from the certificate's DER:
 * Certificate → tbsCertificate → [0] version?, serialNumber, signature, issuer, validity, subject.
 */
function rawSubjectName(certificate: x509.X509Certificate): Uint8Array {
  const der = new Uint8Array(certificate.rawData);
  const outer = readTlv(der, 0, der.length, TAG_SEQUENCE);
  const tbs = readTlv(der, outer.contentStart, outer.end, TAG_SEQUENCE);
  let field = readTlv(der, tbs.contentStart, tbs.end);
  if (field.tag === TAG_CONTEXT_0_CONSTRUCTED) field = readTlv(der, field.end, tbs.end);
  // field is serialNumber; skip it, signature, issuer and validity.
  for (let skipped = 0; skipped < 4; skipped += 1) field = readTlv(der, field.end, tbs.end);
  if (field.tag !== TAG_SEQUENCE) throw new Error('issuer certificate: subject is not a SEQUENCE');
  const subject = der.slice(field.start, field.end);
  // Guards the walk above: the bytes found must be the Name the library parsed as the subject.
  if (new x509.Name(subject).toString() !== certificate.subject) {
    throw new Error('issuer certificate: the subject found in the DER does not match the parsed subject');
  }
  return subject;
}

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Reads one DER TLV (single-octet tag, definite length) at `offset`, bounded by `limit`. */
function readTlv(der: Uint8Array, offset: number, limit: number, expectedTag?: number): Tlv {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined || offset + 2 > limit) throw new Error('issuer certificate: truncated DER');
  if (expectedTag !== undefined && tag !== expectedTag) throw new Error('issuer certificate: unexpected DER structure');
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4) throw new Error('issuer certificate: unsupported DER length');
    length = 0;
    for (let index = 0; index < octets; index += 1) {
      const octet = der[contentStart + index];
      if (octet === undefined) throw new Error('issuer certificate: truncated DER');
      length = length * 256 + octet;
    }
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new Error('issuer certificate: DER length overruns its container');
  return { tag, start: offset, contentStart, end };
}

/** [0] EXPLICIT Extensions: authorityKeyIdentifier, then cRLNumber; both non-critical (RFC 5280 5.2). */
function encodeCrlExtensions(issuerCertificate: x509.X509Certificate, crlNumber: bigint): Uint8Array {
  const ski = issuerCertificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) {
    // RFC 5280 5.2.1: the AKI is mandatory in CRLs and carries the issuer's key identifier.
    throw new Error('the issuer certificate has no subjectKeyIdentifier to put in the CRL AKI');
  }
  const authorityKeyIdentifier = new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(Buffer.from(ski.keyId, 'hex')) });
  const extensions = new Extensions([
    new Extension({
      extnID: id_ce_authorityKeyIdentifier,
      critical: false,
      extnValue: new OctetString(AsnConvert.serialize(authorityKeyIdentifier)),
    }),
    new Extension({
      extnID: id_ce_cRLNumber,
      critical: false,
      // Through the bigint converter: asn1-x509's CRLNumber holds a JS number, too small for 2^159.
      extnValue: new OctetString(AsnIntegerBigIntConverter.toASN(crlNumber).toBER(false)),
    }),
  ]);
  const encoded = new Uint8Array(AsnConvert.serialize(extensions));
  return concat([header(TAG_CONTEXT_0_CONSTRUCTED, encoded.length), encoded]);
}

/**
 * Per reason, the complete DER of its reasonCode entry extension; null for 'unspecified', which
 * gets none. Encoded once here so the entry loop only copies bytes.
 */
const REASON_EXTENSIONS: ReadonlyMap<string, Uint8Array | null> = new Map(
  REVOCATION_REASONS.map((name): [string, Uint8Array | null] => [
    name,
    name === 'unspecified'
      ? null
      : new Uint8Array(
          AsnConvert.serialize(
            new Extension({
              extnID: id_ce_cRLReasons,
              critical: false,
              extnValue: new OctetString(AsnConvert.serialize(new CRLReason(reasonCode(name)))),
            }),
          ),
        ),
  ]),
);

/**
 * The invalidityDate extension up to its GeneralizedTime, which the entry loop appends. Derived from
 * asn1-x509's encoding of a sample date by dropping that date's 17-octet GeneralizedTime TLV.
 */
const INVALIDITY_DATE_PREFIX: Uint8Array = (() => {
  const sampleTime = new Uint8Array(AsnConvert.serialize(new InvalidityDate(new Date(Date.UTC(2000, 0, 1)))));
  if (sampleTime.length !== MAX_TIME_OCTETS || sampleTime[0] !== TAG_GENERALIZED_TIME) {
    throw new Error('unexpected InvalidityDate encoding');
  }
  const extension = new Uint8Array(
    AsnConvert.serialize(new Extension({ extnID: id_ce_invalidityDate, critical: false, extnValue: new OctetString(sampleTime) })),
  );
  return extension.slice(0, extension.length - MAX_TIME_OCTETS);
})();
const INVALIDITY_DATE_OCTETS = INVALIDITY_DATE_PREFIX.length + MAX_TIME_OCTETS;

/** The contents of revokedCertificates: every entry's DER, back to back, encoded in one pass. */
function encodeRevokedCertificates(entries: Iterable<CrlEntry>): Uint8Array {
  const sink = new ByteSink(64 * 1024);
  let index = 0;
  for (const entry of entries) {
    writeEntry(sink, entry, index);
    index += 1;
  }
  return sink.bytes();
}

/**
 * SEQUENCE { userCertificate INTEGER, revocationDate Time, crlEntryExtensions Extensions OPTIONAL }.
 * Lengths are computed first so each octet is written once and exactly `reserve`d.
 */
function writeEntry(sink: ByteSink, entry: CrlEntry, index: number): void {
  const serial = normalizeSerialHex(entry.serialHex);
  if (serial === undefined) {
    throw new Error(`CRL entry ${index}: serial ${JSON.stringify(entry.serialHex)} is not a positive hex integer of at most 20 octets`);
  }
  const reasonExtension = REASON_EXTENSIONS.get(entry.reason);
  if (reasonExtension === undefined) {
    throw new Error(`CRL entry ${index}: unknown revocation reason ${JSON.stringify(entry.reason)}`);
  }
  // Minimal DER INTEGER: normalizeSerialHex stripped leading zeros; a 0x00 goes in front only when
  // the top bit is set, which keeps the value positive.
  const oddDigits = serial.length % 2 === 1;
  const signPad = !oddDigits && serial.charCodeAt(0) >= 0x38 /* '8' */ ? 1 : 0;
  const integerLength = signPad + ((serial.length + 1) >> 1);
  if (entry.invalidityDate) wholeSeconds(entry.invalidityDate, `CRL entry ${index}: invalidityDate`);
  const extensionsLength = (reasonExtension?.length ?? 0) + (entry.invalidityDate ? INVALIDITY_DATE_OCTETS : 0);
  const contentLength =
    headerLength(integerLength) +
    integerLength +
    timeLength(entry.revokedAt, `CRL entry ${index}: revokedAt`) +
    (extensionsLength > 0 ? headerLength(extensionsLength) + extensionsLength : 0);
  sink.reserve(headerLength(contentLength) + contentLength);

  sink.writeHeader(TAG_SEQUENCE, contentLength);
  sink.writeHeader(TAG_INTEGER, integerLength);
  if (signPad) sink.writeByte(0);
  if (oddDigits) {
    sink.writeByte(hexDigit(serial.charCodeAt(0)));
    sink.writeHex(serial.slice(1));
  } else {
    sink.writeHex(serial);
  }
  writeTime(sink, entry.revokedAt);
  if (extensionsLength > 0) {
    // RFC 5280: Extensions is SIZE (1..MAX), so an entry with no extension has no SEQUENCE at all.
    sink.writeHeader(TAG_SEQUENCE, extensionsLength);
    if (reasonExtension) sink.writeBytes(reasonExtension);
    if (entry.invalidityDate) {
      sink.writeBytes(INVALIDITY_DATE_PREFIX);
      writeTimeAs(sink, entry.invalidityDate, TAG_GENERALIZED_TIME);
    }
  }
}

function hexDigit(charCode: number): number {
  return charCode <= 0x39 ? charCode - 0x30 : charCode - 0x57; // '0'-'9', then 'a'-'f' (lower case)
}

/** Seconds since the epoch, truncated; throws on an invalid Date or a year outside 0000..9999. */
function wholeSeconds(date: Date, what: string): number {
  const milliseconds = date.getTime();
  const year = date.getUTCFullYear();
  if (Number.isNaN(milliseconds) || year < 0 || year > 9999) throw new Error(`${what} is not a valid date`);
  return Math.floor(milliseconds / 1000);
}

/** RFC 5280 5.1.2.4: UTCTime for 1950 through 2049, GeneralizedTime otherwise. */
function timeTag(date: Date): number {
  const year = date.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? TAG_UTC_TIME : TAG_GENERALIZED_TIME;
}

function timeLength(date: Date, what: string): number {
  wholeSeconds(date, what);
  return timeTag(date) === TAG_UTC_TIME ? MAX_TIME_OCTETS - 2 : MAX_TIME_OCTETS;
}

function writeTime(sink: ByteSink, date: Date): void {
  sink.reserve(MAX_TIME_OCTETS);
  writeTimeAs(sink, date, timeTag(date));
}

/** YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ in UTC; the getUTC* fields drop milliseconds (truncation). */
function writeTimeAs(sink: ByteSink, date: Date, tag: number): void {
  const year = date.getUTCFullYear();
  sink.writeHeader(tag, tag === TAG_UTC_TIME ? 13 : 15);
  if (tag === TAG_GENERALIZED_TIME) sink.writeTwoDigits(Math.floor(year / 100));
  sink.writeTwoDigits(year % 100);
  sink.writeTwoDigits(date.getUTCMonth() + 1);
  sink.writeTwoDigits(date.getUTCDate());
  sink.writeTwoDigits(date.getUTCHours());
  sink.writeTwoDigits(date.getUTCMinutes());
  sink.writeTwoDigits(date.getUTCSeconds());
  sink.writeByte(0x5a); // 'Z'
}

/**
 * An append-only byte buffer that doubles when full, so appending n bytes costs O(n) amortised.
 * Writers `reserve` first; the write methods then do no bounds checks of their own.
 */
class ByteSink {
  private buffer: Buffer;
  private length = 0;

  constructor(initialCapacity: number) {
    // Zero-filled, not allocUnsafe: a bug here must never publish stale heap memory in a CRL.
    this.buffer = Buffer.alloc(initialCapacity);
  }

  reserve(octets: number): void {
    const needed = this.length + octets;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.alloc(Math.max(needed, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  writeByte(value: number): void {
    this.buffer[this.length] = value;
    this.length += 1;
  }

  writeBytes(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Writes an even number of lower-case hex digits as octets. */
  writeHex(hex: string): void {
    const written = this.buffer.write(hex, this.length, 'hex');
    if (written * 2 !== hex.length) throw new Error('internal error: hex serial did not encode fully');
    this.length += written;
  }

  writeTwoDigits(value: number): void {
    this.buffer[this.length] = 0x30 + Math.floor(value / 10);
    this.buffer[this.length + 1] = 0x30 + (value % 10);
    this.length += 2;
  }

  writeHeader(tag: number, contentLength: number): void {
    this.writeByte(tag);
    if (contentLength < 0x80) {
      this.writeByte(contentLength);
      return;
    }
    const octets = headerLength(contentLength) - 2;
    this.writeByte(0x80 | octets);
    for (let shift = (octets - 1) * 8; shift >= 0; shift -= 8) this.writeByte(Math.floor(contentLength / 2 ** shift) & 0xff);
  }

  /** A view of what was written (not a copy); it stays valid because the sink is then dropped. */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Octets of a DER tag + definite length for `contentLength` content octets. */
function headerLength(contentLength: number): number {
  if (contentLength < 0x80) return 2;
  let octets = 1;
  while (contentLength >= 2 ** (8 * octets)) octets += 1;
  return 2 + octets;
}

function header(tag: number, contentLength: number): Uint8Array {
  const sink = new ByteSink(headerLength(contentLength));
  sink.writeHeader(tag, contentLength);
  return sink.bytes();
}

function totalLength(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, part) => sum + part.length, 0);
}

/** Concatenates into a fresh Uint8Array that owns its ArrayBuffer (never a view into Node's pool). */
function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(totalLength(parts));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
