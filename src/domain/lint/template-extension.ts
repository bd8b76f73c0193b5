import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
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

/** Decodings of template keys; keyed by the key object, so each template's key is decoded once. */
const decodedKeys = new WeakMap<EncodedPublicKey, SubjectPublicKeyInfo>();

/**
 * The template's SubjectPublicKeyInfo, decoded from its DER (what will be signed). Several rules
 * read it; they share one decoding and only read it. Throws when the bytes do not decode;
 * `lintCertificate` turns that into a failure of the rule.
 */
export function templatePublicKeyInfo(template: CertificateTemplate): SubjectPublicKeyInfo {
  const key = template.subjectPublicKey;
  let info = decodedKeys.get(key);
  if (info === undefined) {
    info = AsnConvert.parse(key.rawData, SubjectPublicKeyInfo);
    decodedKeys.set(key, info);
  }
  return info;
}
