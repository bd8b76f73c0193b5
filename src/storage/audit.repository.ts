import type { StoredAuditEvent } from '../domain/ports.ts';
import type { AuditQuery, AuditReader } from '../domain/ports.ts';
import type { AuditEvent, PrismaClient } from './generated/prisma/client.ts';
import { guardStorage } from './storage-error.ts';

function toStored(row: AuditEvent): StoredAuditEvent {
  return {
    seq: row.seq,
    occurredAt: row.occurredAt,
    actor: row.actor,
    actorRole: row.actorRole ?? undefined,
    sourceAddress: row.sourceAddress ?? undefined,
    requestId: row.requestId ?? undefined,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId ?? undefined,
    details: row.details as Record<string, unknown>,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

/** Reads of the append-only audit trail (writes happen inside each use case's transaction). */
export class PrismaAuditRepository implements AuditReader {
  constructor(private readonly prisma: PrismaClient) {}

  listEvents(query: AuditQuery): Promise<StoredAuditEvent[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.auditEvent.findMany({
        where: {
          ...(query.action ? { action: query.action } : {}),
          ...(query.actor ? { actor: query.actor } : {}),
          ...(query.targetType ? { targetType: query.targetType } : {}),
          ...(query.targetId ? { targetId: query.targetId } : {}),
          ...(query.since || query.until ? { occurredAt: { ...(query.since ? { gte: query.since } : {}), ...(query.until ? { lt: query.until } : {}) } } : {}),
          ...(query.afterSeq !== undefined ? { seq: { gt: query.afterSeq } } : {}),
        },
        orderBy: { seq: 'asc' },
        take: query.limit,
      });
      return rows.map(toStored);
    });
  }

  walk(batchSize: number, visit: (events: StoredAuditEvent[]) => boolean): Promise<void> {
    return guardStorage(async () => {
      let after = -1n;
      for (;;) {
        const rows = await this.prisma.auditEvent.findMany({ where: { seq: { gt: after } }, orderBy: { seq: 'asc' }, take: batchSize });
        if (rows.length === 0) return;
        if (!visit(rows.map(toStored))) return;
        after = rows[rows.length - 1]?.seq ?? after;
        if (rows.length < batchSize) return;
      }
    });
  }
}
