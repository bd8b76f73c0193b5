import { x509 } from './crypto-provider.ts';
import { keyAlgorithmParameters, type KeyAlgorithmName } from '../key-algorithm.ts';

/** An issuer able to sign: its certificate and a handle on its private key (never exported). */
export interface SigningIssuer {
  name: string;
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  keyAlgorithm: KeyAlgorithmName;
}

/** Where relying parties fetch the issuer's certificate, CRL and OCSP answers. */
export interface IssuerLocations {
  caIssuersUrl: string;
  crlUrl: string;
  /** Omitted until the OCSP responder exists for this issuer. */
  ocspUrl?: string;
}

interface ValidityWindow {
  /** Hex serial as produced by `generateSerialNumber` (positive, minimal DER). */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaCertificateParams extends ValidityWindow {
  subjectDn: string;
  subjectPublicKey: CryptoKey;
  pathLength?: number;
  /** The parent issuer; absent for a self-signed root, which then signs with `selfSigningKey`. */
  parent?: { issuer: SigningIssuer; locations: IssuerLocations };
  selfSigningKey?: { privateKey: CryptoKey; keyAlgorithm: KeyAlgorithmName };
}

/**
 * Builds and signs a CA certificate: critical basicConstraints CA:TRUE (with pathLen when
 * given), critical keyUsage keyCertSign + cRLSign (+ digitalSignature, so the CA can sign OCSP
 * responses itself), SKI, and for a subordinate CA: AKI, CRL distribution point and caIssuers.
 * Every security field is passed explicitly; no library default is relied on.
 */
export async function buildCaCertificate(params: CaCertificateParams): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, params.pathLength, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(params.subjectPublicKey),
  ];
  if (params.parent) {
    const { issuer, locations } = params.parent;
    extensions.push(
      await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey),
      new x509.CRLDistributionPointsExtension([locations.crlUrl]),
      new x509.AuthorityInfoAccessExtension({ caIssuers: locations.caIssuersUrl }),
    );
    return x509.X509CertificateGenerator.create({
      serialNumber: params.serialHex,
      subject: params.subjectDn,
      // The parent's encoded Name, not a re-parsed string, so that chain matching is byte-exact.
      issuer: issuer.certificate.subjectName,
      notBefore: params.notBefore,
      notAfter: params.notAfter,
      publicKey: params.subjectPublicKey,
      signingKey: issuer.privateKey,
      signingAlgorithm: keyAlgorithmParameters(issuer.keyAlgorithm).signingParams,
      extensions,
    });
  }
  if (!params.selfSigningKey) {
    throw new Error('a root certificate needs its own private key to sign itself');
  }
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(params.subjectPublicKey));
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: params.serialHex,
    name: params.subjectDn,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    keys: { publicKey: params.subjectPublicKey, privateKey: params.selfSigningKey.privateKey },
    signingAlgorithm: keyAlgorithmParameters(params.selfSigningKey.keyAlgorithm).signingParams,
    extensions,
  });
}

export interface SubjectAlternativeNames {
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
}

export interface LeafCertificateParams extends ValidityWindow {
  /** Optional subject; SAN is authoritative. */
  commonName?: string;
  sans: SubjectAlternativeNames;
  subjectPublicKey: CryptoKey;
  keyUsages: x509.KeyUsageFlags;
  extendedKeyUsages: string[];
  issuer: SigningIssuer;
  locations: IssuerLocations;
}

/**
 * Builds and signs an end-entity certificate: critical basicConstraints CA:FALSE, critical
 * keyUsage, EKU, SAN (critical when the subject is empty, as RFC 5280 4.2.1.6 requires),
 * SKI, AKI, CRL distribution point and AIA.
 */
export async function buildLeafCertificate(params: LeafCertificateParams): Promise<x509.X509Certificate> {
  const generalNames: x509.JsonGeneralName[] = [
    ...params.sans.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...params.sans.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
    ...params.sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  const subject = params.commonName ? `CN=${escapeDnValue(params.commonName)}` : '';
  const aia: { caIssuers: string; ocsp?: string } = { caIssuers: params.locations.caIssuersUrl };
  if (params.locations.ocspUrl) aia.ocsp = params.locations.ocspUrl;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(params.keyUsages, true),
    new x509.ExtendedKeyUsageExtension(params.extendedKeyUsages, false),
    new x509.SubjectAlternativeNameExtension(generalNames, subject === ''),
    await x509.SubjectKeyIdentifierExtension.create(params.subjectPublicKey),
    await x509.AuthorityKeyIdentifierExtension.create(params.issuer.certificate.publicKey),
    new x509.CRLDistributionPointsExtension([params.locations.crlUrl]),
    new x509.AuthorityInfoAccessExtension(aia),
  ];
  return x509.X509CertificateGenerator.create({
    serialNumber: params.serialHex,
    subject,
    issuer: params.issuer.certificate.subjectName,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    publicKey: params.subjectPublicKey,
    signingKey: params.issuer.privateKey,
    signingAlgorithm: keyAlgorithmParameters(params.issuer.keyAlgorithm).signingParams,
    extensions,
  });
}

/** Escapes an RFC 4514 attribute value. */
function escapeDnValue(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
}
