/**
 * Why a certificate was revoked, as Trustroot records it. A subset of RFC 5280's CRLReason:
 * certificateHold (6) is left out because holds are not offered (a revocation is final),
 * removeFromCRL (8) only has meaning in delta CRLs, which Trustroot does not publish, and
 * aACompromise (10) concerns attribute certificates.
 */
export type RevocationReasonName =
  | 'unspecified'
  | 'keyCompromise'
  | 'caCompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'privilegeWithdrawn';

export const REVOCATION_REASONS: readonly RevocationReasonName[] = [
  'unspecified',
  'keyCompromise',
  'caCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
];

/** RFC 5280 5.3.1 CRLReason ENUMERATED values. RFC 5280 spells caCompromise "cACompromise". */
const REASON_CODES: Readonly<Record<RevocationReasonName, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
};

/** The RFC 5280 CRLReason code of a reason (an integer in 0..10; 7 is unused by the RFC). */
export function reasonCode(name: RevocationReasonName): number {
  return REASON_CODES[name];
}

export function isRevocationReasonName(value: string): value is RevocationReasonName {
  return (REVOCATION_REASONS as readonly string[]).includes(value);
}
