import type { KeyAlgorithmName } from '../key-algorithm.ts';
import type { SubjectAlternativeNames } from './certificate-builder.ts';

/**
 * A subject key as its DER SubjectPublicKeyInfo. An `x509.PublicKey` is one; the issuance path
 * passes the CSR's bytes alone, since parsing them into an `x509.PublicKey` (~70 µs) served
 * nothing on that path but the bytes.
 */
export interface EncodedPublicKey {
  readonly rawData: ArrayBuffer;
}

/**
 * An encoded Extension and its extnID. An `x509.Extension` is one; the fast leaf path passes the
 * encoder's DER with the OID read back from it, without building asn1js objects nobody reads.
 */
export interface EncodedExtension {
  readonly type: string;
  readonly rawData: ArrayBuffer;
}

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
  subjectPublicKey: EncodedPublicKey;
  keyAlgorithm: KeyAlgorithmName;
  /** Extensions in the order they will be encoded. */
  extensions: EncodedExtension[];
}
