/** Wire types of services, tokens and certificates, as `openapi.yaml` defines them. */

export interface ServiceDto {
  name: string;
  owner: string;
  contact?: string;
  webhookUrl?: string;
  /** The webhook HMAC secret, only in the response that created it. */
  webhookSecret?: string;
  enabled: boolean;
  disabledAt?: string;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  profiles: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ServiceListDto {
  services: ServiceDto[];
}

export interface ApiTokenDto {
  id: string;
  name: string;
  role: 'admin' | 'security' | 'ci' | 'auditor';
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

export interface CreatedApiTokenDto extends ApiTokenDto {
  /** Shown once. */
  token: string;
}

export interface BootstrapTokenDto {
  id: string;
  token: string;
  service: string;
  sans: string[];
  expiresAt: string;
}

export interface IssuedCertificateDto {
  serial: string;
  notBefore: string;
  notAfter: string;
  profile: string;
  service?: string;
  certificate: string;
  chain: string;
  privateKey?: string;
  pkcs12?: string;
}

export interface CertificateDto {
  serial: string;
  issuer: string;
  service?: string;
  profile: string;
  status: 'active' | 'superseded' | 'revoked' | 'expired';
  subject: string;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  keyAlgorithm: string;
  spkiSha256: string;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  requestedBy?: string;
  renewedFrom?: string;
  renewedBy?: string;
  supersededAt?: string;
  revokedAt?: string;
  revocationReason?: string;
}

export interface CertificateListDto {
  certificates: CertificateDto[];
  nextCursor?: string;
}
