import { DomainError } from '../domain/errors.ts';
import type { AuditEntry, NewService, ServiceChanges, ServiceReader, ServiceRecord, ServiceWriter } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import type { Service } from './generated/prisma/client.ts';
import { guardStorage, isUniqueViolation } from './storage-error.ts';

function toServiceRecord(row: Service): ServiceRecord {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    contact: row.contact ?? undefined,
    webhookUrl: row.webhookUrl ?? undefined,
    enabled: row.enabled,
    disabledAt: row.disabledAt ?? undefined,
    policy: { dnsNames: row.dnsNames, ipAddresses: row.ipAddresses, uris: row.uris },
    profiles: row.profiles,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export class PrismaServiceRepository implements ServiceReader, ServiceWriter {
  constructor(private readonly prisma: PrismaClient) {}

  findService(name: string): Promise<ServiceRecord | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.service.findUnique({ where: { name } });
      return row ? toServiceRecord(row) : undefined;
    });
  }

  listServices(): Promise<ServiceRecord[]> {
    return guardStorage(async () => (await this.prisma.service.findMany({ orderBy: { name: 'asc' } })).map(toServiceRecord));
  }

  createService(service: NewService, audit: AuditEntry): Promise<ServiceRecord> {
    return guardStorage(async () => {
      try {
        return await this.prisma.$transaction(async (tx) => {
          const row = await tx.service.create({
            data: {
              name: service.name,
              owner: service.owner,
              contact: service.contact ?? null,
              webhookUrl: service.webhookUrl ?? null,
              webhookSecretEncrypted: service.webhookSecretSealed ? Buffer.from(service.webhookSecretSealed) : null,
              dnsNames: service.policy.dnsNames,
              ipAddresses: service.policy.ipAddresses,
              uris: service.policy.uris,
              profiles: service.profiles,
            },
          });
          await appendAuditEntries(tx, [{ ...audit, targetId: row.name }]);
          return toServiceRecord(row);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DomainError('conflict', `a service named ${service.name} already exists`);
        throw error;
      }
    });
  }

  updateService(name: string, changes: ServiceChanges, audit: AuditEntry): Promise<ServiceRecord | undefined> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const existing = await tx.service.findUnique({ where: { name } });
        if (!existing) return undefined;
        const row = await tx.service.update({
          where: { name },
          data: {
            ...(changes.owner !== undefined ? { owner: changes.owner } : {}),
            ...(changes.contact !== undefined ? { contact: changes.contact } : {}),
            ...(changes.webhookUrl !== undefined ? { webhookUrl: changes.webhookUrl } : {}),
            ...(changes.webhookSecretSealed !== undefined ? { webhookSecretEncrypted: Buffer.from(changes.webhookSecretSealed) } : {}),
            ...(changes.policy !== undefined
              ? { dnsNames: changes.policy.dnsNames, ipAddresses: changes.policy.ipAddresses, uris: changes.policy.uris }
              : {}),
            ...(changes.profiles !== undefined ? { profiles: changes.profiles } : {}),
            ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
            ...(changes.disabledAt !== undefined ? { disabledAt: changes.disabledAt } : {}),
          },
        });
        await appendAuditEntries(tx, [audit]);
        return toServiceRecord(row);
      }),
    );
  }
}
