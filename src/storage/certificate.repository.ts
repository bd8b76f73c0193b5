import type { AuditEntry, CertificateWriter, NewCertificateRecord } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { guardStorage } from './storage-error.ts';

export class PrismaCertificateRepository implements CertificateWriter {
  constructor(private readonly prisma: PrismaClient) {}

  recordIssued(certificate: NewCertificateRecord, audit: AuditEntry): Promise<void> {
    return guardStorage(async () => {
      await this.prisma.$transaction(async (tx) => {
        const issuer = await tx.issuer.findUniqueOrThrow({ where: { name: certificate.issuerName }, select: { id: true } });
        const service = certificate.serviceName
          ? await tx.service.findUniqueOrThrow({ where: { name: certificate.serviceName }, select: { id: true } })
          : undefined;
        const { facts } = certificate;
        await tx.certificate.create({
          data: {
            issuerId: issuer.id,
            serviceId: service?.id ?? null,
            serialHex: facts.serialHex,
            profile: certificate.profile,
            subjectDn: facts.subjectDn,
            commonName: facts.commonName ?? null,
            dnsNames: facts.sans.dnsNames,
            ipAddresses: facts.sans.ipAddresses,
            uris: facts.sans.uris,
            keyAlgorithm: certificate.keyAlgorithm,
            spkiSha256: facts.spkiSha256,
            fingerprintSha256: facts.fingerprintSha256,
            notBefore: facts.notBefore,
            notAfter: facts.notAfter,
            der: Buffer.from(facts.der),
            requestedBy: certificate.requestedBy,
          },
        });
        await appendAuditEntries(tx, [audit]);
      });
    });
  }
}
