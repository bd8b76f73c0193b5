import { auditEventHash } from '../domain/audit-chain.ts';
import type { AuditEntry } from '../domain/ports.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { prismaSession, sqlStatement, type SqlSession } from './sql-session.ts';

/** Arbitrary but fixed key of the advisory lock that serialises appends to the hash chain. */
const AUDIT_CHAIN_LOCK = 7_301_001;

/** Takes the audit chain's transaction-scoped lock. */
export const LOCK_AUDIT_CHAIN = sqlStatement('audit_lock_chain', `SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}::bigint)::text AS locked`);

/** The chain's last hash; read in a statement that started after the lock was granted. */
export const LAST_AUDIT_HASH = sqlStatement('audit_last_hash', 'SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1');

/**
 * Inserts the rows of `chainAuditRows`, passed as a JSON array in the parameter named. Sequence
 * numbers follow the chain: rows are inserted in the order of the array.
 */
export function insertAuditRowsSql(parameter: string): string {
  return `INSERT INTO audit_events (occurred_at, actor, actor_role, source_address, request_id, action, target_type, target_id, details, prev_hash, hash)
   SELECT (e.v->>'occurred_at')::timestamptz, e.v->>'actor', e.v->>'actor_role', e.v->>'source_address', e.v->>'request_id',
          e.v->>'action', e.v->>'target_type', e.v->>'target_id', e.v->'details', e.v->>'prev_hash', e.v->>'hash'
   FROM jsonb_array_elements(${parameter}::jsonb) WITH ORDINALITY AS e(v, position)
   ORDER BY e.position`;
}

const INSERT_ENTRIES = sqlStatement('audit_insert_entries', insertAuditRowsSql('$1'));

/** `appendAuditEntriesIn` inside a Prisma interactive transaction. */
export function appendAuditEntries(tx: Prisma.TransactionClient, entries: AuditEntry[]): Promise<void> {
  return appendAuditEntriesIn(prismaSession(tx), entries);
}

/**
 * Appends audit entries inside the session's transaction, in order, however many there are: one
 * lock, one read of the last hash and one INSERT. The transaction-scoped advisory lock makes
 * "read the last hash, write the next" atomic across connections and replicas; the read is a
 * statement of its own because a READ COMMITTED statement sees only what had committed when it
 * started, and the lock may have been granted after that.
 */
async function appendAuditEntriesIn(session: SqlSession, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await session.rows(LOCK_AUDIT_CHAIN, []);
  const last = await session.rows<{ hash: string }>(LAST_AUDIT_HASH, []);
  const rows = chainAuditRows(last[0]?.hash ?? null, entries);
  await session.rows(INSERT_ENTRIES, [JSON.stringify(rows)]);
}

/** An audit_events row as inserted: the columns, with the instant as ISO 8601 text. */
export interface AuditEventRow {
  occurred_at: string;
  actor: string;
  actor_role: string | null;
  source_address: string | null;
  request_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  details: AuditEntry['details'];
  prev_hash: string | null;
  hash: string;
}

/** The entries as audit_events rows, each hashed over its content and the previous hash. */
export function chainAuditRows(lastHash: string | null, entries: AuditEntry[]): AuditEventRow[] {
  let previousHash = lastHash;
  return entries.map((entry) => {
    const hash = auditEventHash(previousHash, entry);
    const row: AuditEventRow = {
      occurred_at: entry.occurredAt.toISOString(),
      actor: entry.actor,
      actor_role: entry.actorRole ?? null,
      source_address: entry.sourceAddress ?? null,
      request_id: entry.requestId ?? null,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId ?? null,
      details: entry.details,
      prev_hash: previousHash,
      hash,
    };
    previousHash = hash;
    return row;
  });
}
