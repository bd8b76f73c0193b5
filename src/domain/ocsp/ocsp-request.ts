import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, type Extension } from '@peculiar/asn1-x509';
import { OCSPRequest, Version, id_pkix_ocsp_nonce, type CertID } from '@peculiar/asn1-ocsp';
import { id_sha1, id_sha256 } from '@peculiar/asn1-rsa';
import type { x509 } from '../x509/crypto-provider.ts';

/** Largest request accepted, in octets: 16 CertIDs with a nonce and a signature fit easily. */
export const MAX_OCSP_REQUEST_OCTETS = 8 * 1024;
/** Most CertIDs one request may ask about; more is treated as abuse, not as a request. */
export const MAX_OCSP_CERT_IDS = 16;
/** RFC 8954 section 2.1: a nonce is 1 to 32 octets. */
export const MAX_OCSP_NONCE_OCTETS = 32;

/** One certificate a client asks about, identified as RFC 6960 section 4.1.1 says. */
export interface OcspCertId {
  /**
   * The hash the client used for the issuer name and key. 'unsupported' (any other algorithm) is
   * not an error: such a CertID never matches an issuer, so it is answered 'unknown'.
   */
  hashAlgorithm: 'SHA-1' | 'SHA-256' | 'unsupported';
  issuerNameHash: Uint8Array;
  issuerKeyHash: Uint8Array;
  /**
   * Serial number as lower-case hex without leading zeros ("0" for zero). A negative INTEGER
   * (never issued by a conforming CA) is given as "-" and its magnitude, so it cannot collide
   * with a positive serial.
   */
  serialHex: string;
  /** The CertID exactly as received (DER), echoed back in the SingleResponse. */
  der: Uint8Array;
}

/** What a responder needs from an OCSPRequest; the requestor name and any signature are ignored. */
export interface ParsedOcspRequest {
  /** One to {@link MAX_OCSP_CERT_IDS} CertIDs, in request order. */
  certIds: OcspCertId[];
  /** The nonce extension's value (the inner OCTET STRING's contents, 1 to 32 octets), if sent. */
  nonce: Uint8Array | undefined;
}

/**
 * The request cannot be answered other than with OCSPResponseStatus malformedRequest. The message
 * says what was wrong, for logs; it never contains request bytes.
 */
export class MalformedOcspRequestError extends Error {
  override readonly name = 'MalformedOcspRequestError';
}

const HASH_ALGORITHMS: ReadonlyMap<string, 'SHA-1' | 'SHA-256'> = new Map([
  [id_sha1, 'SHA-1'],
  [id_sha256, 'SHA-256'],
]);

/**
 * Parses a DER OCSPRequest (RFC 6960 section 4.1.1). At most {@link MAX_OCSP_REQUEST_OCTETS}
 * octets and {@link MAX_OCSP_CERT_IDS} CertIDs; at least one CertID; a nonce of 1 to 32 octets
 * (RFC 8954); no bytes after the request. A signed request is accepted and its signature ignored
 * (the responder answers anyone). An unknown CertID hash algorithm is not malformed (see
 * {@link OcspCertId.hashAlgorithm}).
 *
 * @throws MalformedOcspRequestError for anything else, and never any other type.
 */
export function parseOcspRequest(der: Uint8Array): ParsedOcspRequest {
  try {
    return parse(der);
  } catch (error) {
    if (error instanceof MalformedOcspRequestError) throw error;
    // The ASN.1 library throws plain Errors (and could throw anything); all of them mean the
    // bytes are not an OCSPRequest.
    throw new MalformedOcspRequestError(`not an OCSPRequest: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parse(der: Uint8Array): ParsedOcspRequest {
  // The size cap runs first so that no parsing work is spent on oversized input.
  if (der.length > MAX_OCSP_REQUEST_OCTETS) {
    throw new MalformedOcspRequestError(`request is ${der.length} octets, more than ${MAX_OCSP_REQUEST_OCTETS}`);
  }
  // The ASN.1 library silently ignores whatever follows the first element, so the outer
  // element's length is checked here.
  if (der[0] !== SEQUENCE_TAG || outerElementLength(der) !== der.length) {
    throw new MalformedOcspRequestError('request is not exactly one DER SEQUENCE');
  }
  const request = AsnConvert.parse(der, OCSPRequest);
  const tbs = request.tbsRequest;
  if (tbs.version !== Version.v1) throw new MalformedOcspRequestError(`unsupported request version ${String(tbs.version)}`);
  if (tbs.requestList.length === 0) throw new MalformedOcspRequestError('request names no certificate');
  if (tbs.requestList.length > MAX_OCSP_CERT_IDS) {
    throw new MalformedOcspRequestError(`request names ${tbs.requestList.length} certificates, more than ${MAX_OCSP_CERT_IDS}`);
  }
  const received = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const certIds = tbs.requestList.map((item) => toCertId(item.reqCert, received));
  return { certIds, nonce: nonceOf(tbs.requestExtensions ?? []) };
}

function toCertId(certId: CertID, received: Buffer): OcspCertId {
  // The library keeps no raw bytes for a CertID; its re-encoding equals the received bytes
  // exactly when the client sent DER. Requiring that both rejects BER look-alikes and lets the
  // response echo the CertID byte for byte.
  const der = new Uint8Array(AsnConvert.serialize(certId));
  if (received.indexOf(der) < 0) throw new MalformedOcspRequestError('CertID is not DER-encoded');
  return {
    hashAlgorithm: HASH_ALGORITHMS.get(certId.hashAlgorithm.algorithm) ?? 'unsupported',
    issuerNameHash: new Uint8Array(certId.issuerNameHash.buffer),
    issuerKeyHash: new Uint8Array(certId.issuerKeyHash.buffer),
    serialHex: serialHexOf(new Uint8Array(certId.serialNumber)),
    der,
  };
}

/** Two's-complement INTEGER contents → canonical hex. */
function serialHexOf(contents: Uint8Array): string {
  if (contents.length === 0) throw new MalformedOcspRequestError('CertID serial number is empty');
  let value = BigInt(`0x${Buffer.from(contents).toString('hex')}`);
  if (((contents[0] ?? 0) & 0x80) !== 0) value -= 1n << BigInt(8 * contents.length);
  return value < 0n ? `-${(-value).toString(16)}` : value.toString(16);
}

function nonceOf(extensions: Extension[]): Uint8Array | undefined {
  const nonces = extensions.filter((extension) => extension.extnID === id_pkix_ocsp_nonce);
  const [extension, ...others] = nonces;
  if (!extension) return undefined;
  if (others.length > 0) throw new MalformedOcspRequestError('request has more than one nonce');
  // RFC 6960 section 4.4.1 and RFC 8954: extnValue holds a DER OCTET STRING whose contents are
  // the nonce.
  const value = new Uint8Array(extension.extnValue.buffer);
  if (value[0] !== OCTET_STRING_TAG || outerElementLength(value) !== value.length) {
    throw new MalformedOcspRequestError('nonce extension is not one OCTET STRING');
  }
  const nonce = new Uint8Array(AsnConvert.parse(value, OctetString).buffer);
  if (nonce.length < 1 || nonce.length > MAX_OCSP_NONCE_OCTETS) {
    throw new MalformedOcspRequestError(`nonce is ${nonce.length} octets; RFC 8954 allows 1 to ${MAX_OCSP_NONCE_OCTETS}`);
  }
  return nonce;
}

const SEQUENCE_TAG = 0x30;
const OCTET_STRING_TAG = 0x04;

/**
 * Total length (header included) of the element starting at offset 0, read from its DER header;
 * undefined for the indefinite form (BER, not DER) or a header that does not fit. Hand-written
 * because the ASN.1 library reports no end offset; only single-octet tags are expected here, and
 * two length octets cover every size under the request cap.
 */
function outerElementLength(bytes: Uint8Array): number | undefined {
  const first = bytes[1];
  if (first === undefined) return undefined;
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets === 0 || octets > 2 || bytes.length < 2 + octets) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i += 1) length = length * 256 + (bytes[2 + i] ?? 0);
  return 2 + octets + length;
}

/**
 * True when the CertID names this issuer (RFC 6960 section 4.1.1): its issuerNameHash is the hash
 * of the issuer's subject Name DER and its issuerKeyHash the hash of the issuer's
 * subjectPublicKey BIT STRING contents (without tag, length and unused-bits octet), with the
 * CertID's own hash algorithm. A CertID with an unsupported hash algorithm never matches.
 * The serial number is not looked at: finding the certificate is the caller's job.
 */
export function certIdMatchesIssuer(certId: OcspCertId, issuerCertificate: x509.X509Certificate): boolean {
  if (certId.hashAlgorithm === 'unsupported') return false;
  const { nameHash, keyHash } = issuerHashes(issuerCertificate, certId.hashAlgorithm);
  return nameHash.equals(certId.issuerNameHash) && keyHash.equals(certId.issuerKeyHash);
}

/** An issuer's CertID hashes by algorithm; an issuer certificate never changes, so they are computed once. */
const issuerHashCache = new WeakMap<x509.X509Certificate, Map<string, { nameHash: Buffer; keyHash: Buffer }>>();

function issuerHashes(issuerCertificate: x509.X509Certificate, algorithm: 'SHA-1' | 'SHA-256'): { nameHash: Buffer; keyHash: Buffer } {
  let byAlgorithm = issuerHashCache.get(issuerCertificate);
  if (byAlgorithm === undefined) {
    byAlgorithm = new Map();
    issuerHashCache.set(issuerCertificate, byAlgorithm);
  }
  let hashes = byAlgorithm.get(algorithm);
  if (hashes === undefined) {
    const hash = algorithm === 'SHA-1' ? 'sha1' : 'sha256';
    const tbs = AsnConvert.parse(issuerCertificate.rawData, Certificate).tbsCertificate;
    hashes = {
      nameHash: createHash(hash).update(new Uint8Array(AsnConvert.serialize(tbs.subject))).digest(),
      keyHash: createHash(hash).update(new Uint8Array(tbs.subjectPublicKeyInfo.subjectPublicKey)).digest(),
    };
    byAlgorithm.set(algorithm, hashes);
  }
  return hashes;
}
