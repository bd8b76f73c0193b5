import { AuditChainVerifier, type AuditChainReport } from '../domain/audit-verification.ts';
import { DomainError } from '../domain/errors.ts';
import type { AuditQuery, AuditReader, StoredAuditEvent } from '../domain/ports.ts';
import { requireRole } from '../domain/principal.ts';
import type { RequestContext } from './request-context.ts';

const VERIFY_BATCH = 1000;

/** Reading and verifying the audit trail (admin and auditor). */
export class AuditService {
  constructor(private readonly audit: AuditReader) {}

  async list(context: RequestContext, query: Omit<AuditQuery, 'limit'> & { limit?: number }): Promise<{ events: StoredAuditEvent[]; nextCursor: string | undefined }> {
    requireRole(context.principal, ['admin', 'auditor']);
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new DomainError('bad_request', 'limit must be 1 to 1000');
    const events = await this.audit.listEvents({ ...query, limit });
    const last = events.at(-1);
    return { events, nextCursor: events.length === limit && last ? last.seq.toString() : undefined };
  }

  /** Checks the whole hash chain; names the first broken link. */
  async verify(context?: RequestContext): Promise<AuditChainReport> {
    if (context) requireRole(context.principal, ['admin', 'auditor']);
    const verifier = new AuditChainVerifier();
    await this.audit.walk(VERIFY_BATCH, (events) => verifier.add(events));
    return verifier.report();
  }
}
