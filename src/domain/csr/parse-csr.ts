import { constants, createPublicKey, KeyObject, verify, webcrypto, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { isIP } from 'node:net';
import { DomainError } from '../errors.ts';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import type { SubjectAlternativeNames } from '../x509/certificate-builder.ts';
import type { EncodedPublicKey } from '../x509/certificate-template.ts';
import { sha256Hex } from '../sha256-hex.ts';
import { DerError, DerReader, TAG, TAG_CLASS, contextTag, isConstructed, tagClass, type DerElement, type NonDerCode, type NonDerIssue } from './der-reader.ts';

/** What the RA needs from a certificate signing request, read only after its signature verified. */
export interface ParsedCsr {
  /** The CSR's SubjectPublicKeyInfo, as a certificate template takes it. */
  publicKey: EncodedPublicKey;
  /** The DER SubjectPublicKeyInfo, exactly as it appears in the CSR (the bytes `publicKey` holds). */
  subjectPublicKeyInfo: Uint8Array;
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

const OID_COMMON_NAME = '2.5.4.3';
const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_ISSUER_ALT_NAME = '2.5.29.18';
const OID_CRL_DISTRIBUTION_POINTS = '2.5.29.31';
const OID_CERTIFICATE_POLICIES = '2.5.29.32';
const OID_AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';

const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_ED25519 = '1.3.101.112';
const OID_SHA1 = '1.3.14.3.2.26';

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

const MALFORMED = 'the CSR is not a well-formed PKCS#10 certificate request';
const NOT_DER = 'the CSR is not DER-encoded';
const MALFORMED_ATTRIBUTES = 'the CSR attributes or requested extensions are malformed';
const UNDECODABLE = 'the CSR could not be decoded as a PKCS#10 certificate request';
const SIGNATURE_INVALID = 'the CSR signature does not verify';

/**
 * Parses and checks a PEM certificate signing request (PKCS#10).
 *
 * Accepts exactly one `CERTIFICATE REQUEST` (or legacy `NEW CERTIFICATE REQUEST`) PEM block of
 * at most 64 KiB, nothing around it but whitespace, whose DER has no trailing bytes. The checks
 * run in this order, each refusing with a caller-safe `DomainError`:
 * 1. encoding (PEM, base64, strict DER) and structure → `invalid_csr`;
 * 2. key algorithm and strength (P-256/P-384, Ed25519, RSA of exactly 2048/3072/4096 bits with
 *    exponent 65537) → `invalid_csr` — before any crypto runs on the key;
 * 3. signature algorithm (SHA-256 or stronger) and signature (proof of possession) → `invalid_csr`;
 * 4. requested extensions: a single, well-formed extensionRequest → `invalid_csr`; CA rights
 *    (basicConstraints cA=TRUE, keyUsage keyCertSign/cRLSign) → `policy_violation`; subject
 *    alternative names other than DNS, IP and URI → `policy_violation`; a subject with more than
 *    one CN → `invalid_csr` (which one would we record?).
 * Names are returned as requested; checking their syntax and the service's policy is the caller's
 * next step. Never throws anything but a `DomainError` for bad input.
 *
 * The DER is read by a hand-written strict reader (`der-reader.ts`) and the signature checked
 * with `crypto.verify`. Answers and refusal texts are those of the @peculiar/asn1-schema based
 * implementation this replaced (kept as test/support/reference-parse-csr.ts and compared with it
 * in test/unit/domain/csr/parse-csr-differential.test.ts), except where that one accepted what
 * DER forbids: BER inside attribute values, algorithm parameters, keys and extension values
 * (it re-encoded only the outer structure), BER ECDSA signature values, a version other than 0.
 * Two DER rules it did not enforce still are not: SET OF order and omitted DEFAULT values (an
 * explicit critical FALSE).
 */
export function parseCsr(input: string): Promise<ParsedCsr> {
  return decodeCsr(input).check();
}

/**
 * `parseCsr` in two steps, for work started before the CSR is checked that needs to know which
 * key the request is for (`IssuanceService.startAhead`): the decoding (step 1 above) now, and
 * the rest of the checks when `check` is called. `spkiSha256` is only what the request says, not
 * a judgement of it (undefined when it does not decode; `check` then refuses it).
 */
export interface DecodedCsrRequest {
  readonly spkiSha256: string | undefined;
  /** The checks after decoding, each call anew: `parseCsr`'s answer or refusal. */
  check(): Promise<ParsedCsr>;
}

export function decodeCsr(input: string): DecodedCsrRequest {
  let csr: DecodedCsr;
  try {
    csr = decodeStructure(decodePem(input));
  } catch (error) {
    const refusal = callerSafe(error);
    return { spkiSha256: undefined, check: () => Promise.reject(refusal) };
  }
  const spkiSha256 = sha256Hex(csr.spki);
  return {
    spkiSha256,
    check: () =>
      checkDecodedCsr(csr, spkiSha256).catch((error: unknown) => {
        throw callerSafe(error);
      }),
  };
}

/** A refusal as it is; anything else as "could not be decoded": a decoder error's text names internals. */
function callerSafe(error: unknown): DomainError {
  return error instanceof DomainError ? error : invalidCsr(UNDECODABLE);
}

async function checkDecodedCsr(csr: DecodedCsr, spkiSha256: string): Promise<ParsedCsr> {
  // Key first: no signature check runs on a key we would refuse anyway.
  const keyAlgorithm = classifyKey(csr.key);
  checkSignatureAlgorithm(csr.signatureAlgorithm);
  await verifySignature(csr, keyAlgorithm);
  // Only now is the content known to come from the key holder; read what it asks for.
  const extensions = requestedExtensions(csr);
  refuseCaRights(extensions);
  if (csr.commonNames.length > 1) throw invalidCsr('the CSR subject has more than one common name (CN)');
  const sans = requestedNames(extensions);
  return {
    publicKey: { rawData: csr.spki.slice().buffer },
    subjectPublicKeyInfo: csr.spki,
    keyAlgorithm,
    spkiSha256,
    commonName: csr.commonNames[0],
    sans,
  };
}

function invalidCsr(detail: string): DomainError {
  return new DomainError('invalid_csr', detail);
}

/** PEM → DER, strictly: one block, a CSR label, canonical base64, no bytes after the DER. */
function decodePem(input: string): Uint8Array {
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
 * it is not a SEQUENCE with a definite, minimally encoded length. Checked before the structure so
 * that appended bytes and truncation get their own, clearer refusal.
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

// ---------------------------------------------------------------------------------------------
// Structure

interface AlgorithmIdentifier {
  oid: string;
  /** The parameters element, if present (NULL included). */
  parameters: DerElement | undefined;
}

/** A WebCrypto-style view of an AlgorithmIdentifier: the name the signature checks speak in. */
interface WebAlgorithm {
  name: string;
  hash?: WebAlgorithm;
  namedCurve?: string;
  /** RSA-PSS salt length in octets; undefined when WebCrypto would refuse the value. */
  saltLength?: number | undefined;
}

/** What classification needs from the SubjectPublicKeyInfo, decoded in the structure step. */
type KeyInfo =
  | { kind: 'ec-named'; curve: string; point: Uint8Array }
  | { kind: 'ec-explicit' }
  | { kind: 'ed25519'; withParameters: boolean; key: Uint8Array }
  | { kind: 'rsa'; modulus: Uint8Array; publicExponent: Uint8Array; plainParameters: boolean }
  | { kind: 'other'; oid: string };

interface Extension {
  oid: string;
  /** basicConstraints cA=TRUE, or keyUsage keyCertSign or cRLSign. */
  asksForCaRights?: boolean;
  /** The subjectAltName's names. */
  names?: GeneralName[];
}

/** How the extensionRequest attributes looked, for the checks that run after the signature. */
interface ExtensionRequestAttribute {
  valueCount: number;
  /** The extensions of the first value; undefined when that value is a NULL (or absent). */
  extensions: Extension[] | undefined;
}

interface DecodedCsr {
  /** The DER certificationRequestInfo: what the signature covers. */
  info: Uint8Array;
  spki: Uint8Array<ArrayBuffer>;
  key: KeyInfo;
  signatureAlgorithm: WebAlgorithm;
  signature: Uint8Array;
  commonNames: string[];
  extensionRequests: ExtensionRequestAttribute[];
}

/**
 * Decodes the PKCS#10 structure in three passes whose refusals are those of the decoder this
 * replaced, which parsed leniently (BER), re-encoded the CertificationRequest to check it was
 * DER, and then decoded some parts further:
 * 1. the CertificationRequest, every element down to the attribute values: an unusable encoding
 *    or a schema mismatch is `MALFORMED`; a valid BER encoding that is not DER in the typed
 *    fields (or a context tag where a SEQUENCE belongs) is `NOT_DER`, as its re-encoding was;
 * 2. the key and the two AlgorithmIdentifiers (curve, RSA key, RSA-PSS parameters) → `MALFORMED`;
 * 3. the attributes it decoded eagerly (challengePassword, extensionRequest and the values of the
 *    extensions it knew) → `MALFORMED_ATTRIBUTES`.
 * Anything else that is not DER (inside ANY values, keys, parameters and extension values, which
 * the old re-encoding check did not cover), and a version other than 0, is refused after those,
 * so that every input the old decoder refused in this step gets the same answer.
 */
function decodeStructure(der: Uint8Array): DecodedCsr {
  const outerReader = new DerReader(der);
  const outer = readOuter(der, outerReader);
  if (outerReader.problems.some(refusedByReencoding)) throw invalidCsr(NOT_DER);

  const algorithms = new DerReader(der);
  let key: KeyInfo;
  let signatureAlgorithm: WebAlgorithm;
  try {
    key = readKeyInfo(algorithms, outer.keyAlgorithm, outer.subjectPublicKey);
    signatureAlgorithm = webAlgorithm(algorithms, outer.signatureAlgorithm);
  } catch (error) {
    throw asInvalidCsr(error, MALFORMED);
  }

  const attributes = new DerReader(der);
  let extensionRequests: ExtensionRequestAttribute[];
  try {
    extensionRequests = readAttributes(attributes, outer.attributes);
  } catch (error) {
    throw asInvalidCsr(error, MALFORMED_ATTRIBUTES);
  }

  // PKCS#10 knows version 0 only (the old decoder did not look).
  if (outer.version !== 0) throw invalidCsr(MALFORMED);
  if (outerReader.problems.length > 0 || algorithms.problems.length > 0 || attributes.problems.length > 0) throw invalidCsr(NOT_DER);
  return {
    info: outer.info,
    spki: outer.spki,
    key,
    signatureAlgorithm,
    signature: outer.signature,
    commonNames: outer.commonNames,
    extensionRequests,
  };
}

/**
 * Problems that made the old re-encoding differ even inside an ANY value (where it kept the
 * value's own encoding, so other BER went through).
 */
const REENCODED_IN_ANY: ReadonlySet<NonDerCode> = new Set([
  'length-leading-zero',
  'indefinite-length',
  'overrun',
  'non-minimal-tag',
  'null-content',
  'oid-padding',
  'bit-string-empty',
  'end-of-contents-content',
]);

function refusedByReencoding(issue: NonDerIssue): boolean {
  return !issue.inAny || REENCODED_IN_ANY.has(issue.code);
}

/**
 * Pass 1. An element running past its parent is not even BER, but the old decoder read on (its
 * parent ending where the element ended) and refused only when re-encoding. When the strict
 * reading fails, read that way again to tell `NOT_DER` from `MALFORMED`.
 */
function readOuter(der: Uint8Array, reader: DerReader): OuterStructure {
  try {
    return readOuterStructure(reader);
  } catch (error) {
    if (!(error instanceof DerError)) throw asInvalidCsr(error, MALFORMED);
  }
  const healing = new DerReader(der, { healOverruns: true });
  try {
    readOuterStructure(healing);
  } catch (error) {
    throw asInvalidCsr(error, MALFORMED);
  }
  // Readable only the lenient way: what the old re-encoding check refused.
  throw invalidCsr(healing.problems.some(refusedByReencoding) ? NOT_DER : MALFORMED);
}

function asInvalidCsr(error: unknown, detail: string): Error {
  if (error instanceof DomainError) return error;
  if (error instanceof DerError) return invalidCsr(error.problem === 'not-der' ? NOT_DER : detail);
  return error instanceof Error ? error : new Error(String(error));
}

interface OuterStructure {
  version: number | undefined;
  info: Uint8Array;
  spki: Uint8Array<ArrayBuffer>;
  keyAlgorithm: AlgorithmIdentifier;
  subjectPublicKey: DerElement;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
  commonNames: string[];
  attributes: { type: string; values: DerElement[] }[];
}

/**
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name, subjectPKInfo, attributes [0] IMPLICIT SET OF Attribute }
 */
function readOuterStructure(reader: DerReader): OuterStructure {
  const root = reader.readExactly(0, reader.bytes.length);
  const request = sequenceItems(reader, root, 3);
  const info = required(request, 0);
  const fields = sequenceItems(reader, info, 3, 4);
  const spki = required(fields, 2);
  const attributes = fields[3];
  const version = reader.smallInteger(required(fields, 0));
  const commonNames = readName(reader, required(fields, 1));
  const keyInfo = sequenceItems(reader, spki, 2);
  const subjectPublicKey = required(keyInfo, 1);
  wholeOctetBits(reader, subjectPublicKey);
  const signature = wholeOctetBits(reader, required(request, 2));
  if (attributes === undefined) {
    // The [0] attributes are not OPTIONAL in PKCS#10; a request without them is BER at best.
    reader.notDer('schema');
  } else if (attributes.tag !== contextTag(0, true)) {
    throw new DerError('malformed', 'expected [0] attributes');
  }
  return {
    version,
    info: reader.encoded(info),
    spki: reader.encoded(spki).slice(),
    keyAlgorithm: readAlgorithmIdentifier(reader, required(keyInfo, 0)),
    subjectPublicKey,
    signatureAlgorithm: readAlgorithmIdentifier(reader, required(request, 1)),
    signature,
    commonNames,
    attributes: attributes === undefined ? [] : readAttributeList(reader, attributes),
  };
}

/**
 * The items of a SEQUENCE that has at least `min` and at most `max` items. Extra items are valid BER for an extensible type but not this DER; a context-specific
 * constructed tag in place of the universal one was accepted by the decoder we replaced, so it
 * is `not-der` rather than `malformed`.
 */
function sequenceItems(reader: DerReader, element: DerElement, min: number, max = min): DerElement[] {
  checkConstructedTag(reader, element, TAG.SEQUENCE);
  const items = reader.children(element);
  if (items.length < min) throw new DerError('malformed', 'missing elements');
  if (items.length > max) {
    reader.notDer('schema');
    // Read (and re-encoded) all the same by the old decoder: an unusable one was still malformed.
    for (const extra of items.slice(max)) reader.checkAny(extra);
  }
  return items;
}

/** `items[index]`, which the caller's `min` made sure exists. */
function required(items: readonly DerElement[], index: number): DerElement {
  const item = items[index];
  if (item === undefined) throw new DerError('malformed', 'missing element');
  return item;
}

/** The one element inside an EXPLICIT tag. */
function explicitInner(reader: DerReader, element: DerElement): DerElement {
  const items = reader.children(element);
  if (items.length !== 1) throw new DerError('malformed', 'an EXPLICIT tag holds one element');
  return required(items, 0);
}

function checkConstructedTag(reader: DerReader, element: DerElement, tag: number): void {
  if (element.tag === tag) return;
  if (tagClass(element.tag) === TAG_CLASS.CONTEXT && isConstructed(element.tag)) {
    reader.notDer('schema');
    return;
  }
  throw new DerError('malformed', 'expected a SEQUENCE or SET');
}

/** The elements of a SEQUENCE OF or SET OF (`tag`), in order; DER's SET OF ordering is not required. */
function listItems(reader: DerReader, element: DerElement, tag: number = TAG.SEQUENCE): DerElement[] {
  checkConstructedTag(reader, element, tag);
  return reader.children(element);
}

/** A BIT STRING that holds whole octets (a key, a signature): unused bits are not DER here. */
function wholeOctetBits(reader: DerReader, element: DerElement): Uint8Array {
  const { unusedBits, bytes } = reader.bitString(element);
  reader.countEmbedded(element);
  if (unusedBits !== 0) reader.notDer('schema');
  return bytes;
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
function readAlgorithmIdentifier(reader: DerReader, element: DerElement): AlgorithmIdentifier {
  const items = sequenceItems(reader, element, 1, 2);
  const oid = typedObjectIdentifier(reader, required(items, 0));
  const parameters = items[1];
  if (parameters !== undefined) reader.checkAny(parameters);
  return { oid, parameters };
}

/**
 * An OBJECT IDENTIFIER in a typed position. Subidentifiers longer than 7 octets (beyond 49 bits)
 * did not survive the replaced decoder's re-encoding check, so they are refused as it refused them.
 */
function typedObjectIdentifier(reader: DerReader, element: DerElement): string {
  const oid = reader.objectIdentifier(element);
  let run = 0;
  for (let i = element.contentStart; i < element.end; i++) {
    run = ((reader.bytes[i] ?? 0) & 0x80) !== 0 ? run + 1 : 0;
    if (run >= 7) {
      reader.notDer('schema');
      break;
    }
  }
  return oid;
}

/**
 * Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue). Every value is
 * checked; the returned list holds the text of each CN (2.5.4.3), in order, rendered as the
 * replaced decoder rendered it: the string types decoded (TeletexString, PrintableString and
 * IA5String one octet per character), anything else as the lower-case hex of its DER.
 */
function readName(reader: DerReader, element: DerElement): string[] {
  const commonNames: string[] = [];
  for (const rdn of listItems(reader, element)) {
    for (const atv of listItems(reader, rdn, TAG.SET)) {
      const items = sequenceItems(reader, atv, 2);
      const oid = typedObjectIdentifier(reader, required(items, 0));
      const text = attributeValueText(reader, required(items, 1));
      if (oid === OID_COMMON_NAME) commonNames.push(text);
    }
  }
  return commonNames;
}

function attributeValueText(reader: DerReader, value: DerElement): string {
  switch (value.tag) {
    case TAG.PRINTABLE_STRING:
    case TAG.TELETEX_STRING:
    case TAG.IA5_STRING:
      return reader.latin1(value);
    case TAG.UTF8_STRING:
      return reader.utf8(value);
    case TAG.BMP_STRING:
      return reader.bmp(value);
    case TAG.UNIVERSAL_STRING:
      return reader.universal(value);
    case TAG.NULL:
      // The old decoder read a NULL value as no value at all: an empty text.
      reader.checkAny(value);
      return '';
    default:
      reader.checkAny(value);
      return Buffer.from(reader.encoded(value)).toString('hex');
  }
}

/** Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY } */
function readAttributeList(reader: DerReader, element: DerElement): { type: string; values: DerElement[] }[] {
  const attributes: { type: string; values: DerElement[] }[] = [];
  for (const attribute of reader.children(element)) {
    const fields = sequenceItems(reader, attribute, 2);
    const oid = typedObjectIdentifier(reader, required(fields, 0));
    const set = required(fields, 1);
    if (set.tag !== TAG.SET) throw new DerError('malformed', 'expected the attribute values SET');
    const values = reader.children(set);
    for (const value of values) reader.checkAny(value);
    attributes.push({ type: oid, values });
  }
  return attributes;
}

// ---------------------------------------------------------------------------------------------
// Key and algorithms

function isNull(element: DerElement | undefined): boolean {
  return element !== undefined && element.tag === TAG.NULL;
}

/** The SubjectPublicKeyInfo's key, as far as classification needs it. */
function readKeyInfo(reader: DerReader, algorithm: AlgorithmIdentifier, subjectPublicKey: DerElement): KeyInfo {
  // Named here because the replaced decoder read them eagerly: a bad curve or RSA-PSS parameter
  // made the whole request malformed before its key was looked at.
  webAlgorithm(reader, algorithm);
  switch (algorithm.oid) {
    case OID_EC_PUBLIC_KEY: {
      const parameters = algorithm.parameters;
      if (parameters?.tag === TAG.OBJECT_IDENTIFIER) return { kind: 'ec-named', curve: reader.objectIdentifier(parameters), point: keyBits(reader, subjectPublicKey) };
      return { kind: 'ec-explicit' };
    }
    case OID_ED25519:
      return { kind: 'ed25519', withParameters: algorithm.parameters !== undefined, key: keyBits(reader, subjectPublicKey) };
    case OID_RSA_ENCRYPTION: {
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, inside the BIT STRING.
      const rsaKey = reader.readExactly(subjectPublicKey.contentStart + 1, subjectPublicKey.contentEnd, subjectPublicKey.depth + 1);
      const items = sequenceItems(reader, rsaKey, 2);
      return {
        kind: 'rsa',
        modulus: reader.integer(required(items, 0)),
        publicExponent: reader.integer(required(items, 1)),
        plainParameters: algorithm.parameters === undefined || isNull(algorithm.parameters),
      };
    }
    default:
      return { kind: 'other', oid: algorithm.oid };
  }
}

/** The key octets of the SubjectPublicKeyInfo's BIT STRING (checked in pass 1). */
function keyBits(reader: DerReader, subjectPublicKey: DerElement): Uint8Array {
  return reader.content(subjectPublicKey).subarray(1);
}

/** WebCrypto names of the curves @peculiar/x509 knows, by OID. */
const WEB_CURVES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.10': 'K-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  ...Object.fromEntries(
    ['160r1', '160t1', '192r1', '192t1', '224r1', '224t1', '256r1', '256t1', '320r1', '320t1', '384r1', '384t1', '512r1', '512t1'].map((name, i) => [
      `1.3.36.3.3.2.8.1.1.${i + 1}`,
      `brainpoolP${name}`,
    ]),
  ),
};

const HASHED: Readonly<Record<string, { name: string; hash: string }>> = {
  '1.2.840.10045.4.1': { name: 'ECDSA', hash: 'SHA-1' },
  '1.2.840.10045.4.3.2': { name: 'ECDSA', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ECDSA', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ECDSA', hash: 'SHA-512' },
  '1.2.840.113549.1.1.5': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' },
  '1.2.840.113549.1.1.11': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
};

const NAMED: Readonly<Record<string, WebAlgorithm>> = {
  [OID_RSA_ENCRYPTION]: { name: 'RSASSA-PKCS1-v1_5' },
  [OID_SHA1]: { name: 'SHA-1' },
  '2.16.840.1.101.3.4.2.1': { name: 'SHA-256' },
  '2.16.840.1.101.3.4.2.2': { name: 'SHA-384' },
  '2.16.840.1.101.3.4.2.3': { name: 'SHA-512' },
  [OID_ED25519]: { name: 'Ed25519' },
  '1.3.101.113': { name: 'EdDSA', namedCurve: 'Ed448' },
  '1.3.101.110': { name: 'X25519' },
  '1.3.101.111': { name: 'ECDH-ES', namedCurve: 'X448' },
  '2.16.840.1.101.3.4.3.17': { name: 'ML-DSA-44' },
  '2.16.840.1.101.3.4.3.18': { name: 'ML-DSA-65' },
  '2.16.840.1.101.3.4.3.19': { name: 'ML-DSA-87' },
  ...Object.fromEntries(
    ['SHA2-128s', 'SHA2-128f', 'SHA2-192s', 'SHA2-192f', 'SHA2-256s', 'SHA2-256f', 'SHAKE-128s', 'SHAKE-128f', 'SHAKE-192s', 'SHAKE-192f', 'SHAKE-256s', 'SHAKE-256f'].map(
      (name, i) => [`2.16.840.1.101.3.4.3.${20 + i}`, { name: `SLH-DSA-${name}` }],
    ),
  ),
};

/**
 * The WebCrypto view @peculiar/x509 gave an AlgorithmIdentifier (its `toWebAlgorithm`), which
 * decides the signature checks' answers and texts: an unknown OID is named by itself. Throws
 * where it threw: EC parameters missing, NULL or not ECParameters; RSA-PSS parameters that are
 * not RSASSA-PSS-params.
 */
function webAlgorithm(reader: DerReader, algorithm: AlgorithmIdentifier): WebAlgorithm {
  const hashed = HASHED[algorithm.oid];
  if (hashed) return { name: hashed.name, hash: { name: hashed.hash } };
  if (algorithm.oid === OID_EC_PUBLIC_KEY) {
    const parameters = algorithm.parameters;
    if (parameters === undefined || isNull(parameters)) throw new DerError('malformed', 'EC key without parameters');
    if (parameters.tag === TAG.OBJECT_IDENTIFIER) {
      const namedCurve = WEB_CURVES[reader.objectIdentifier(parameters)];
      if (namedCurve !== undefined) return { name: 'ECDSA', namedCurve };
    } else {
      checkSpecifiedEcDomain(reader, parameters);
    }
    return { name: algorithm.oid };
  }
  if (algorithm.oid === OID_RSASSA_PSS) {
    const parameters = algorithm.parameters;
    if (parameters === undefined || isNull(parameters)) return { name: 'RSA-PSS' };
    return readPssParameters(reader, parameters);
  }
  return NAMED[algorithm.oid] ?? { name: algorithm.oid };
}

/**
 * SpecifiedECDomain ::= SEQUENCE { version INTEGER, fieldID SEQUENCE { fieldType OBJECT
 * IDENTIFIER, parameters ANY }, curve SEQUENCE { a OCTET STRING, b OCTET STRING, seed BIT STRING
 * OPTIONAL }, base OCTET STRING, order INTEGER, cofactor INTEGER OPTIONAL, hash … OPTIONAL }
 */
function checkSpecifiedEcDomain(reader: DerReader, element: DerElement): void {
  if (element.tag !== TAG.SEQUENCE) throw new DerError('malformed', 'EC parameters are not ECParameters');
  const items = sequenceItems(reader, element, 5, 7);
  reader.integer(required(items, 0));
  reader.objectIdentifier(required(sequenceItems(reader, required(items, 1), 2), 0));
  const curve = sequenceItems(reader, required(items, 2), 2, 3);
  reader.octetString(required(curve, 0));
  reader.octetString(required(curve, 1));
  const seed = curve[2];
  if (seed !== undefined) reader.bitString(seed);
  reader.octetString(required(items, 3));
  reader.integer(required(items, 4));
}

/**
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT
 * mgf1SHA1, saltLength [2] INTEGER DEFAULT 20, trailerField [3] INTEGER DEFAULT 1 }. As with
 * WebCrypto, the MGF1 hash is the signature's hash whatever the parameters name, and the trailer
 * field is not looked at.
 */
function readPssParameters(reader: DerReader, element: DerElement): WebAlgorithm {
  if (element.tag !== TAG.SEQUENCE) throw new DerError('malformed', 'RSA-PSS parameters are not a SEQUENCE');
  let hash: WebAlgorithm = { name: 'SHA-1' };
  let saltLength: number | undefined = 20;
  let last = -1;
  for (const field of reader.children(element)) {
    const number = field.tag & 0x1f;
    if (field.tag !== contextTag(number, true) || number > 3 || number <= last) throw new DerError('malformed', 'unexpected RSA-PSS parameter');
    last = number;
    const inner = explicitInner(reader, field);
    if (number === 0) {
      hash = webAlgorithm(reader, readStrictAlgorithmIdentifier(reader, inner));
    } else if (number === 1) {
      readStrictAlgorithmIdentifier(reader, inner);
    } else if (number === 2) {
      saltLength = unsigned32(reader, inner);
    } else {
      reader.integer(inner);
    }
  }
  return { name: 'RSA-PSS', hash, saltLength };
}

/** An AlgorithmIdentifier inside ANY-typed parameters: SEQUENCE { OID, ANY OPTIONAL } and nothing else. */
function readStrictAlgorithmIdentifier(reader: DerReader, element: DerElement): AlgorithmIdentifier {
  if (element.tag !== TAG.SEQUENCE) throw new DerError('malformed', 'expected an AlgorithmIdentifier');
  const items = reader.children(element);
  if (items.length > 2) throw new DerError('malformed', 'expected an AlgorithmIdentifier');
  return { oid: reader.objectIdentifier(required(items, 0)), parameters: items[1] };
}

/** An INTEGER WebCrypto accepts as an `unsigned long` (0 … 2^32 − 1), else undefined. */
function unsigned32(reader: DerReader, element: DerElement): number | undefined {
  const value = reader.smallInteger(element);
  return value !== undefined && value >= 0 && value <= 0xffffffff ? value : undefined;
}

/** The key algorithm of the CSR's SubjectPublicKeyInfo, or a refusal naming what was sent. */
function classifyKey(key: KeyInfo): KeyAlgorithmName {
  switch (key.kind) {
    case 'ec-named': {
      const supported = SUPPORTED_CURVES[key.curve];
      if (supported) return supported;
      const name = KNOWN_UNSUPPORTED_CURVES[key.curve] ?? `with OID ${key.curve}`;
      throw invalidCsr(`unsupported elliptic curve ${name} (${SUPPORTED_KEYS_HINT})`);
    }
    case 'ec-explicit':
      throw invalidCsr(`unsupported elliptic curve given by explicit parameters (${SUPPORTED_KEYS_HINT})`);
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      return classifyRsa(key.modulus, key.publicExponent);
    case 'other': {
      const name = KNOWN_UNSUPPORTED_KEY_ALGORITHMS[key.oid] ?? `with OID ${key.oid}`;
      throw invalidCsr(`unsupported key algorithm ${name} (${SUPPORTED_KEYS_HINT})`);
    }
  }
}

function classifyRsa(modulus: Uint8Array, publicExponent: Uint8Array): KeyAlgorithmName {
  // The exact bit length: a 2047-bit modulus is not a 2048-bit key.
  const bits = bitLength(modulus);
  if (bits < 2048) throw invalidCsr('RSA keys must be at least 2048 bits');
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
    throw invalidCsr(`unsupported RSA key size of ${bits} bits (supported: exactly 2048, 3072 or 4096)`);
  }
  const exponent = stripLeadingZeros(publicExponent);
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

function checkSignatureAlgorithm(algorithm: WebAlgorithm): void {
  if (algorithm.name === 'Ed25519') return;
  const known = ['ECDSA', 'RSASSA-PKCS1-v1_5', 'RSA-PSS'].includes(algorithm.name);
  if (!known) throw invalidCsr('the CSR is signed with an unsupported signature algorithm');
  // An RSA or EC key OID in the signatureAlgorithm names no hash: the request means nothing.
  if (algorithm.hash === undefined) throw invalidCsr(UNDECODABLE);
  const hash = algorithm.hash.name;
  if (!ACCEPTED_SIGNATURE_HASHES.has(hash.toUpperCase())) {
    throw invalidCsr(`the CSR is signed with ${hash}; sign it with SHA-256 or stronger`);
  }
}

const NODE_HASHES: Readonly<Record<string, string>> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

/**
 * Proof of possession: the request was signed by the private key of the key it certifies.
 * Accepts exactly the combinations WebCrypto did: ECDSA (any accepted hash, whatever the curve)
 * with an EC key, Ed25519 with an Ed25519 key, RSASSA-PKCS1-v1_5 and RSA-PSS (salt length from
 * the parameters, MGF1 with the signature's hash) with an RSA key. ECDSA signatures must be
 * DER ECDSA-Sig-Value, as OpenSSL requires.
 */
async function verifySignature(csr: DecodedCsr, keyAlgorithm: KeyAlgorithmName): Promise<void> {
  let valid: boolean;
  try {
    valid = verifyWithKey(csr, keyAlgorithm, await publicKeyObject(csr.key, keyAlgorithm, csr.spki));
  } catch {
    // A key OpenSSL cannot import or a malformed signature value; same answer.
    valid = false;
  }
  if (!valid) throw invalidCsr(SIGNATURE_INVALID);
}

/**
 * Checked on the event loop, not on libuv's thread pool (`crypto.verify`'s callback form): on
 * two cores the hand-offs to a pool thread and back cost more than the check itself (~80 µs for
 * P-256) and gave nothing back at concurrency 32 (BENCHMARKS.md, change 21).
 */
function verifyWithKey(csr: DecodedCsr, keyAlgorithm: KeyAlgorithmName, publicKey: KeyObject): boolean {
  const algorithm = csr.signatureAlgorithm;
  const hash = algorithm.hash === undefined ? undefined : NODE_HASHES[algorithm.hash.name];
  const keyFamily = keyAlgorithm.startsWith('ecdsa') ? 'ECDSA' : keyAlgorithm === 'ed25519' ? 'Ed25519' : 'RSA';
  switch (algorithm.name) {
    case 'ECDSA':
      if (keyFamily !== 'ECDSA' || hash === undefined) return false;
      return verify(hash, csr.info, { key: publicKey, dsaEncoding: 'der' }, csr.signature);
    case 'Ed25519':
      if (keyFamily !== 'Ed25519') return false;
      return verify(null, csr.info, publicKey, csr.signature);
    case 'RSASSA-PKCS1-v1_5':
      if (keyFamily !== 'RSA' || hash === undefined) return false;
      return verify(hash, csr.info, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, csr.signature);
    case 'RSA-PSS':
      if (keyFamily !== 'RSA' || hash === undefined || algorithm.saltLength === undefined || algorithm.saltLength > 0x7fffffff) return false;
      return verify(hash, csr.info, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength }, csr.signature);
    default:
      return false;
  }
}

/** The P-256 field prime (SEC 2), big-endian. */
const P256_PRIME = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');

/**
 * The CSR's key for `crypto.verify`. OpenSSL's SubjectPublicKeyInfo decoder costs 75–140 µs per
 * key; importing the parts costs about 6 µs for RSA and 11 µs for Ed25519 as a JWK, and for
 * P-256 ~45 µs as a raw point through WebCrypto against ~65 µs as a JWK (both check that the
 * point is on the curve; for P-384 that check costs more than the decoder, so P-384 keys are
 * decoded). These routes are taken only where they accept exactly the keys the decoder accepts:
 * an uncompressed P-256 point whose coordinates are below the field prime, an Ed25519 key of 32
 * octets without parameters, an RSA key with a positive modulus and absent or NULL parameters.
 * Anything else goes through the decoder, as it did through WebCrypto's `importKey('spki')`.
 */
async function publicKeyObject(key: KeyInfo, keyAlgorithm: KeyAlgorithmName, spki: Uint8Array): Promise<KeyObject> {
  const point = p256Point(key, keyAlgorithm);
  if (point !== undefined) return KeyObject.from(await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']));
  const jwk = jwkOf(key);
  if (jwk !== undefined) return createPublicKey({ key: jwk, format: 'jwk' });
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** An uncompressed P-256 point whose coordinates are below the field prime, else undefined. */
function p256Point(key: KeyInfo, keyAlgorithm: KeyAlgorithmName): Uint8Array | undefined {
  if (key.kind !== 'ec-named' || keyAlgorithm !== 'ecdsa-p256') return undefined;
  const { point } = key;
  if (point.length !== 65 || point[0] !== 0x04) return undefined;
  if (P256_PRIME.compare(point.subarray(1, 33)) <= 0 || P256_PRIME.compare(point.subarray(33)) <= 0) return undefined;
  return point;
}

function jwkOf(key: KeyInfo): NodeJsonWebKey | undefined {
  const base64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
  switch (key.kind) {
    case 'ed25519':
      if (key.withParameters || key.key.length !== 32) return undefined;
      return { kty: 'OKP', crv: 'Ed25519', x: base64url(key.key) };
    case 'rsa':
      if (!key.plainParameters || (key.modulus[0] ?? 0) >= 0x80) return undefined;
      return { kty: 'RSA', n: base64url(stripLeadingZeros(key.modulus)), e: base64url(stripLeadingZeros(key.publicExponent)) };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Attributes and requested extensions

/**
 * Reads the attributes the replaced decoder read before anything else was checked: a
 * challengePassword's first value must be a DirectoryString; an extensionRequest's first value
 * must be Extensions, and the values of the extensions it knew must decode.
 */
function readAttributes(reader: DerReader, attributes: { type: string; values: DerElement[] }[]): ExtensionRequestAttribute[] {
  const extensionRequests: ExtensionRequestAttribute[] = [];
  for (const { type, values } of attributes) {
    const first = values[0];
    if (type === OID_CHALLENGE_PASSWORD) {
      if (first !== undefined && !isNull(first)) directoryString(reader, first);
    } else if (type === OID_EXTENSION_REQUEST) {
      const extensions = first === undefined || isNull(first) ? undefined : readExtensions(reader, first);
      extensionRequests.push({ valueCount: values.length, extensions });
    }
  }
  return extensionRequests;
}

/** DirectoryString ::= CHOICE { teletexString, printableString, universalString, utf8String, bmpString } */
function directoryString(reader: DerReader, element: DerElement): string {
  switch (element.tag) {
    case TAG.TELETEX_STRING:
    case TAG.PRINTABLE_STRING:
      return reader.latin1(element);
    case TAG.UNIVERSAL_STRING:
      return reader.universal(element);
    case TAG.UTF8_STRING:
      return reader.utf8(element);
    case TAG.BMP_STRING:
      return reader.bmp(element);
    default:
      throw new DerError('malformed', 'expected a DirectoryString');
  }
}

/** Extensions ::= SEQUENCE OF Extension; Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function readExtensions(reader: DerReader, element: DerElement): Extension[] {
  const extensions: Extension[] = [];
  for (const item of listItems(reader, element)) {
    checkConstructedTag(reader, item, TAG.SEQUENCE);
    const fields = reader.children(item);
    if (fields.length > 3) throw new DerError('malformed', 'malformed Extension');
    const oid = reader.objectIdentifier(required(fields, 0));
    const second = required(fields, 1);
    const third = fields[2];
    let value = second;
    if (third !== undefined) {
      // An explicit critical FALSE (DER omits a DEFAULT value) is tolerated, as it was before.
      reader.boolean(second);
      value = third;
    }
    const extension: Extension = { oid };
    if (value.tag === (TAG.OCTET_STRING | 0x20)) {
      // BER: the value in segments. Read the joined octets, as the old decoder did, to refuse the
      // request the same way if they are malformed; it is refused as not DER anyway.
      reader.notDer('constructed-string');
      const joined = new DerReader(reader.joinedSegments(value));
      readKnownExtension(joined, extension, 0, joined.bytes.length, 0);
    } else {
      reader.expect(value, TAG.OCTET_STRING, 'an OCTET STRING');
      readKnownExtension(reader, extension, value.contentStart, value.contentEnd, value.depth + 1);
    }
    extensions.push(extension);
  }
  return extensions;
}

/**
 * Decodes the value of each extension type @peculiar/x509 decoded eagerly (the others are not
 * looked at): the OCTET STRING must hold exactly one element of the extension's type.
 */
function readKnownExtension(reader: DerReader, extension: Extension, start: number, end: number, depth: number): void {
  const valueOf = (): DerElement => reader.readExactly(start, end, depth);
  switch (extension.oid) {
    case OID_BASIC_CONSTRAINTS: {
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
      const fields = listItems(reader, valueOf());
      let index = 0;
      let ca = false;
      const first = fields[index];
      if (first?.tag === TAG.BOOLEAN) {
        ca = reader.boolean(first);
        index++;
      }
      const second = fields[index];
      if (second?.tag === TAG.INTEGER) {
        reader.integer(second);
        index++;
      }
      if (index !== fields.length) throw new DerError('malformed', 'malformed basicConstraints');
      extension.asksForCaRights = ca;
      return;
    }
    case OID_KEY_USAGE: {
      const { bytes } = reader.bitString(valueOf());
      // keyCertSign is bit 5 and cRLSign bit 6 of the KeyUsage named bit list (bit 0 is 0x80).
      extension.asksForCaRights = ((bytes[0] ?? 0) & 0x06) !== 0;
      return;
    }
    case OID_EXT_KEY_USAGE:
      for (const purpose of listItems(reader, valueOf())) reader.objectIdentifier(purpose);
      return;
    case OID_SUBJECT_KEY_IDENTIFIER:
      reader.octetString(valueOf());
      return;
    case OID_AUTHORITY_KEY_IDENTIFIER:
      checkAuthorityKeyIdentifier(reader, valueOf());
      return;
    case OID_SUBJECT_ALT_NAME:
      extension.names = generalNames(reader, valueOf());
      return;
    case OID_ISSUER_ALT_NAME:
      generalNames(reader, valueOf());
      return;
    case OID_CRL_DISTRIBUTION_POINTS:
      checkCrlDistributionPoints(reader, valueOf());
      return;
    case OID_CERTIFICATE_POLICIES:
      checkCertificatePolicies(reader, valueOf());
      return;
    case OID_AUTHORITY_INFO_ACCESS:
      checkAuthorityInfoAccess(reader, valueOf());
      return;
    default:
      return;
  }
}

/** AuthorityKeyIdentifier ::= SEQUENCE { [0] IMPLICIT OCTET STRING OPTIONAL, [1] IMPLICIT GeneralNames OPTIONAL, [2] IMPLICIT INTEGER OPTIONAL } */
function checkAuthorityKeyIdentifier(reader: DerReader, element: DerElement): void {
  const fields = optionalFields(reader, element, [contextTag(0, false), contextTag(1, true), contextTag(2, false)]);
  if (fields[0]) reader.octetString(fields[0], contextTag(0, false));
  if (fields[1]) generalNames(reader, fields[1], contextTag(1, true));
  if (fields[2]) reader.integer(fields[2], contextTag(2, false));
}

/**
 * The fields of a SEQUENCE made only of OPTIONAL fields with distinct `tags`, in that order:
 * `result[i]` is the field tagged `tags[i]`, if present. Anything else is `malformed`.
 */
function optionalFields(reader: DerReader, element: DerElement, tags: readonly number[]): (DerElement | undefined)[] {
  const result: (DerElement | undefined)[] = [];
  let next = 0;
  for (const field of listItems(reader, element)) {
    while (next < tags.length && tags[next] !== field.tag) next++;
    if (next === tags.length) throw new DerError('malformed', 'unexpected field');
    result[next++] = field;
  }
  return result;
}

/**
 * CRLDistributionPoints ::= SEQUENCE OF SEQUENCE { distributionPoint [0] EXPLICIT CHOICE {
 * fullName [0] IMPLICIT GeneralNames, nameRelativeToCRLIssuer [1] IMPLICIT RDN } OPTIONAL,
 * reasons [1] IMPLICIT BIT STRING OPTIONAL, cRLIssuer [2] IMPLICIT GeneralNames OPTIONAL }
 */
function checkCrlDistributionPoints(reader: DerReader, element: DerElement): void {
  for (const point of listItems(reader, element)) {
    const fields = optionalFields(reader, point, [contextTag(0, true), contextTag(1, false), contextTag(2, true)]);
    if (fields[0]) {
      const choice = explicitInner(reader, fields[0]);
      if (choice.tag === contextTag(0, true)) generalNames(reader, choice, contextTag(0, true));
      else if (choice.tag === contextTag(1, true)) for (const atv of reader.children(choice)) readAttributeTypeAndValue(reader, atv);
      else throw new DerError('malformed', 'malformed DistributionPointName');
    }
    if (fields[1]) reader.bitString(fields[1], contextTag(1, false));
    if (fields[2]) generalNames(reader, fields[2], contextTag(2, true));
  }
}

/** CertificatePolicies ::= SEQUENCE OF SEQUENCE { policyIdentifier OID, policyQualifiers SEQUENCE OF SEQUENCE { OID, ANY } OPTIONAL } */
function checkCertificatePolicies(reader: DerReader, element: DerElement): void {
  for (const policy of listItems(reader, element)) {
    const fields = sequenceItems(reader, policy, 1, 2);
    reader.objectIdentifier(required(fields, 0));
    const qualifiers = fields[1];
    if (qualifiers === undefined) continue;
    for (const qualifier of listItems(reader, qualifiers)) {
      const items = sequenceItems(reader, qualifier, 2);
      reader.objectIdentifier(required(items, 0));
      reader.checkAny(required(items, 1));
    }
  }
}

/** Access methods whose location @peculiar/x509 turned into a GeneralName object, which throws for some types. */
const DECODED_ACCESS_METHODS = new Set(['1.3.6.1.5.5.7.48.1', '1.3.6.1.5.5.7.48.2', '1.3.6.1.5.5.7.48.3', '1.3.6.1.5.5.7.48.5']);
const OID_MS_GUID = '1.3.6.1.4.1.311.25.1';
const OID_MS_UPN = '1.3.6.1.4.1.311.20.2.3';

/** AuthorityInfoAccessSyntax ::= SEQUENCE OF SEQUENCE { accessMethod OID, accessLocation GeneralName } */
function checkAuthorityInfoAccess(reader: DerReader, element: DerElement): void {
  for (const description of listItems(reader, element)) {
    const items = sequenceItems(reader, description, 2);
    const oid = reader.objectIdentifier(required(items, 0));
    const name = generalName(reader, required(items, 1));
    if (!DECODED_ACCESS_METHODS.has(oid)) continue;
    if (name.type === 'x400Address' || name.type === 'ediPartyName') throw new DerError('malformed', 'unsupported GeneralName');
    if (name.type === 'otherName') {
      if (name.otherNameType === OID_MS_GUID) {
        if (name.otherNameValue.tag !== TAG.OCTET_STRING || reader.octetString(name.otherNameValue).length !== 16) throw new DerError('malformed', 'malformed GUID');
      } else if (name.otherNameType === OID_MS_UPN) {
        directoryString(reader, name.otherNameValue);
      } else {
        throw new DerError('malformed', 'unsupported otherName');
      }
    }
  }
}

export type GeneralName =
  | { type: 'dNSName' | 'uniformResourceIdentifier' | 'rfc822Name'; text: string }
  | { type: 'iPAddress'; octets: Uint8Array }
  | { type: 'registeredID' | 'directoryName' | 'x400Address' | 'ediPartyName' }
  | { type: 'otherName'; otherNameType: string; otherNameValue: DerElement };

/** GeneralNames ::= SEQUENCE OF GeneralName (or the given IMPLICIT tag). Lint reads a certificate's SAN with it too. */
export function generalNames(reader: DerReader, element: DerElement, tag: number = TAG.SEQUENCE): GeneralName[] {
  const items = tag === TAG.SEQUENCE ? listItems(reader, element) : reader.children(element);
  return items.map((item) => generalName(reader, item));
}

/**
 * GeneralName ::= CHOICE { otherName [0], rfc822Name [1] IA5String, dNSName [2] IA5String,
 * x400Address [3], directoryName [4] Name, ediPartyName [5], uniformResourceIdentifier [6]
 * IA5String, iPAddress [7] OCTET STRING, registeredID [8] OBJECT IDENTIFIER }. IA5String text is
 * read one octet per character, as before; its syntax is the caller's to check.
 */
function generalName(reader: DerReader, element: DerElement): GeneralName {
  switch (element.tag) {
    case contextTag(0, true): {
      // OtherName ::= [0] IMPLICIT SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
      const items = reader.children(element);
      if (items.length !== 2) throw new DerError('malformed', 'malformed otherName');
      const otherNameType = reader.objectIdentifier(required(items, 0));
      const explicitValue = required(items, 1);
      if (explicitValue.tag !== contextTag(0, true)) throw new DerError('malformed', 'malformed otherName');
      const otherNameValue = explicitInner(reader, explicitValue);
      reader.checkAny(otherNameValue);
      return { type: 'otherName', otherNameType, otherNameValue };
    }
    case contextTag(1, false):
      return { type: 'rfc822Name', text: reader.latin1(element) };
    case contextTag(2, false):
      return { type: 'dNSName', text: reader.latin1(element) };
    case contextTag(3, true):
      for (const child of reader.children(element)) reader.checkAny(child);
      return { type: 'x400Address' };
    case contextTag(4, true): {
      readName(reader, explicitInner(reader, element));
      return { type: 'directoryName' };
    }
    case contextTag(5, true):
      for (const child of reader.children(element)) reader.checkAny(child);
      return { type: 'ediPartyName' };
    case contextTag(6, false):
      return { type: 'uniformResourceIdentifier', text: reader.latin1(element) };
    case contextTag(7, false):
      return { type: 'iPAddress', octets: reader.content(element) };
    case contextTag(8, false):
      reader.oidText(element, true);
      return { type: 'registeredID' };
    default:
      throw new DerError('malformed', 'unsupported GeneralName');
  }
}

function readAttributeTypeAndValue(reader: DerReader, atv: DerElement): void {
  const items = sequenceItems(reader, atv, 2);
  reader.objectIdentifier(required(items, 0));
  attributeValueText(reader, required(items, 1));
}

/**
 * The extensions in the CSR's extensionRequest attribute. A request smuggling a second
 * extensionRequest, or a second set of extensions, past a reader that looks only at the first is
 * refused rather than half-read.
 */
function requestedExtensions(csr: DecodedCsr): Extension[] {
  const request = csr.extensionRequests[0];
  if (request === undefined) return [];
  if (csr.extensionRequests.length > 1) throw invalidCsr('the CSR has more than one extensionRequest attribute');
  if (request.valueCount !== 1) throw invalidCsr('the CSR extensionRequest attribute must hold exactly one set of extensions');
  if (request.extensions === undefined) throw invalidCsr('the CSR extensionRequest attribute is malformed');
  const seen = new Set<string>();
  for (const extension of request.extensions) {
    if (seen.has(extension.oid)) throw invalidCsr(`the CSR requests extension ${extension.oid} more than once`);
    seen.add(extension.oid);
  }
  return request.extensions;
}

/** Trustroot issues end-entity certificates only; a CSR asking for more is refused outright. */
function refuseCaRights(extensions: Extension[]): void {
  if (extensions.find((extension) => extension.oid === OID_BASIC_CONSTRAINTS)?.asksForCaRights) {
    throw new DomainError('policy_violation', 'the CSR asks for CA rights (basicConstraints cA=TRUE); Trustroot issues only end-entity certificates');
  }
  if (extensions.find((extension) => extension.oid === OID_KEY_USAGE)?.asksForCaRights) {
    throw new DomainError('policy_violation', 'the CSR asks for CA rights (keyUsage keyCertSign or cRLSign); Trustroot issues only end-entity certificates');
  }
}

/** DNS names, IP addresses and URIs from the requested subjectAltName, in the order requested. */
function requestedNames(extensions: Extension[]): SubjectAlternativeNames {
  const sans: SubjectAlternativeNames = { dnsNames: [], ipAddresses: [], uris: [] };
  const names = extensions.find((candidate) => candidate.oid === OID_SUBJECT_ALT_NAME)?.names ?? [];
  for (const name of names) {
    switch (name.type) {
      case 'dNSName':
        sans.dnsNames.push(name.text);
        break;
      case 'iPAddress': {
        // Only a 4- or 16-octet value is an IP address (8 and 32 octets are CIDR ranges).
        const address = ipAddressText(name.octets);
        if (address === undefined) throw invalidCsr('the CSR has a malformed IP address in its subject alternative names');
        sans.ipAddresses.push(address);
        break;
      }
      case 'uniformResourceIdentifier':
        sans.uris.push(name.text);
        break;
      default:
        throw new DomainError(
          'policy_violation',
          `the CSR asks for a ${generalNameType(name.type)} subject alternative name; Trustroot issues only DNS names, IP addresses and URIs`,
        );
    }
  }
  return sans;
}

function generalNameType(type: GeneralName['type']): string {
  switch (type) {
    case 'rfc822Name':
      return 'email (rfc822Name)';
    case 'directoryName':
    case 'registeredID':
    case 'otherName':
      return type;
    default:
      return 'unsupported';
  }
}

/**
 * An IPv4 address in dotted decimal, or an IPv6 address as @peculiar/x509 rendered it: lower-case
 * hex groups without leading zeros, the first longest run of two or more zero groups as `::`.
 */
export function ipAddressText(octets: Uint8Array): string | undefined {
  if (octets.length === 4) return Array.from(octets).join('.');
  if (octets.length !== 16) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((octets[i] ?? 0) << 8) | (octets[i + 1] ?? 0)).toString(16));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const text = bestLength > 1 ? `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}` : groups.join(':');
  return isIP(text) === 6 ? text : undefined;
}
