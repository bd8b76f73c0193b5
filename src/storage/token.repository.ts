import type { ApiRole } from '../domain/principal.ts';
import type { ApiTokenRecord, AuditEntry, BootstrapTokenRecord, TokenStore } from '../domain/ports.ts';
import { DomainError } from '../domain/errors.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { ApiToken, BootstrapToken, PrismaClient } from './generated/prisma/client.ts';
import { guardStorage } from './storage-error.ts';

function toApiToken(row: ApiToken): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as ApiRole,
    createdAt: row.createdAt,
    createdBy: row.createdBy ?? undefined,
    expiresAt: row.expiresAt ?? undefined,
    revokedAt: row.revokedAt ?? undefined,
  };
}

function toBootstrapToken(row: BootstrapToken & { service: { name: string } }): BootstrapTokenRecord {
  return {
    id: row.id,
    serviceName: row.service.name,
    sans: row.sans,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    usedAt: row.usedAt ?? undefined,
    revokedAt: row.revokedAt ?? undefined,
  };
}

/** API and bootstrap tokens. Only SHA-256 hashes of the secrets are ever stored. */
export class PrismaTokenRepository implements TokenStore {
  constructor(private readonly prisma: PrismaClient) {}

  createApiToken(
    token: { name: string; role: ApiRole; tokenHash: string; expiresAt: Date | undefined; createdBy: string | undefined },
    audit: AuditEntry,
  ): Promise<ApiTokenRecord> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const row = await tx.apiToken.create({
          data: { name: token.name, role: token.role, tokenHash: token.tokenHash, expiresAt: token.expiresAt ?? null, createdBy: token.createdBy ?? null },
        });
        await appendAuditEntries(tx, [{ ...audit, targetId: row.id }]);
        return toApiToken(row);
      }),
    );
  }

  findApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.apiToken.findUnique({ where: { tokenHash } });
      return row ? toApiToken(row) : undefined;
    });
  }

  listApiTokens(): Promise<ApiTokenRecord[]> {
    return guardStorage(async () => (await this.prisma.apiToken.findMany({ orderBy: { createdAt: 'asc' } })).map(toApiToken));
  }

  revokeApiToken(id: string, at: Date, audit: AuditEntry): Promise<ApiTokenRecord | undefined> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const existing = await tx.apiToken.findUnique({ where: { id } });
        if (!existing) return undefined;
        if (existing.revokedAt) return toApiToken(existing);
        const row = await tx.apiToken.update({ where: { id }, data: { revokedAt: at } });
        await appendAuditEntries(tx, [audit]);
        return toApiToken(row);
      }),
    );
  }

  countApiTokens(): Promise<number> {
    return guardStorage(() => this.prisma.apiToken.count());
  }

  createBootstrapToken(
    token: { serviceName: string; sans: string[]; tokenHash: string; expiresAt: Date; createdBy: string },
    audit: AuditEntry,
  ): Promise<BootstrapTokenRecord> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const service = await tx.service.findUnique({ where: { name: token.serviceName }, select: { id: true, enabled: true } });
        if (!service) throw new DomainError('not_found', `there is no service named ${token.serviceName}`);
        if (!service.enabled) throw new DomainError('forbidden', `service ${token.serviceName} is disabled`);
        const row = await tx.bootstrapToken.create({
          data: { serviceId: service.id, sans: token.sans, tokenHash: token.tokenHash, expiresAt: token.expiresAt, createdBy: token.createdBy },
          include: { service: { select: { name: true } } },
        });
        await appendAuditEntries(tx, [{ ...audit, targetId: row.id }]);
        return toBootstrapToken(row);
      }),
    );
  }

  findBootstrapTokenByHash(tokenHash: string): Promise<BootstrapTokenRecord | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.bootstrapToken.findUnique({ where: { tokenHash }, include: { service: { select: { name: true } } } });
      return row ? toBootstrapToken(row) : undefined;
    });
  }
}
