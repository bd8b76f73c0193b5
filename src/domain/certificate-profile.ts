import type { IssuerName } from './ca-hierarchy.ts';
import type { KeyAlgorithmName } from './key-algorithm.ts';
import type { ExpiryThresholds } from './lifecycle/expiry-thresholds.ts';
import type { NamePolicy } from './name-policy.ts';

/** Key usages a profile may grant (RFC 5280 4.2.1.3), by name. */
export type KeyUsageName = 'digitalSignature' | 'keyEncipherment' | 'keyAgreement';

/** Extended key usages a profile may grant (RFC 5280 4.2.1.12), by name. */
export type ExtendedKeyUsageName = 'serverAuth' | 'clientAuth';

/** A kind of certificate Trustroot issues, validated at start-up. */
export interface CertificateProfile {
  name: string;
  issuer: IssuerName;
  /** Validity when the caller asks for none, in seconds. */
  defaultTtlSeconds: number;
  /** Longest validity a caller may ask for, in seconds; longer requests are clamped. */
  maxTtlSeconds: number;
  keyUsages: KeyUsageName[];
  extendedKeyUsages: ExtendedKeyUsageName[];
  allowedKeyAlgorithms: KeyAlgorithmName[];
  /** Whether Trustroot may generate the key pair (only for test certificates by default). */
  serverSideKeyGeneration: boolean;
  /**
   * A name policy of the profile itself; when set, certificates of this profile need no
   * registered service (the `test` profile: names under `.test` and `localhost`).
   */
  namePolicy?: NamePolicy;
  /** When certificates of this profile are flagged before expiry; default TRUSTROOT_EXPIRY_THRESHOLDS. */
  expiryThresholds?: ExpiryThresholds;
}
