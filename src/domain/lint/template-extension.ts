import { id_ce_subjectAltName, id_ce_subjectKeyIdentifier } from '@peculiar/asn1-x509';
import { DerError, DerReader, TAG, type DerElement } from '../csr/der-reader.ts';
import { generalNames, ipAddressText, type GeneralName } from '../csr/parse-csr.ts';
import type { x509 } from '../x509/crypto-provider.ts';
import type { CertificateTemplate, EncodedExtension, EncodedPublicKey } from '../x509/certificate-template.ts';

/** Decoded extensions, keyed by class and DER; least recently used first. */
const decoded = new Map<string, x509.Extension>();
/**
 * Profile extensions (basicConstraints, keyUsage, EKU, CDP, AIA, AKI) are the same bytes on
 * every certificate of a profile: decoding each distinct DER once saves most of lint's ASN.1
 * work. The per-certificate ones (SAN, SKI) are read with the strict DER reader instead (see
 * `templateSubjectAltName`), so what passes through here is a handful of entries.
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

/** One subjectAltName entry as lint sees it: the three types Trustroot issues, or what else it is. */
export type SanEntry = { type: 'dns' | 'ip' | 'url'; value: string } | { type: 'other'; value: string };

export interface TemplateSubjectAltName {
  critical: boolean;
  names: SanEntry[];
}

export interface TemplateKeyIdentifier {
  critical: boolean;
  /** The keyIdentifier's octets, lower-case hex. */
  keyId: string;
}

/** Readings of per-certificate extensions, keyed by the extension object: several rules share one. */
const readSans = new WeakMap<EncodedExtension, TemplateSubjectAltName>();
const readKeyIds = new WeakMap<EncodedExtension, TemplateKeyIdentifier>();

/**
 * The template's subjectAltName, read from its DER (what will be signed) with the strict DER
 * reader the CSR parser uses. Every certificate has its own SAN, so no cache of decodings helps
 * it; `@peculiar/x509`'s schema-driven decoding of it was ~6 % of the server's time per
 * certificate, this reading a few microseconds. The decoder is still not the encoder's: the
 * leaf's bytes come from `leaf-der-encoder.ts`'s writer, this reads them back independently.
 * Throws on bytes that are not a DER Extension holding GeneralNames.
 */
export function templateSubjectAltName(template: CertificateTemplate): TemplateSubjectAltName | undefined {
  return readOnce(template, id_ce_subjectAltName, readSans, ({ reader, critical, value }) => ({ critical, names: generalNames(reader, value).map(sanEntry) }));
}

/** The template's subjectKeyIdentifier (KeyIdentifier ::= OCTET STRING), read as the SAN is. */
export function templateSubjectKeyIdentifier(template: CertificateTemplate): TemplateKeyIdentifier | undefined {
  return readOnce(template, id_ce_subjectKeyIdentifier, readKeyIds, ({ reader, critical, value }) => ({
    critical,
    keyId: Buffer.from(reader.octetString(value)).toString('hex'),
  }));
}

/** The template's first extension with `oid`, read by `read` the first time a rule asks for it. */
function readOnce<T extends object>(
  template: CertificateTemplate,
  oid: string,
  readings: WeakMap<EncodedExtension, T>,
  read: (extension: ReadExtension) => T,
): T | undefined {
  const extension = template.extensions.find((candidate) => candidate.type === oid);
  if (extension === undefined) return undefined;
  let reading = readings.get(extension);
  if (reading === undefined) {
    reading = read(readExtension(extension));
    readings.set(extension, reading);
  }
  return reading;
}

interface ReadExtension {
  reader: DerReader;
  critical: boolean;
  /** The one element the extnValue OCTET STRING holds. */
  value: DerElement;
}

/**
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue
 * OCTET STRING }, and the one element the extnValue holds. In DER a FALSE critical is left out.
 */
function readExtension(extension: EncodedExtension): ReadExtension {
  const der = new Uint8Array(extension.rawData);
  const reader = new DerReader(der, { strict: true });
  const outer = reader.readExactly(0, der.length);
  reader.expect(outer, TAG.SEQUENCE, 'an Extension');
  const items = reader.children(outer);
  if (items.length < 2 || items.length > 3) throw new DerError('malformed', 'an Extension has an extnID, a critical flag and an extnValue');
  const [, flag, octets] = items.length === 3 ? items : [items[0], undefined, items[1]];
  const critical = flag !== undefined && reader.boolean(flag);
  if (flag !== undefined && !critical) throw new DerError('not-der', 'a FALSE critical flag is the default and is left out in DER');
  if (octets === undefined) throw new DerError('malformed', 'an Extension has an extnValue');
  reader.expect(octets, TAG.OCTET_STRING, 'the extnValue OCTET STRING');
  return { reader, critical, value: reader.readExactly(octets.contentStart, octets.contentEnd, octets.depth + 1) };
}

function sanEntry(name: GeneralName): SanEntry {
  switch (name.type) {
    case 'dNSName':
      return { type: 'dns', value: name.text };
    case 'uniformResourceIdentifier':
      return { type: 'url', value: name.text };
    case 'iPAddress': {
      const address = ipAddressText(name.octets);
      if (address === undefined) throw new DerError('malformed', 'an iPAddress name is a 4- or 16-octet address');
      return { type: 'ip', value: address };
    }
    case 'rfc822Name':
      return { type: 'other', value: 'email (rfc822Name)' };
    default:
      return { type: 'other', value: name.type };
  }
}
