import type { x509 } from './crypto-provider.ts';
import type { KeyAlgorithmName } from '../key-algorithm.ts';
import type { SubjectAlternativeNames } from './certificate-builder.ts';

/**
 * A to-be-signed end-entity certificate: every field decided and every extension already
 * encoded, but not signed. The two-phase CA lints this, then signs exactly this.
 */
export interface CertificateTemplate {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 4514 subject; '' for an empty subject (SAN then carries the identity). */
  subjectDn: string;
  sans: SubjectAlternativeNames;
  subjectPublicKey: x509.PublicKey;
  keyAlgorithm: KeyAlgorithmName;
  /** Extensions in the order they will be encoded. */
  extensions: x509.Extension[];
}
