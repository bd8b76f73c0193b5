// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/** The names a certificate is for. */
export interface CertificateNames {
  /** The subject's CN, if any. */
  commonName: string | undefined;
  /** DNS names, IP addresses and URIs of the subjectAltName extension, in order. */
  sans: string[];
}

/**
 * Reads the CN and the DNS, IP and URI subject alternative names of a PEM certificate — what a
 * re-keying renewal must ask for again (Trustroot renews exactly the current names).
 */
export function certificateNames(certificatePem: string): CertificateNames {
  const certificate = new x509.X509Certificate(certificatePem);
  const commonName = certificate.subjectName.getField('CN')[0];
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const sans = (extension?.names.items ?? [])
    .filter((name) => name.type === 'dns' || name.type === 'ip' || name.type === 'url')
    .map((name) => name.value);
  return { commonName, sans };
}
