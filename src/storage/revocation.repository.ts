import type { RevocationReasonName } from '../domain/crl/revocation-reason.ts';
import type { CertificateRecord, RevocationStore, RevocationTransaction } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import { CERTIFICATE_INCLUDE, toCertificateRecord } from './certificate.repository.ts';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { pooledSession, sqlStatement, type SqlSession } from './sql-session.ts';
import { guardStorage } from './storage-error.ts';

// A renewal with a new key asks this (issuance checks blocked keys in its commit): a prepared statement on the pg pool.
const KEY_IS_BLOCKED = sqlStatement('key_is_blocked', 'SELECT EXISTS (SELECT 1 FROM blocked_keys WHERE spki_sha256 = $1) AS blocked');

async function lockedRecords(tx: Prisma.TransactionClient, ids: { id: string }[]): Promise<CertificateRecord[]> {
  if (ids.length === 0) return [];
  const rows = await tx.certificate.findMany({ where: { id: { in: ids.map((r) => r.id) } }, include: CERTIFICATE_INCLUDE, orderBy: { issuedAt: 'asc' } });
  return rows.map(toCertificateRecord);
}

/** Revocations: each one a transaction holding row locks on the certificates it changes. */
export class PrismaRevocationRepository implements RevocationStore {
  private readonly sql: SqlSession;

  constructor(private readonly prisma: PrismaClient) {
    this.sql = pooledSession(sqlPoolOf(prisma));
  }

  isKeyBlocked(spkiSha256: string): Promise<boolean> {
    return guardStorage(async () => (await this.sql.rows<{ blocked: boolean }>(KEY_IS_BLOCKED, [spkiSha256]))[0]?.blocked === true);
  }

  inTransaction<T>(work: (tx: RevocationTransaction) => Promise<T>): Promise<T> {
    return guardStorage(() =>
      this.prisma.$transaction(
        async (tx) => {
          const unit: RevocationTransaction = {
            lockCertificate: async (serialHex) => {
              const ids = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM certificates WHERE serial_hex = ${serialHex} ORDER BY issued_at DESC LIMIT 1 FOR UPDATE`;
              return (await lockedRecords(tx, ids))[0];
            },
            lockUnexpiredCertificatesOfService: async (serviceName, now) => {
              const ids = await tx.$queryRaw<{ id: string }[]>`
                SELECT c.id::text AS id FROM certificates c JOIN services s ON s.id = c.service_id
                WHERE s.name = ${serviceName} AND c.not_after > ${now}
                FOR UPDATE OF c`;
              return lockedRecords(tx, ids);
            },
            lockUnexpiredCertificatesWithKey: async (spkiSha256, now) => {
              const ids = await tx.$queryRaw<{ id: string }[]>`
                SELECT id::text AS id FROM certificates
                WHERE spki_sha256 = ${spkiSha256} AND not_after > ${now}
                  AND profile NOT IN ('root-ca', 'intermediate-ca')
                FOR UPDATE`;
              return lockedRecords(tx, ids);
            },
            markRevoked: async (certificateId, revocation) => {
              const { issuerId } = await tx.certificate.findUniqueOrThrow({ where: { id: certificateId }, select: { issuerId: true } });
              // Until a CRL includes this change, the issuer's CRL is stale; the version survives a
              // crash between this commit and the CRL publication.
              await tx.issuer.update({ where: { id: issuerId }, data: { revocationVersion: { increment: 1 } } });
              await tx.certificate.update({
                where: { id: certificateId },
                data: {
                  status: 'revoked',
                  revokedAt: revocation.revokedAt,
                  revocationReason: revocation.reason satisfies RevocationReasonName,
                  invalidityDate: revocation.invalidityDate ?? null,
                },
              });
              // Nothing is left to flag on a revoked certificate.
              await tx.certificateFlagSchedule.deleteMany({ where: { certificateId } });
            },
            disableService: async (serviceName, at) => {
              const updated = await tx.service.updateMany({ where: { name: serviceName }, data: { enabled: false, disabledAt: at } });
              return updated.count === 1;
            },
            revokeBootstrapTokens: async (serviceName, at) => {
              const revoked = await tx.bootstrapToken.updateMany({
                where: { service: { name: serviceName }, usedAt: null, revokedAt: null },
                data: { revokedAt: at },
              });
              return revoked.count;
            },
            blockKey: async (spkiSha256, reason, at, by) => {
              await tx.blockedKey.upsert({
                where: { spkiSha256 },
                create: { spkiSha256, reason, blockedAt: at, blockedBy: by },
                update: {},
              });
            },
            enqueueNotifications: async (notifications, at) => {
              for (const notification of notifications) {
                const recipient = await tx.service.findUnique({ where: { name: notification.recipientService }, select: { id: true } });
                if (!recipient) continue;
                await tx.notification.createMany({
                  data: [{
                    recipientId: recipient.id,
                    eventType: notification.eventType,
                    idempotencyKey: notification.idempotencyKey,
                    payload: notification.payload as Prisma.InputJsonValue,
                    nextAttemptAt: at,
                  }],
                  // The same event (same idempotency key) is enqueued once, however often revoked.
                  skipDuplicates: true,
                });
              }
            },
            audit: (entries) => appendAuditEntries(tx, entries),
          };
          return work(unit);
        },
        { timeout: 30_000 },
      ),
    );
  }
}
