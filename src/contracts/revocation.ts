/** Wire types of revocation, as `openapi.yaml` defines them (RevocationRequest and the revoke responses). */

/** RFC 5280 CRLReason names Trustroot accepts (certificateHold is not offered). */
export type RevocationReasonDto =
  | 'unspecified'
  | 'keyCompromise'
  | 'caCompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'privilegeWithdrawn';

/** Every reason of {@link RevocationReasonDto}, in the contract's order (for validation and help texts). */
export const REVOCATION_REASONS: readonly RevocationReasonDto[] = [
  'unspecified',
  'keyCompromise',
  'caCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
];

/** Body of `POST /v1/certificates/{serial}/revoke` and `POST /v1/services/{name}/revoke`. */
export interface RevocationRequestDto {
  reason: RevocationReasonDto;
  /** ISO 8601; when the key is known or suspected to have been compromised (not in the future). */
  invalidityDate?: string;
}

/** Body of `POST /v1/keys/{spkiSha256}/revoke`: the reason is always keyCompromise. */
export interface KeyRevocationRequestDto {
  invalidityDate?: string;
}

/** Response of `POST /v1/services/{name}/revoke`. */
export interface ServiceRevocationDto {
  service: string;
  disabled: boolean;
  /** Serials revoked by this call. */
  revoked: string[];
  alreadyRevoked: string[];
  bootstrapTokensRevoked: number;
}

/** Response of `POST /v1/keys/{spkiSha256}/revoke`. */
export interface KeyRevocationDto {
  spkiSha256: string;
  blocked: boolean;
  revoked: string[];
  alreadyRevoked: string[];
}
