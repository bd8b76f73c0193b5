import { DomainError } from '../domain/errors.ts';
import type { AuditEntry, NewService, ServiceChanges, ServiceReader, ServiceRecord, ServiceWriter } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { BatchedLookup } from './batched-lookup.ts';
import { keyLookup, pooledSession, rowsByKeys } from './sql-session.ts';
import { guardStorage, isUniqueViolation } from './storage-error.ts';

/** The columns a ServiceRecord is made of, as Prisma and `serviceRowColumns` both name them. */
export interface ServiceRow {
  id: string;
  name: string;
  owner: string;
  contact: string | null;
  webhookUrl: string | null;
  enabled: boolean;
  disabledAt: Date | null;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  profiles: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** The select list of a ServiceRow from the services table under `alias`; other statements join it too. */
export function serviceRowColumns(alias: string): string {
  return `${alias}.id::text AS id, ${alias}.name, ${alias}.owner, ${alias}.contact, ${alias}.webhook_url AS "webhookUrl", ${alias}.enabled,
          ${alias}.disabled_at AS "disabledAt", ${alias}.dns_names AS "dnsNames", ${alias}.ip_addresses AS "ipAddresses", ${alias}.uris,
          ${alias}.profiles, ${alias}.created_at AS "createdAt", ${alias}.updated_at AS "updatedAt"`;
}

// Issuance by an API token, renewal and mTLS authentication read a service: a prepared statement on
// the pg pool, reading the services of a batch of requests (see BatchedLookup).
export const SERVICES_BY_NAME = keyLookup('services_by_name', `SELECT ${serviceRowColumns('s')} FROM services s`, 's.name');

export function toServiceRecord(row: ServiceRow): ServiceRecord {
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
  private readonly servicesByName: BatchedLookup<string, ServiceRecord>;

  constructor(private readonly prisma: PrismaClient) {
    const sql = pooledSession(sqlPoolOf(prisma));
    this.servicesByName = new BatchedLookup(async (names) => {
      const rows = await rowsByKeys<ServiceRow>(sql, SERVICES_BY_NAME, names);
      return new Map(rows.map((row) => [row.name, toServiceRecord(row)]));
    });
  }

  findService(name: string): Promise<ServiceRecord | undefined> {
    return guardStorage(() => this.servicesByName.get(name));
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
