import { DerError, DerReader, TAG } from '../csr/der-reader.ts';
import type { x509 } from '../x509/crypto-provider.ts';
import type { CertificateTemplate, EncodedPublicKey } from '../x509/certificate-template.ts';

/** Decoded extensions, keyed by class and DER; least recently used first. */
const decoded = new Map<string, x509.Extension>();
/**
 * Profile extensions (basicConstraints, keyUsage, EKU, CDP, AIA, AKI) are the same bytes on
 * every certificate of a profile, and several rules read the SAN: decoding each distinct DER
 * once saves most of lint's ASN.1 work. Bounded, so per-certificate values (SAN, SKI) come and go.
 */
const DECODED_CACHE_SIZE = 128;

function decodeOnce<T extends x509.Extension>(raw: ArrayBuffer, type: new (raw: BufferSource) => T): T {
  const key = `${type.name}:${Buffer.from(raw).toString('base64')}`;
  const hit = decoded.get(key);
  if (hit !== undefined) {
    decoded.delete(key);
    decoded.set(key, hit);
    return hit as T;
  }
  const extension = new type(raw);
  decoded.set(key, extension);
  if (decoded.size > DECODED_CACHE_SIZE) decoded.delete(decoded.keys().next().value as string);
  return extension;
}

/**
 * The template's first extension with `oid`, decoded from its DER as `type`, or undefined.
 * Decoding the bytes (rather than trusting an object's fields or its class) makes a rule check
 * exactly what will be signed, whichever way the extension was built; equal bytes decode to
 * equal values, so a decoding is shared by every template carrying the same DER. Rules only
 * read what they get. Throws when the bytes do not decode; `lintCertificate` turns that into a
 * failure of the rule.
 */
export function templateExtension<T extends x509.Extension>(
  template: CertificateTemplate,
  oid: string,
  type: new (raw: BufferSource) => T,
): T | undefined {
  const extension = template.extensions.find((candidate) => candidate.type === oid);
  return extension === undefined ? undefined : decodeOnce(extension.rawData, type);
}

/** What lint reads of a SubjectPublicKeyInfo. */
export interface TemplateKeyInfo {
  /** The AlgorithmIdentifier's OID, dotted (e.g. 1.2.840.10045.2.1 for EC). */
  algorithmOid: string;
  /** The subjectPublicKey BIT STRING's octets, without its unused-bits octet (what key identifiers hash). */
  keyBits: Uint8Array;
}

/** Decodings of template keys; keyed by the key object, so each template's key is decoded once. */
const decodedKeys = new WeakMap<EncodedPublicKey, TemplateKeyInfo>();

/**
 * The template's SubjectPublicKeyInfo, read from its DER (what will be signed) with the strict
 * DER reader the CSR parser uses: a few microseconds, where a schema-driven ASN.1 decoding cost
 * ~3 % of the server's time per certificate. Several rules read it; they share one reading.
 * Throws on bytes that are not a DER SubjectPublicKeyInfo; `lintCertificate` turns that into a
 * failure of the rule.
 */
export function templatePublicKeyInfo(template: CertificateTemplate): TemplateKeyInfo {
  const key = template.subjectPublicKey;
  let info = decodedKeys.get(key);
  if (info === undefined) {
    info = readPublicKeyInfo(new Uint8Array(key.rawData));
    decodedKeys.set(key, info);
  }
  return info;
}

function readPublicKeyInfo(der: Uint8Array): TemplateKeyInfo {
  const reader = new DerReader(der, { strict: true });
  const outer = reader.readExactly(0, der.length);
  reader.expect(outer, TAG.SEQUENCE, 'a SubjectPublicKeyInfo');
  const [algorithm, key, ...rest] = reader.children(outer);
  if (algorithm === undefined || key === undefined || rest.length > 0) throw new DerError('malformed', 'a SubjectPublicKeyInfo has an algorithm and a key, nothing else');
  reader.expect(algorithm, TAG.SEQUENCE, 'an AlgorithmIdentifier');
  const [oid] = reader.children(algorithm);
  if (oid === undefined) throw new DerError('malformed', 'an AlgorithmIdentifier starts with an OID');
  reader.expect(key, TAG.BIT_STRING, 'the subjectPublicKey BIT STRING');
  if (key.contentEnd - key.contentStart < 1 || der[key.contentStart] !== 0) throw new DerError('malformed', 'a public key is a whole number of octets');
  return { algorithmOid: reader.objectIdentifier(oid), keyBits: der.subarray(key.contentStart + 1, key.contentEnd) };
}
