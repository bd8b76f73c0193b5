import type { ExtendedKeyUsageName, KeyUsageName } from '../certificate-profile.ts';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import type { IssuerLocations, SubjectAlternativeNames } from './certificate-builder.ts';
import type { CertificateFacts } from './certificate-facts.ts';
import { sha256Hex } from '../sha256-hex.ts';
import { DerReader, TAG } from '../csr/der-reader.ts';
import type { CertificateTemplate, EncodedExtension, EncodedPublicKey } from './certificate-template.ts';
import type { DerBytes } from './der-writer.ts';
import {
  encodeLeafExtensions,
  encodeLeafTbs,
  readSubjectAltNames,
  signLeafTbs,
  type LeafIssuerParts,
} from './leaf-der-encoder.ts';

/**
 * The issuance fast path: the same two phases and the same certificate bytes as
 * `prepareLeafCertificate` / `signCertificateTemplate` / `certificateFacts`, but encoded by
 * leaf-der-encoder.ts and signed with Node's native `crypto.sign`, so no certificate is built
 * or re-parsed through asn1js. Both phases are synchronous.
 */

export interface FastLeafParams {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** Optional subject CN; SAN is authoritative. */
  commonName?: string | undefined;
  sans: SubjectAlternativeNames;
  /** The subject key: its DER SubjectPublicKeyInfo, bare or as an EncodedPublicKey (such as an x509.PublicKey). */
  subjectPublicKey: EncodedPublicKey | Uint8Array;
  keyAlgorithm: KeyAlgorithmName;
  keyUsages: readonly KeyUsageName[];
  extendedKeyUsages: readonly ExtendedKeyUsageName[];
  locations: IssuerLocations;
}

/**
 * A CertificateTemplate the fast path can sign. `extensions` wrap the exact Extension DER that
 * will be signed, so lint (which decodes those bytes) checks what is issued; `commonName` is the
 * subject's value, from which `subjectDn` was rendered.
 */
export interface FastLeafTemplate extends CertificateTemplate {
  commonName: string | undefined;
}

/** RFC 4514 escaping of the template's `subjectDn`, the same as `prepareLeafCertificate`'s. */
function templateSubjectDn(commonName: string | undefined): string {
  if (!commonName) return '';
  const escaped = commonName.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
  return `CN=${escaped}`;
}

/**
 * The subject DN a parsed certificate reports (`X509Certificate#subject`): @peculiar/x509's
 * `Name#toString` escaping, which leaves `=` alone and hex-escapes only the first CR, LF or TAB.
 */
function renderedSubjectDn(commonName: string | undefined): string {
  if (!commonName) return '';
  const escaped = commonName
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (character) => `\\${Buffer.from(character, 'utf8').toString('hex').toUpperCase()}`);
  return `CN=${escaped}`;
}

/**
 * Phase one (Boulder's Prepare), synchronous: decides every field and encodes every extension
 * with the fast encoder, for the issuer whose `parts` are given. Throws on inputs the encoder
 * refuses (non-ASCII names, IP literals it cannot encode exactly, malformed SPKI).
 */
export function prepareFastLeaf(params: FastLeafParams, parts: LeafIssuerParts): FastLeafTemplate {
  // The encoder reads the SPKI's structure (for the SKI) and refuses a malformed one.
  const subjectPublicKey: EncodedPublicKey =
    params.subjectPublicKey instanceof Uint8Array ? { rawData: params.subjectPublicKey.slice().buffer } : params.subjectPublicKey;
  const extensionsDer = encodeLeafExtensions(
    {
      commonName: params.commonName,
      sans: params.sans,
      subjectPublicKeyInfo: new Uint8Array(subjectPublicKey.rawData),
      keyUsages: params.keyUsages,
      extendedKeyUsages: params.extendedKeyUsages,
      locations: params.locations,
    },
    parts,
  );
  return {
    serialHex: params.serialHex,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    subjectDn: templateSubjectDn(params.commonName),
    commonName: params.commonName || undefined,
    sans: params.sans,
    subjectPublicKey,
    keyAlgorithm: params.keyAlgorithm,
    extensions: extensionsDer.map(extensionOf),
  };
}

/**
 * An encoded extension with its extnID read back from the bytes (so lint, which finds
 * extensions by that OID and decodes their bytes, checks exactly what will be signed).
 */
function extensionOf(der: DerBytes): EncodedExtension {
  const reader = new DerReader(der, { strict: true });
  const outer = reader.readExactly(0, der.length);
  reader.expect(outer, TAG.SEQUENCE, 'an Extension');
  const [extnId] = reader.children(outer);
  if (extnId === undefined) throw new Error('the encoder produced an empty Extension');
  return { type: reader.objectIdentifier(extnId), rawData: der.slice().buffer };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** A date as a certificate stores it: whole seconds, the milliseconds dropped. */
function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * Phase two (Boulder's Issue), synchronous: the only step that uses the issuer's key. Encodes
 * the template's own fields and the exact bytes of its extensions, signs natively, and returns
 * the DER with the facts `certificateFacts` would read from it, computed without parsing it.
 * Refuses a template prepared for another issuer (its AKI is not this issuer's) or whose
 * `subjectDn` no longer matches its `commonName`.
 */
export function signFastLeaf(template: FastLeafTemplate, parts: LeafIssuerParts): { der: DerBytes; facts: CertificateFacts } {
  if (template.subjectDn !== templateSubjectDn(template.commonName)) {
    throw new Error('the template subjectDn does not match its commonName');
  }
  const extensionsDer = template.extensions.map((extension) => new Uint8Array(extension.rawData));
  if (!extensionsDer.some((der) => equalBytes(der, parts.authorityKeyIdentifierDer))) {
    throw new Error('the template was not prepared for this issuer: its authorityKeyIdentifier differs');
  }
  const subjectPublicKeyInfo = new Uint8Array(template.subjectPublicKey.rawData);
  const tbs = encodeLeafTbs(
    {
      serialHex: template.serialHex,
      notBefore: template.notBefore,
      notAfter: template.notAfter,
      commonName: template.commonName,
      subjectPublicKeyInfo,
    },
    extensionsDer,
    parts,
  );
  const der = signLeafTbs(tbs, parts);
  return {
    der,
    facts: {
      serialHex: template.serialHex.toLowerCase().replace(/^0+/, ''),
      subjectDn: renderedSubjectDn(template.commonName),
      commonName: template.commonName || undefined,
      sans: readSubjectAltNames(extensionsDer),
      spkiSha256: sha256Hex(subjectPublicKeyInfo),
      fingerprintSha256: sha256Hex(der),
      notBefore: wholeSeconds(template.notBefore),
      notAfter: wholeSeconds(template.notAfter),
      der,
    },
  };
}
