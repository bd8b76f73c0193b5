/**
 * Request bodies and query parameters of the services, tokens and certificates routes, as
 * `openapi.yaml` defines them (components.schemas and the operations' parameters).
 */

/** Seconds, or a duration such as `15m`, `24h`, `7d` (also `1h30m`). */
export type TtlDto = number | string;

/** Key algorithms for server-side key generation (`generateKey`). */
export type KeyAlgorithmDto = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export type ApiTokenRoleDto = 'admin' | 'security' | 'ci' | 'auditor';

/** Body of `POST /v1/services`. */
export interface ServiceCreateDto {
  /** `^[a-z][a-z0-9-]{0,62}$` */
  name: string;
  owner: string;
  contact?: string;
  webhookUrl?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  /** Default `peer`. */
  profiles?: string[];
}

/** Body of `PATCH /v1/services/{name}` (at least one member). */
export interface ServiceUpdateDto {
  owner?: string;
  contact?: string;
  webhookUrl?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  uris?: string[];
  profiles?: string[];
  enabled?: boolean;
}

/** Body of `POST /v1/services/{name}/bootstrap-tokens`. */
export interface BootstrapTokenRequestDto {
  /** Default 15 minutes, at most 24 hours. */
  ttl?: TtlDto;
  /** Narrow the token to these names. */
  sans?: string[];
}

/** Body of `POST /v1/api-tokens`. */
export interface ApiTokenCreateDto {
  role: ApiTokenRoleDto;
  name: string;
  ttl?: TtlDto;
}

/** Body of `POST /v1/certificates`: exactly one of `csr` and `generateKey`. */
export interface IssueRequestDto {
  csr?: string;
  generateKey?: KeyAlgorithmDto;
  profile: string;
  ttl?: TtlDto;
  /** Names for the certificate (default the CSR's); required with generateKey. */
  sans?: string[];
  /** The service, with an API token (bootstrap tokens name their own). */
  service?: string;
  /** With generateKey: also return a PKCS#12 bundle protected by this password. */
  pkcs12Password?: string;
}

/** Body of `POST /v1/certificates/renew`; with `csr` the renewal carries the CSR's key. */
export interface RenewRequestDto {
  csr?: string;
}

/** Query of `GET /v1/certificates`. */
export interface CertificateQueryDto {
  service?: string;
  status?: 'active' | 'superseded' | 'revoked' | 'expired';
  profile?: string;
  issuer?: 'root' | 'intermediate' | 'test-root' | 'test-intermediate';
  /** ISO 8601 instant. */
  expiringBefore?: string;
  /** A duration from now, e.g. `7d`. */
  expiringWithin?: string;
  nameContains?: string;
  spkiSha256?: string;
  sort?: 'notAfter' | 'issuedAt';
  order?: 'asc' | 'desc';
  /** 1..500, default 100. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}
