import type { ExtendedKeyUsageName, KeyUsageName } from '../certificate-profile.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../key-algorithm.ts';
import type { IssuerLocations, SigningIssuer, SubjectAlternativeNames } from './certificate-builder.ts';
import type { CertificateTemplate } from './certificate-template.ts';
import { x509 } from './crypto-provider.ts';

const KEY_USAGE_FLAGS: Record<KeyUsageName, x509.KeyUsageFlags> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
};

const EKU_OIDS: Record<ExtendedKeyUsageName, string> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
};

export function keyUsageFlags(usages: readonly KeyUsageName[]): x509.KeyUsageFlags {
  return usages.reduce<number>((flags, usage) => flags | KEY_USAGE_FLAGS[usage], 0) as x509.KeyUsageFlags;
}

export function extendedKeyUsageOids(usages: readonly ExtendedKeyUsageName[]): string[] {
  return usages.map((usage) => EKU_OIDS[usage]);
}

/** Escapes an RFC 4514 attribute value. */
function escapeDnValue(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}

export interface LeafTemplateParams {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** Optional subject CN; SAN is authoritative. */
  commonName?: string;
  sans: SubjectAlternativeNames;
  subjectPublicKey: x509.PublicKey;
  keyAlgorithm: KeyAlgorithmName;
  keyUsages: readonly KeyUsageName[];
  extendedKeyUsages: readonly ExtendedKeyUsageName[];
  issuer: SigningIssuer;
  locations: IssuerLocations;
}

/**
 * The reference leaf path, built on @peculiar/x509's generator. Issuance uses the fast path
 * (fast-leaf.ts), which test/unit/domain/x509/fast-leaf.test.ts proves byte-for-byte equal to
 * this one; keep the two in step.
 *
 * Phase one of issuance (Boulder's Prepare): decides every field and encodes every extension
 * of an end-entity certificate without signing it. Critical basicConstraints CA:FALSE,
 * critical keyUsage, EKU, SAN (critical when the subject is empty, RFC 5280 4.2.1.6), SKI,
 * AKI, CRL distribution point and AIA.
 */
export async function prepareLeafCertificate(params: LeafTemplateParams): Promise<CertificateTemplate> {
  const generalNames: x509.JsonGeneralName[] = [
    ...params.sans.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...params.sans.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...params.sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  const subjectDn = params.commonName ? `CN=${escapeDnValue(params.commonName)}` : '';
  const aia: { caIssuers: string; ocsp?: string } = { caIssuers: params.locations.caIssuersUrl };
  if (params.locations.ocspUrl) aia.ocsp = params.locations.ocspUrl;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsageFlags(params.keyUsages), true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsageOids(params.extendedKeyUsages), false),
    new x509.SubjectAlternativeNameExtension(generalNames, subjectDn === ''),
    await x509.SubjectKeyIdentifierExtension.create(params.subjectPublicKey),
    await x509.AuthorityKeyIdentifierExtension.create(params.issuer.certificate.publicKey),
    new x509.CRLDistributionPointsExtension([params.locations.crlUrl]),
    new x509.AuthorityInfoAccessExtension(aia),
  ];
  return {
    serialHex: params.serialHex,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    subjectDn,
    sans: params.sans,
    subjectPublicKey: params.subjectPublicKey,
    keyAlgorithm: params.keyAlgorithm,
    extensions,
  };
}

/**
 * Phase two (Boulder's Issue): the only step that uses the issuer's private key. Signs exactly
 * the template's fields and extensions.
 */
export function signCertificateTemplate(template: CertificateTemplate, issuer: SigningIssuer): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: template.serialHex,
    subject: template.subjectDn,
    // The issuer's encoded Name, not a re-parsed string, so that chain matching is byte-exact.
    issuer: issuer.certificate.subjectName,
    notBefore: template.notBefore,
    notAfter: template.notAfter,
    publicKey: template.subjectPublicKey instanceof x509.PublicKey ? template.subjectPublicKey : new x509.PublicKey(template.subjectPublicKey.rawData),
    signingKey: issuer.privateKey,
    signingAlgorithm: keyAlgorithmParameters(issuer.keyAlgorithm).signingParams,
    extensions: template.extensions.map((extension) => (extension instanceof x509.Extension ? extension : new x509.Extension(extension.rawData))),
  });
}
