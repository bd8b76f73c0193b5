/**
 * The @peculiar/asn1-schema based `parseCsr` that `src/domain/csr/parse-csr.ts` replaced (it cost
 * milliseconds of CPU per CSR in asn1js), kept verbatim, renamed, as the reference for the
 * differential test (test/unit/domain/csr/parse-csr-differential.test.ts). Not used by the service.
 */
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECParameters } from '@peculiar/asn1-ecc';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import {
  BasicConstraints,
  Extensions,
  type GeneralName,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { isIP } from 'node:net';
import { DomainError } from '../../src/domain/errors.ts';
import type { KeyAlgorithmName } from '../../src/domain/key-algorithm.ts';
import { x509 } from '../../src/domain/x509/crypto-provider.ts';
import type { SubjectAlternativeNames } from '../../src/domain/x509/certificate-builder.ts';
import { sha256Hex } from '../../src/domain/sha256-hex.ts';

/** What the RA needs from a certificate signing request, read only after its signature verified. */
export interface ReferenceParsedCsr {
  /** The CSR's SubjectPublicKeyInfo. */
  publicKey: x509.PublicKey;
  keyAlgorithm: KeyAlgorithmName;
  /** Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (the same value `certificateFacts` records). */
  spkiSha256: string;
  /** The subject's single CN, if any; the SAN, not the CN, is what Trustroot certifies. */
  commonName: string | undefined;
  /** Names from the extensionRequest's subjectAltName, as requested (not yet checked); empty lists if none. */
  sans: SubjectAlternativeNames;
}

/** Largest PEM input accepted, in bytes of UTF-8; real CSRs are a few KiB at most. */
const MAX_CSR_BYTES = 64 * 1024;

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';

/** Curves we accept, by OID. */
const SUPPORTED_CURVES: Readonly<Record<string, KeyAlgorithmName>> = {
  '1.2.840.10045.3.1.7': 'ecdsa-p256',
  '1.3.132.0.34': 'ecdsa-p384',
};

/** Names of curves we refuse but can name, so the caller learns what they sent. */
const KNOWN_UNSUPPORTED_CURVES: Readonly<Record<string, string>> = {
  '1.3.132.0.35': 'P-521',
  '1.3.132.0.10': 'secp256k1',
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

/** Names of key algorithms we refuse but can name. */
const KNOWN_UNSUPPORTED_KEY_ALGORITHMS: Readonly<Record<string, string>> = {
  '1.3.101.113': 'Ed448',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.2.840.10040.4.1': 'DSA',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS (RSA keys must be plain rsaEncryption keys)',
  '1.2.840.10046.2.1': 'Diffie-Hellman',
  '1.2.643.7.1.1.1.1': 'GOST R 34.10-2012',
  '1.2.156.10197.1.301': 'SM2',
};

const SUPPORTED_KEYS_HINT = 'supported: ECDSA P-256 or P-384, Ed25519, RSA 2048, 3072 or 4096 bits';

/** Hashes a CSR may be signed with; SHA-1 and MD5 signatures prove nothing worth trusting. */
const ACCEPTED_SIGNATURE_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);

/**
 * Parses and checks a PEM certificate signing request (PKCS#10).
 *
 * Accepts exactly one `CERTIFICATE REQUEST` (or legacy `NEW CERTIFICATE REQUEST`) PEM block of
 * at most 64 KiB, nothing around it but whitespace, whose DER has no trailing bytes. The checks
 * run in this order, each refusing with a caller-safe `DomainError`:
 * 1. encoding (PEM, base64, strict DER: it must re-encode to itself) and structure → `invalid_csr`;
 * 2. key algorithm and strength (P-256/P-384, Ed25519, RSA of exactly 2048/3072/4096 bits with
 *    exponent 65537) → `invalid_csr` — before any crypto runs on the key;
 * 3. signature algorithm (SHA-256 or stronger) and signature (proof of possession) → `invalid_csr`;
 * 4. requested extensions: a single, well-formed extensionRequest → `invalid_csr`; CA rights
 *    (basicConstraints cA=TRUE, keyUsage keyCertSign/cRLSign) → `policy_violation`; subject
 *    alternative names other than DNS, IP and URI → `policy_violation`; a subject with more than
 *    one CN → `invalid_csr` (which one would we record?).
 * Names are returned as requested; checking their syntax and the service's policy is the caller's
 * next step. Never throws anything but a `DomainError` for bad input.
 */
export async function referenceParseCsr(input: string): Promise<ReferenceParsedCsr> {
  try {
    return await parseCheckedCsr(input);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    // A parser error's text names library internals; the caller only needs to know the CSR is bad.
    throw invalidCsr('the CSR could not be decoded as a PKCS#10 certificate request');
  }
}

async function parseCheckedCsr(input: string): Promise<ReferenceParsedCsr> {
  const der = decodePem(input);
  const csr = decodeStructure(der);
  // Key first: no signature check runs on a key we would refuse anyway.
  const keyAlgorithm = classifyKey(csr.publicKey);
  checkSignatureAlgorithm(csr.signatureAlgorithm);
  await verifySignature(csr);
  // Only now is the content known to come from the key holder; read what it asks for.
  const extensions = requestedExtensions(csr);
  refuseCaRights(extensions);
  const commonNames = csr.subjectName.getField('CN');
  if (commonNames.length > 1) throw invalidCsr('the CSR subject has more than one common name (CN)');
  return {
    publicKey: csr.publicKey,
    keyAlgorithm,
    spkiSha256: sha256Hex(csr.publicKey.rawData),
    commonName: commonNames[0],
    sans: requestedNames(extensions),
  };
}

function invalidCsr(detail: string): DomainError {
  return new DomainError('invalid_csr', detail);
}

/** PEM → DER, strictly: one block, a CSR label, canonical base64, no bytes after the DER. */
function decodePem(input: string): Uint8Array<ArrayBuffer> {
  if (typeof input !== 'string' || input.trim() === '') {
    throw invalidCsr('the CSR is empty; send a PEM "-----BEGIN CERTIFICATE REQUEST-----" block');
  }
  if (Buffer.byteLength(input, 'utf8') > MAX_CSR_BYTES) {
    throw invalidCsr(`the CSR is larger than ${MAX_CSR_BYTES / 1024} KiB`);
  }
  const text = input.replace(/\r\n/g, '\n').trim();
  const beginLines = text.match(/-----BEGIN [^\n]*?-----/g) ?? [];
  if (beginLines.length === 0) {
    throw invalidCsr('the CSR is not PEM; send a "-----BEGIN CERTIFICATE REQUEST-----" block');
  }
  if (beginLines.length > 1) {
    throw invalidCsr('the input holds more than one PEM block; send exactly one CSR');
  }
  const label = /^-----BEGIN ([A-Z0-9 ]{1,40})-----$/.exec(beginLines[0] ?? '')?.[1];
  if (label !== 'CERTIFICATE REQUEST' && label !== 'NEW CERTIFICATE REQUEST') {
    const found = label === undefined ? 'a malformed PEM header' : `a "${label}" block`;
    throw invalidCsr(`expected a PEM "CERTIFICATE REQUEST" block, found ${found}`);
  }
  const block = new RegExp(`^-----BEGIN ${label}-----\\n([A-Za-z0-9+/=\\s]*?)\\n?-----END ${label}-----$`).exec(text);
  if (!block) {
    throw invalidCsr('the CSR PEM block is malformed: text outside the block, headers, or a missing or mismatched END line');
  }
  const base64 = (block[1] ?? '').replace(/\s+/g, '');
  // Node's base64 decoder silently skips bad characters and missing padding; check first.
  if (base64 === '' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(base64)) {
    throw invalidCsr('the CSR base64 is malformed or truncated');
  }
  const der = Uint8Array.from(Buffer.from(base64, 'base64'));
  if (derElementLength(der) !== der.length) {
    throw invalidCsr('the CSR DER is truncated or has trailing data');
  }
  return der;
}

/**
 * Total length (header + content) of the DER SEQUENCE at the start of `bytes`, or undefined when
 * it is not a SEQUENCE with a definite, minimally encoded length. The ASN.1 parser ignores
 * anything after the first element, so this is what catches appended bytes.
 */
function derElementLength(bytes: Uint8Array): number | undefined {
  if (bytes.length < 2 || bytes[0] !== 0x30) return undefined;
  const first = bytes[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  // 0x80 is BER's indefinite length; more than 4 length octets is far beyond 64 KiB.
  if (octets === 0 || octets > 4 || bytes.length < 2 + octets) return undefined;
  let length = 0;
  for (let i = 0; i < octets; i++) length = length * 256 + (bytes[2 + i] ?? 0);
  if (length < 0x80 || (bytes[2] ?? 0) === 0) return undefined;
  return 2 + octets + length;
}

/**
 * Decodes the PKCS#10 structure, touching every lazily decoded part so that errors surface here.
 * The ASN.1 parser is lenient (it accepts, for instance, a context-specific tag where the outer
 * signatureAlgorithm SEQUENCE belongs, a part no signature covers), so the input must also
 * re-encode to exactly itself: only DER is accepted.
 */
function decodeStructure(der: Uint8Array<ArrayBuffer>): x509.Pkcs10CertificateRequest {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    const reencoded = new Uint8Array(AsnConvert.serialize(AsnConvert.parse(der, CertificationRequest)));
    if (!Buffer.from(reencoded).equals(der)) throw invalidCsr('the CSR is not DER-encoded');
    csr = new x509.Pkcs10CertificateRequest(der);
    void csr.subjectName;
    void csr.publicKey;
    void csr.signatureAlgorithm;
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw invalidCsr('the CSR is not a well-formed PKCS#10 certificate request');
  }
  try {
    // @peculiar/x509 decodes requested extensions together with the attributes.
    void csr.attributes;
  } catch {
    throw invalidCsr('the CSR attributes or requested extensions are malformed');
  }
  return csr;
}

/** The key algorithm of the CSR's SubjectPublicKeyInfo, or a refusal naming what was sent. */
function classifyKey(publicKey: x509.PublicKey): KeyAlgorithmName {
  const spki = AsnConvert.parse(publicKey.rawData, SubjectPublicKeyInfo);
  const oid = spki.algorithm.algorithm;
  switch (oid) {
    case OID_EC_PUBLIC_KEY:
      return classifyCurve(spki.algorithm.parameters);
    case OID_ED25519:
      return 'ed25519';
    case OID_RSA_ENCRYPTION:
      return classifyRsa(AsnConvert.parse(spki.subjectPublicKey, RSAPublicKey));
    default: {
      const name = KNOWN_UNSUPPORTED_KEY_ALGORITHMS[oid] ?? `with OID ${oid}`;
      throw invalidCsr(`unsupported key algorithm ${name} (${SUPPORTED_KEYS_HINT})`);
    }
  }
}

function classifyCurve(parameters: ArrayBuffer | null | undefined): KeyAlgorithmName {
  if (!parameters) throw invalidCsr('the EC key does not name its curve');
  const ecParameters = AsnConvert.parse(parameters, ECParameters);
  const curve = ecParameters.namedCurve;
  if (curve === undefined) {
    throw invalidCsr(`unsupported elliptic curve given by explicit parameters (${SUPPORTED_KEYS_HINT})`);
  }
  const supported = SUPPORTED_CURVES[curve];
  if (supported) return supported;
  const name = KNOWN_UNSUPPORTED_CURVES[curve] ?? `with OID ${curve}`;
  throw invalidCsr(`unsupported elliptic curve ${name} (${SUPPORTED_KEYS_HINT})`);
}

function classifyRsa(key: RSAPublicKey): KeyAlgorithmName {
  // The exact bit length: @peculiar/x509's `modulusLength` is the byte length × 8, so it would
  // report a 2047-bit modulus as 2048.
  const bits = bitLength(new Uint8Array(key.modulus));
  if (bits < 2048) throw invalidCsr('RSA keys must be at least 2048 bits');
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
    throw invalidCsr(`unsupported RSA key size of ${bits} bits (supported: exactly 2048, 3072 or 4096)`);
  }
  const exponent = stripLeadingZeros(new Uint8Array(key.publicExponent));
  if (exponent.length !== 3 || exponent[0] !== 0x01 || exponent[1] !== 0x00 || exponent[2] !== 0x01) {
    throw invalidCsr('the RSA public exponent must be 65537');
  }
  return bits === 2048 ? 'rsa-2048' : bits === 3072 ? 'rsa-3072' : 'rsa-4096';
}

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

/** Bit length of an unsigned big-endian integer. */
function bitLength(bytes: Uint8Array): number {
  const digits = stripLeadingZeros(bytes);
  const top = digits[0];
  if (top === undefined) return 0;
  return (digits.length - 1) * 8 + (32 - Math.clz32(top));
}

function checkSignatureAlgorithm(algorithm: x509.HashedAlgorithm): void {
  if (algorithm.name === 'Ed25519') return;
  const known = ['ECDSA', 'RSASSA-PKCS1-v1_5', 'RSA-PSS'].includes(algorithm.name);
  if (!known) throw invalidCsr('the CSR is signed with an unsupported signature algorithm');
  const hash = typeof algorithm.hash === 'string' ? algorithm.hash : algorithm.hash.name;
  if (!ACCEPTED_SIGNATURE_HASHES.has(hash.toUpperCase())) {
    throw invalidCsr(`the CSR is signed with ${hash}; sign it with SHA-256 or stronger`);
  }
}

/** Proof of possession: the request was signed by the private key of the key it certifies. */
async function verifySignature(csr: x509.Pkcs10CertificateRequest): Promise<void> {
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch {
    // A mismatched algorithm or a malformed signature value makes WebCrypto throw; same answer.
    valid = false;
  }
  if (!valid) throw invalidCsr('the CSR signature does not verify');
}

/**
 * The extensions in the CSR's extensionRequest attribute. @peculiar/x509 reads only the first
 * extensionRequest attribute and only its first value; a request smuggling a second one past
 * those checks is refused rather than half-read.
 */
function requestedExtensions(csr: x509.Pkcs10CertificateRequest): Extensions {
  const requests = csr.attributes.filter((attribute) => attribute.type === OID_EXTENSION_REQUEST);
  const request = requests[0];
  if (request === undefined) return new Extensions();
  if (requests.length > 1) throw invalidCsr('the CSR has more than one extensionRequest attribute');
  const value = request.values[0];
  if (request.values.length !== 1 || value === undefined) {
    throw invalidCsr('the CSR extensionRequest attribute must hold exactly one set of extensions');
  }
  let extensions: Extensions;
  try {
    extensions = AsnConvert.parse(value, Extensions);
  } catch {
    throw invalidCsr('the CSR extensionRequest attribute is malformed');
  }
  const seen = new Set<string>();
  for (const extension of extensions) {
    if (seen.has(extension.extnID)) {
      throw invalidCsr(`the CSR requests extension ${extension.extnID} more than once`);
    }
    seen.add(extension.extnID);
  }
  return extensions;
}

function extensionValue<T>(extensions: Extensions, oid: string, type: new () => T, what: string): T | undefined {
  const extension = extensions.find((candidate) => candidate.extnID === oid);
  if (!extension) return undefined;
  try {
    return AsnConvert.parse(extension.extnValue.buffer, type);
  } catch {
    throw invalidCsr(`the CSR's requested ${what} extension is malformed`);
  }
}

/** Trustroot issues end-entity certificates only; a CSR asking for more is refused outright. */
function refuseCaRights(extensions: Extensions): void {
  const basicConstraints = extensionValue(extensions, OID_BASIC_CONSTRAINTS, BasicConstraints, 'basicConstraints');
  if (basicConstraints?.cA) {
    throw new DomainError('policy_violation', 'the CSR asks for CA rights (basicConstraints cA=TRUE); Trustroot issues only end-entity certificates');
  }
  const keyUsage = extensionValue(extensions, OID_KEY_USAGE, KeyUsage, 'keyUsage');
  const usages = keyUsage?.toNumber() ?? 0;
  if (usages & (KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)) {
    throw new DomainError('policy_violation', 'the CSR asks for CA rights (keyUsage keyCertSign or cRLSign); Trustroot issues only end-entity certificates');
  }
}

/** DNS names, IP addresses and URIs from the requested subjectAltName, in the order requested. */
function requestedNames(extensions: Extensions): SubjectAlternativeNames {
  const sans: SubjectAlternativeNames = { dnsNames: [], ipAddresses: [], uris: [] };
  const names = extensionValue(extensions, OID_SUBJECT_ALT_NAME, SubjectAlternativeName, 'subjectAltName') ?? [];
  for (const name of names) {
    if (name.dNSName !== undefined) {
      sans.dnsNames.push(name.dNSName);
    } else if (name.iPAddress !== undefined) {
      // The decoder renders 8- and 32-octet values as CIDR ranges and other lengths as hex;
      // only a 4- or 16-octet address is an IP address.
      if (isIP(name.iPAddress) === 0) {
        throw invalidCsr('the CSR has a malformed IP address in its subject alternative names');
      }
      sans.ipAddresses.push(name.iPAddress);
    } else if (name.uniformResourceIdentifier !== undefined) {
      sans.uris.push(name.uniformResourceIdentifier);
    } else {
      throw new DomainError(
        'policy_violation',
        `the CSR asks for a ${generalNameType(name)} subject alternative name; Trustroot issues only DNS names, IP addresses and URIs`,
      );
    }
  }
  return sans;
}

function generalNameType(name: GeneralName): string {
  if (name.rfc822Name !== undefined) return 'email (rfc822Name)';
  if (name.directoryName !== undefined) return 'directoryName';
  if (name.registeredID !== undefined) return 'registeredID';
  if (name.otherName !== undefined) return 'otherName';
  return 'unsupported';
}
