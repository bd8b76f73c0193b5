import { Router } from 'express';
import type { AuditService } from '../../app/audit.service.ts';
import type { StoredAuditEvent } from '../../domain/ports.ts';
import { DomainError } from '../../domain/errors.ts';
import { requestContextOf } from '../authentication.ts';
import { queryParam } from '../query-param.ts';

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
    const cursor = queryParam(req, 'cursor');
    if (cursor !== undefined && !/^\d{1,19}$/.test(cursor)) throw new DomainError('bad_request', 'cursor is not one this server returned');
    const since = queryParam(req, 'since');
    const until = queryParam(req, 'until');
    const limit = queryParam(req, 'limit');
    const page = await audit.list(requestContextOf(res), {
      action: queryParam(req, 'action'),
      actor: queryParam(req, 'actor'),
      targetType: queryParam(req, 'targetType'),
      targetId: queryParam(req, 'targetId'),
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
