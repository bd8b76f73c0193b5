import type { IssuedCertificate } from '../app/issuance.service.ts';
import type { CertificateStatus } from '../app/inventory.service.ts';
import type { MintedBootstrapToken } from '../app/tokens.service.ts';
import type { ApiTokenDto, BootstrapTokenDto, CertificateDto, IssuedCertificateDto, ServiceDto } from '../contracts/certificates.ts';
import type { ApiTokenRecord, CertificateRecord, ServiceRecord } from '../domain/ports.ts';

/** Records → wire objects. Optional members are left out rather than sent as null. */

export function serviceDto(service: ServiceRecord & { webhookSecret?: string }): ServiceDto {
  return {
    ...(service.webhookSecret !== undefined ? { webhookSecret: service.webhookSecret } : {}),
    name: service.name,
    owner: service.owner,
    ...(service.contact !== undefined ? { contact: service.contact } : {}),
    ...(service.webhookUrl !== undefined ? { webhookUrl: service.webhookUrl } : {}),
    enabled: service.enabled,
    ...(service.disabledAt ? { disabledAt: service.disabledAt.toISOString() } : {}),
    dnsNames: service.policy.dnsNames,
    ipAddresses: service.policy.ipAddresses,
    uris: service.policy.uris,
    profiles: service.profiles,
    createdAt: service.createdAt.toISOString(),
    updatedAt: service.updatedAt.toISOString(),
  };
}

export function apiTokenDto(token: ApiTokenRecord): ApiTokenDto {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    createdAt: token.createdAt.toISOString(),
    ...(token.expiresAt ? { expiresAt: token.expiresAt.toISOString() } : {}),
    ...(token.revokedAt ? { revokedAt: token.revokedAt.toISOString() } : {}),
  };
}

export function bootstrapTokenDto(token: MintedBootstrapToken): BootstrapTokenDto {
  return { id: token.id, token: token.token, service: token.serviceName, sans: token.sans, expiresAt: token.expiresAt.toISOString() };
}

export function issuedCertificateDto(issued: IssuedCertificate): IssuedCertificateDto {
  return {
    serial: issued.serialHex,
    notBefore: issued.notBefore.toISOString(),
    notAfter: issued.notAfter.toISOString(),
    profile: issued.profile,
    ...(issued.serviceName !== undefined ? { service: issued.serviceName } : {}),
    certificate: issued.certificatePem,
    chain: issued.chainPem,
    ...(issued.privateKeyPem !== undefined ? { privateKey: issued.privateKeyPem } : {}),
    ...(issued.pkcs12 !== undefined ? { pkcs12: Buffer.from(issued.pkcs12).toString('base64') } : {}),
  };
}

export function certificateDto(record: CertificateRecord & { derivedStatus: CertificateStatus }): CertificateDto {
  const iso = (date: Date | undefined) => date?.toISOString();
  const optional = (key: string, value: string | undefined) => (value !== undefined ? { [key]: value } : {});
  return {
    serial: record.serialHex,
    issuer: record.issuerName,
    ...optional('service', record.serviceName),
    profile: record.profile,
    status: record.derivedStatus,
    subject: record.subjectDn,
    ...optional('commonName', record.commonName),
    dnsNames: record.sans.dnsNames,
    ipAddresses: record.sans.ipAddresses,
    uris: record.sans.uris,
    keyAlgorithm: record.keyAlgorithm,
    spkiSha256: record.spkiSha256,
    fingerprintSha256: record.fingerprintSha256,
    notBefore: record.notBefore.toISOString(),
    notAfter: record.notAfter.toISOString(),
    issuedAt: record.issuedAt.toISOString(),
    ...optional('requestedBy', record.requestedBy),
    ...optional('renewedFrom', record.renewedFromSerial),
    ...optional('renewedBy', record.renewedBySerial),
    ...optional('supersededAt', iso(record.supersededAt)),
    ...optional('revokedAt', iso(record.revokedAt)),
    ...optional('revocationReason', record.revocationReason),
  };
}
