import { auditEventHash } from '../domain/audit-chain.ts';
import type { AuditEntry } from '../domain/ports.ts';
import type { Prisma } from './generated/prisma/client.ts';

/** Arbitrary but fixed key of the advisory lock that serialises appends to the hash chain. */
const AUDIT_CHAIN_LOCK = 7_301_001;

/**
 * Appends audit entries inside the caller's transaction. The transaction-scoped advisory lock
 * makes "read the last hash, write the next" atomic across connections and replicas.
 */
export async function appendAuditEntries(tx: Prisma.TransactionClient, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}::bigint)::text AS locked`;
  const last = await tx.auditEvent.findFirst({ orderBy: { seq: 'desc' }, select: { hash: true } });
  let previousHash = last?.hash ?? null;
  for (const entry of entries) {
    const hash = auditEventHash(previousHash, entry);
    await tx.auditEvent.create({
      data: {
        occurredAt: entry.occurredAt,
        actor: entry.actor,
        actorRole: entry.actorRole ?? null,
        sourceAddress: entry.sourceAddress ?? null,
        requestId: entry.requestId ?? null,
        action: entry.action,
        targetType: entry.targetType,
        targetId: entry.targetId ?? null,
        details: entry.details as Prisma.InputJsonValue,
        prevHash: previousHash,
        hash,
      },
    });
    previousHash = hash;
  }
}
