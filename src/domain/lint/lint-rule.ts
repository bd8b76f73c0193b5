import type { CertificateProfile } from '../certificate-profile.ts';
import type { x509 } from '../x509/crypto-provider.ts';
import type { CertificateTemplate } from '../x509/certificate-template.ts';

/** What a rule may consult besides the template: the issuer that will sign it and the profile. */
export interface LintContext {
  issuerCertificate: x509.X509Certificate;
  profile: Pick<CertificateProfile, 'keyUsages' | 'extendedKeyUsages'>;
}

/**
 * One pre-issuance check of a to-be-signed certificate. Rules are pure and synchronous, read the
 * template's encoded extensions (not the values they were built from), and each checks one thing,
 * so that a failure names exactly what is wrong.
 */
export interface LintRule {
  /** Stable kebab-case id; also the rule's file name. */
  id: string;
  /** The RFC or profile clause the rule enforces. */
  source: string;
  /** A failure message, or undefined when the template passes. */
  check(template: CertificateTemplate, context: LintContext): string | undefined;
}
