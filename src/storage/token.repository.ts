import type { ApiRole } from '../domain/api-role.ts';
import type { ApiTokenRecord, AuditEntry, BootstrapTokenRecord, BootstrapTokenWithService, TokenStore } from '../domain/ports.ts';
import { DomainError } from '../domain/errors.ts';
import { appendAuditEntries } from './audit-appender.ts';
import { BatchedLookup } from './batched-lookup.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { serviceRowColumns, toServiceRecord, type ServiceRow } from './service.repository.ts';
import { keyLookup, pooledSession, rowsByKeys } from './sql-session.ts';
import { guardStorage } from './storage-error.ts';

interface ApiTokenRow {
  id: string;
  name: string;
  role: string;
  createdAt: Date;
  createdBy: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

interface BootstrapTokenRow {
  id: string;
  serviceName: string;
  sans: string[];
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

/** A bootstrap token and its service in one row: the service's columns under their ServiceRow names, the token's renamed. */
interface BootstrapTokenAndServiceRow extends ServiceRow {
  tokenId: string;
  sans: string[];
  tokenCreatedAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

// Every authenticated request reads one of these: prepared statements on the pg pool, each
// reading the tokens of a batch of requests (see BatchedLookup).
export const API_TOKENS_BY_HASH = keyLookup(
  'api_tokens_by_hash',
  `SELECT token_hash AS "tokenHash", id::text AS id, name, role::text AS role, created_at AS "createdAt", created_by AS "createdBy",
          expires_at AS "expiresAt", revoked_at AS "revokedAt"
   FROM api_tokens`,
  'token_hash',
);
// The service comes with the token: a bootstrap issuance needs both, and one round trip is
// cheaper than two on the hot path.
export const BOOTSTRAP_TOKENS_BY_HASH = keyLookup(
  'bootstrap_tokens_by_hash',
  `SELECT t.token_hash AS "tokenHash", t.id::text AS "tokenId", t.sans, t.created_at AS "tokenCreatedAt", t.expires_at AS "expiresAt",
          t.used_at AS "usedAt", t.revoked_at AS "revokedAt", ${serviceRowColumns('s')}
   FROM bootstrap_tokens t JOIN services s ON s.id = t.service_id`,
  't.token_hash',
);

function toApiToken(row: ApiTokenRow): ApiTokenRecord {
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

function toBootstrapToken(row: BootstrapTokenRow): BootstrapTokenRecord {
  return {
    id: row.id,
    serviceName: row.serviceName,
    sans: row.sans,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    usedAt: row.usedAt ?? undefined,
    revokedAt: row.revokedAt ?? undefined,
  };
}

function toBootstrapTokenWithService(row: BootstrapTokenAndServiceRow): BootstrapTokenWithService {
  const token = toBootstrapToken({ ...row, id: row.tokenId, serviceName: row.name, createdAt: row.tokenCreatedAt });
  return { ...token, service: toServiceRecord(row) };
}

/** API and bootstrap tokens. Only SHA-256 hashes of the secrets are ever stored. */
export class PrismaTokenRepository implements TokenStore {
  private readonly apiTokensByHash: BatchedLookup<string, ApiTokenRecord>;
  private readonly bootstrapTokensByHash: BatchedLookup<string, BootstrapTokenWithService>;

  constructor(private readonly prisma: PrismaClient) {
    const sql = pooledSession(sqlPoolOf(prisma));
    this.apiTokensByHash = new BatchedLookup(async (hashes) => {
      const rows = await rowsByKeys<ApiTokenRow & { tokenHash: string }>(sql, API_TOKENS_BY_HASH, hashes);
      return new Map(rows.map((row) => [row.tokenHash, toApiToken(row)]));
    });
    this.bootstrapTokensByHash = new BatchedLookup(async (hashes) => {
      const rows = await rowsByKeys<BootstrapTokenAndServiceRow & { tokenHash: string }>(sql, BOOTSTRAP_TOKENS_BY_HASH, hashes);
      return new Map(rows.map((row) => [row.tokenHash, toBootstrapTokenWithService(row)]));
    });
  }

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
    return guardStorage(() => this.apiTokensByHash.get(tokenHash));
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
        return toBootstrapToken({ ...row, serviceName: row.service.name });
      }),
    );
  }

  findBootstrapTokenByHash(tokenHash: string): Promise<BootstrapTokenWithService | undefined> {
    return guardStorage(() => this.bootstrapTokensByHash.get(tokenHash));
  }
}
