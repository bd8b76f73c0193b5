import { Router, type Request } from 'express';
import type { AuditService } from '../../app/audit.service.ts';
import type { StoredAuditEvent } from '../../domain/audit-verification.ts';
import { DomainError } from '../../domain/errors.ts';
import { requestContextOf } from '../authentication.ts';

function query(req: Request, key: string): string | undefined {
  const value: unknown = req.query[key];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function eventDto(event: StoredAuditEvent) {
  return {
    seq: event.seq.toString(),
    occurredAt: event.occurredAt.toISOString(),
    actor: event.actor,
    ...(event.actorRole ? { actorRole: event.actorRole } : {}),
    ...(event.sourceAddress ? { sourceAddress: event.sourceAddress } : {}),
    ...(event.requestId ? { requestId: event.requestId } : {}),
    action: event.action,
    targetType: event.targetType,
    ...(event.targetId ? { targetId: event.targetId } : {}),
    details: event.details,
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

/** The audit trail and its verification (admin, auditor). */
export function auditRoutes(audit: AuditService): Router {
  const router = Router();
  router.get('/v1/audit', async (req, res) => {
    const cursor = query(req, 'cursor');
    if (cursor !== undefined && !/^\d{1,19}$/.test(cursor)) throw new DomainError('bad_request', 'cursor is not one this server returned');
    const since = query(req, 'since');
    const until = query(req, 'until');
    const limit = query(req, 'limit');
    const page = await audit.list(requestContextOf(res), {
      action: query(req, 'action'),
      actor: query(req, 'actor'),
      targetType: query(req, 'targetType'),
      targetId: query(req, 'targetId'),
      since: since ? new Date(since) : undefined,
      until: until ? new Date(until) : undefined,
      afterSeq: cursor !== undefined ? BigInt(cursor) : undefined,
      limit: limit ? Number(limit) : undefined,
    });
    res.json({ events: page.events.map(eventDto), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) });
  });
  router.get('/v1/audit/verify', async (_req, res) => {
    res.json(await audit.verify(requestContextOf(res)));
  });
  return router;
}
