import { auditEventHash } from './audit-chain.ts';
import type { StoredAuditEvent } from './ports.ts';

/** What a walk of the chain found. */
export interface AuditChainReport {
  ok: boolean;
  checked: number;
  /** The first event whose link does not hold, and why. */
  firstBroken?: { seq: string; reason: string };
}

/**
 * Walks the chain in `seq` order, carrying the previous hash between batches. An edited event
 * no longer matches its own hash; a deleted one breaks its successor's link; a reordering
 * breaks both. Feed batches in order; call `report()` at the end.
 */
export class AuditChainVerifier {
  private previousHash: string | null = null;
  private checked = 0;
  private broken: AuditChainReport['firstBroken'];

  /** @returns false once the chain is known broken (callers may stop reading). */
  add(events: StoredAuditEvent[]): boolean {
    for (const event of events) {
      if (this.broken) return false;
      this.checked += 1;
      if (event.prevHash !== this.previousHash) {
        this.broken = { seq: event.seq.toString(), reason: 'its link to the previous event does not match (an event before it was removed, inserted or moved)' };
        return false;
      }
      if (auditEventHash(this.previousHash, event) !== event.hash) {
        this.broken = { seq: event.seq.toString(), reason: 'its content does not match its hash (the event was edited)' };
        return false;
      }
      this.previousHash = event.hash;
    }
    return true;
  }

  report(): AuditChainReport {
    return this.broken ? { ok: false, checked: this.checked, firstBroken: this.broken } : { ok: true, checked: this.checked };
  }
}
