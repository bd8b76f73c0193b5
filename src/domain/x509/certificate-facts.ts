import { sha256Hex } from '../sha256-hex.ts';
import { x509 } from './crypto-provider.ts';
import type { SubjectAlternativeNames } from './certificate-builder.ts';

/** What the inventory records about a certificate, read from the certificate itself. */
export interface CertificateFacts {
  serialHex: string;
  subjectDn: string;
  commonName: string | undefined;
  sans: SubjectAlternativeNames;
  /** SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex. */
  spkiSha256: string;
  /** SHA-256 of the whole certificate DER, lower-case hex. */
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  der: Uint8Array;
}

/** Reads the facts the inventory stores from a parsed certificate. */
export function certificateFacts(certificate: x509.X509Certificate): CertificateFacts {
  const sanExtension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const names = sanExtension?.names.items ?? [];
  const commonName = certificate.subjectName.getField('CN')[0];
  return {
    serialHex: certificate.serialNumber.toLowerCase().replace(/^0+/, ''),
    subjectDn: certificate.subject,
    commonName,
    sans: {
      dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
      ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
      uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    },
    spkiSha256: sha256Hex(certificate.publicKey.rawData),
    fingerprintSha256: sha256Hex(certificate.rawData),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    der: new Uint8Array(certificate.rawData),
  };
}

/** PEM texts of CA certificates, which every issuance answer carries (the chain). */
const pemOfCertificate = new WeakMap<x509.X509Certificate, string>();

/** PEM of one certificate, with a trailing newline; computed once per certificate object. */
export function certificatePem(certificate: x509.X509Certificate): string {
  let pem = pemOfCertificate.get(certificate);
  if (pem === undefined) {
    pem = derCertificatePem(new Uint8Array(certificate.rawData));
    pemOfCertificate.set(certificate, pem);
  }
  return pem;
}

/**
 * PEM of one DER certificate, with a trailing newline: base64 in lines of 64 characters (RFC
 * 7468), the text `@peculiar/x509`'s PemConverter writes, without its byte-by-byte base64.
 */
export function derCertificatePem(der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/.{64}(?!$)/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
}
