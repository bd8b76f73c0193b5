import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import type pg from 'pg';
import type { IssuanceAheadClaim, IssuanceClaim, IssuanceCommitOutcome, NewCertificateRecord, OpenedIssuance, PendingIssuance } from '../domain/ports.ts';
import type { CertificateFacts } from '../domain/x509/certificate-facts.ts';
import { chainAuditRows, insertAuditRowsSql, type AuditEventRow, LAST_AUDIT_HASH, LOCK_AUDIT_CHAIN } from './audit-appender.ts';
import type { ItemOutcome } from './group-commit-queue.ts';
import { nameText } from './certificate-name-text.ts';
import { inSqlTransaction, sqlStatement, type SqlSession, type SqlTransactionSession } from './sql-session.ts';

const TOKEN_UNUSABLE = { ok: true, value: { committed: false, reason: 'bootstrap-token-unusable' } } as const satisfies ItemOutcome<IssuanceCommitOutcome>;
const KEY_BLOCKED = { ok: true, value: { committed: false, reason: 'key-blocked' } } as const satisfies ItemOutcome<IssuanceCommitOutcome>;

/**
 * Writes a group of issuances in one transaction of two round trips, whatever the group's size
 * (the pool is in pipeline mode, see `sql-session.ts`):
 * 1. BEGIN; check the keys against the blocked keys and consume the bootstrap tokens; take the
 *    audit chain's lock; read the chain's last hash.
 * 2. (Once the leaves are signed:) insert the certificates, link them to their tokens and append
 *    their audit entries; COMMIT.
 *
 * A request whose key is blocked, or whose token turned out to be unusable (used meanwhile,
 * revoked, expired), gets that answer and nothing of it is consumed, signed or written; the
 * others commit. Any other failure rolls the whole group back (the queue then retries each
 * issuance alone).
 *
 * The chain's lock is asked for after the token rows are locked: every other transaction that
 * touches tokens and appends to the chain (disabling a service revokes its unused tokens, then
 * audits) locks the rows first and the chain after, and a group that took the chain first
 * deadlocked with it (storage test "a service disabled while a group consumes one of its
 * tokens"). The lock is held from the first round trip to COMMIT, signing included; with one
 * group in flight at a time (certificate.repository.ts) no other issuance group waits for it, and
 * one round trip fewer per group measured faster than a lock released sooner (BENCHMARKS.md,
 * change 17). The read of the last hash is a statement of its own, sent with the lock's: a READ
 * COMMITTED statement sees what had committed when it started, so the read must start after the
 * lock is granted. This is the hot path: it runs on the pg pool with prepared statements.
 */
export function writeIssuanceGroup(pool: pg.Pool, group: PendingIssuance[]): Promise<ItemOutcome<IssuanceCommitOutcome>[]> {
  return inSqlTransaction(pool, async (tx) => finishGroup(tx, group, await openGroup(tx, group)));
}

/**
 * The transaction of one issuance, opened before its request is authenticated and judged
 * (`IssuanceStore.openIssuance`): the first round trip goes at once and runs while the caller
 * is authenticated and judged; the second when it commits. One request at a time that takes the
 * round trip off the request's path: its latency overlaps the token's read and the checks
 * instead of following them (BENCHMARKS.md, change 28). A refusal rolls back, so that a token
 * consumed for a request that cannot have it is given back. `finished` settles once the
 * transaction has committed or rolled back (the queue's slot is held until then).
 */
export function openLoneIssuance(
  pool: pg.Pool,
  claim: IssuanceAheadClaim,
  holdLimitMs = OPENED_ISSUANCE_HOLD_LIMIT_MS,
): { opened: OpenedIssuance; finished: Promise<void> } {
  let decide: (decision: PendingIssuance | typeof ABANDON) => void = () => undefined;
  const decided = new Promise<PendingIssuance | typeof ABANDON>((resolve) => {
    decide = resolve;
  });
  let state: 'open' | 'committing' | 'abandoned' | 'given up' = 'open';
  const giveUp = setTimeout(() => {
    if (state !== 'open') return;
    state = 'given up';
    decide(ABANDON);
  }, holdLimitMs);
  giveUp.unref();
  const outcome = inSqlTransaction(pool, async (tx) => {
    // Both are awaited together: a failed first round trip rolls back at once, decided or not.
    const [claimed, decision] = await Promise.all([claimAhead(tx, claim), decided]);
    if (decision === ABANDON) throw new RolledBack(undefined);
    const refusal = claimRefusal(claim, claimed, decision);
    if (refusal !== undefined) throw new RolledBack(refusal);
    const [only] = await finishGroup(tx, [decision], { refusals: [undefined], lastHash: claimed.lastHash });
    if (only === undefined) throw new Error('the issuance transaction returned no outcome');
    if (!only.ok) throw only.error;
    return only.value;
  }).catch((error: unknown) => {
    if (error instanceof RolledBack && error.refusal !== undefined) return error.refusal;
    throw error;
  });
  const finished = outcome.then(
    () => undefined,
    () => undefined,
  );
  void finished.then(() => clearTimeout(giveUp));
  return {
    finished,
    opened: {
      async commit(pending) {
        if (state === 'given up') return undefined;
        if (state !== 'open') throw new Error(`an opened issuance was committed after it was ${state === 'abandoned' ? 'abandoned' : 'committed'}`);
        state = 'committing';
        decide(pending);
        return outcome;
      },
      abandon() {
        if (state === 'open') {
          state = 'abandoned';
          decide(ABANDON);
        }
        return finished;
      },
    },
  };
}

/**
 * How long an opened issuance may wait for its caller's decision before it is rolled back. A lone
 * request is authenticated and judged in about a millisecond, but meanwhile the transaction holds
 * the audit chain's lock, and the caller's token read needs a pooled connection of its own: were
 * every other connection taken by transactions waiting for that lock, the read would wait for
 * the pool's timeout. Giving up releases the lock; the caller then commits through the queue.
 */
const OPENED_ISSUANCE_HOLD_LIMIT_MS = 200;

const ABANDON = Symbol('abandon');

/** Thrown inside an opened issuance's transaction to roll it back, with the refusal to answer (none when abandoned). */
class RolledBack extends Error {
  constructor(readonly refusal: IssuanceCommitOutcome | undefined) {
    super('the opened issuance was rolled back');
  }
}

interface ClaimedAhead {
  /** The claimed token's id when it was consumed. */
  consumedTokenId: string | undefined;
  keyBlocked: boolean;
  /** The audit chain's last hash, read under its lock. */
  lastHash: string | null;
}

/**
 * The first round trip of an opened issuance: CLAIM_TOKEN_AHEAD, the chain's lock and its last
 * hash, sent at once with BEGIN (in this order for the reason given at `writeIssuanceGroup`).
 */
async function claimAhead(tx: SqlSession, claim: IssuanceAheadClaim): Promise<ClaimedAhead> {
  const [[row], , [last]] = await Promise.all([
    tx.rows<{ consumed: string | null; blocked: boolean }>(CLAIM_TOKEN_AHEAD, [claim.bootstrapTokenHash ?? null, claim.now, claim.keySpkiSha256]),
    tx.rows(LOCK_AUDIT_CHAIN, []),
    tx.rows<{ hash: string }>(LAST_AUDIT_HASH, []),
  ]);
  return { consumedTokenId: row?.consumed ?? undefined, keyBlocked: row?.blocked === true, lastHash: last?.hash ?? null };
}

/** Why the claimed issuance cannot commit, if it cannot; an issuance that is not the claimed one is a bug. */
function claimRefusal(claim: IssuanceAheadClaim, claimed: ClaimedAhead, pending: PendingIssuance): IssuanceCommitOutcome | undefined {
  if (pending.keySpkiSha256 !== claim.keySpkiSha256 || (pending.bootstrapTokenId === undefined) !== (claim.bootstrapTokenHash === undefined)) {
    throw new Error('the issuance committed is not the one its transaction was opened for');
  }
  if (claimed.keyBlocked) return KEY_BLOCKED.value;
  if (pending.bootstrapTokenId !== undefined && pending.bootstrapTokenId !== claimed.consumedTokenId) return TOKEN_UNUSABLE.value;
  return undefined;
}

// CONSUME_TOKENS for one token named by its hash, before the caller is authenticated: the
// token's unique index finds it. A refusal later rolls the consumption back.
export const CLAIM_TOKEN_AHEAD = sqlStatement(
  'issuance_claim_token_ahead',
  `WITH blocked AS (
     SELECT spki_sha256 FROM blocked_keys WHERE spki_sha256 = $3
   ), consumed AS (
     UPDATE bootstrap_tokens SET used_at = $2
     WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
       AND NOT EXISTS (SELECT 1 FROM blocked)
     RETURNING id::text AS id
   )
   SELECT (SELECT id FROM consumed) AS consumed, EXISTS (SELECT 1 FROM blocked) AS blocked`,
);

interface OpenedGroup {
  /** Per claim, its refusal, or undefined when its token was consumed and its key is not blocked. */
  refusals: (ItemOutcome<IssuanceCommitOutcome> | undefined)[];
  /** The audit chain's last hash, read under its lock. */
  lastHash: string | null;
}

/**
 * The first round trip of a group's transaction, sent at once (with BEGIN, when it is the first
 * thing sent): the claims' tokens consumed, the chain's lock asked for after the token rows are
 * locked, and the chain's last hash. Prepared statements, like the rest: sent as one text through
 * the simple query protocol, the lock and the read were parsed and planned for every group (0.26
 * against 0.07 ms of PostgreSQL's time in its statement log, one request at a time).
 */
async function openGroup(tx: SqlSession, claims: IssuanceClaim[]): Promise<OpenedGroup> {
  const [refusals, , [last]] = await Promise.all([consumeTokens(tx, claims), tx.rows(LOCK_AUDIT_CHAIN, []), tx.rows<{ hash: string }>(LAST_AUDIT_HASH, [])]);
  return { refusals, lastHash: last?.hash ?? null };
}

/** The second round trip: signs what was not refused, then inserts and commits in one write. */
async function finishGroup(tx: SqlTransactionSession, group: PendingIssuance[], { refusals, lastHash }: OpenedGroup): Promise<ItemOutcome<IssuanceCommitOutcome>[]> {
  // If one signature throws, the group rolls back whole (the queue retries each alone); the
  // other signatures are discarded unused.
  const facts = await Promise.all(group.map((pending, index) => (refusals[index] === undefined ? pending.sign() : undefined)));
  const signed: { index: number; id: string; record: ReturnType<PendingIssuance['record']> }[] = [];
  const outcomes: ItemOutcome<IssuanceCommitOutcome>[] = [];
  for (const [index, pending] of group.entries()) {
    const refusal = refusals[index];
    const signedFacts = facts[index];
    if (refusal !== undefined) {
      outcomes.push(refusal);
    } else if (signedFacts !== undefined) {
      signed.push({ index, id: randomUUID(), record: pending.record(signedFacts) });
      outcomes.push({ ok: true, value: { committed: true, facts: signedFacts } });
    } else {
      throw new Error('an issuance of the group was neither refused nor signed');
    }
  }
  if (signed.length > 0) {
    // Sent at once; awaited only after the callers have had the commit's round trip to prepare.
    const committed = insertCertificates(
      tx,
      signed.map(({ index, id, record }) => ({ id, certificate: record.certificate, bootstrapTokenId: group[index]?.bootstrapTokenId })),
      chainAuditRows(
        lastHash,
        signed.flatMap(({ record }) => record.audit),
      ),
    );
    for (const { index } of signed) tellWhileCommitting(group[index], facts[index]);
    await committed;
  }
  return outcomes;
}

/** `whileCommitting`, whose failure is the caller's and must not decide the transaction. */
function tellWhileCommitting(pending: PendingIssuance | undefined, facts: CertificateFacts | undefined): void {
  if (pending?.whileCommitting === undefined || facts === undefined) return;
  try {
    pending.whileCommitting(facts);
  } catch {
    // Ignored: the caller prepares again from the outcome (IssuanceService does).
  }
}

// A token is consumed only for a request whose key is not blocked: a refused request keeps its token.
// The tokens are also named by `t.id = ANY (ARRAY(…))`, a condition the primary key's index
// answers directly, so the plan is an index lookup whatever the table's statistics say. Through
// the join alone the planner costs jsonb_to_recordset's rows (it assumes 100) against those
// statistics, and a deployment's tokens are minted shortly before they are used, so the
// statistics still say that unused tokens are rare: it chose a sequential scan of every token
// under a nested loop, ~16 ms for a group of 31 against ~2,000 unused tokens (auto_explain in the
// benchmark), in the transaction that holds the audit chain's lock.
export const CONSUME_TOKENS = sqlStatement(
  'issuance_consume_tokens',
  `WITH input AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(token_id uuid, now timestamptz, spki text)
   ), blocked AS (
     SELECT DISTINCT b.spki_sha256 FROM blocked_keys b JOIN input v ON b.spki_sha256 = v.spki
   ), consumed AS (
     UPDATE bootstrap_tokens AS t SET used_at = v.now
     FROM input v
     WHERE t.id = ANY (ARRAY(SELECT token_id FROM input)) AND t.id = v.token_id
       AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > v.now
       AND (v.spki IS NULL OR v.spki NOT IN (SELECT spki_sha256 FROM blocked))
     RETURNING t.id::text AS id
   )
   SELECT ARRAY(SELECT id FROM consumed) AS consumed, ARRAY(SELECT spki_sha256 FROM blocked) AS blocked`,
);

// The tokens' foreign key is checked at the end of the statement, when the rows exist. COMMIT
// follows this statement without waiting for it, so it must fail rather than skip a row it
// cannot write: a row whose issuer or service does not exist gets a NULL issuer_id, which the
// column refuses (see isIssuerOrServiceMissing). The tokens are linked through their primary key
// for the reason given at CONSUME_TOKENS, and the services are found through their name's index
// the same way: with 10,000 services the join alone read all of them for every group (1.5 against
// 0.5 ms for the statement).
export const INSERT_CERTIFICATES = sqlStatement(
  'issuance_insert_certificates',
  `WITH input AS (
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(
       id uuid, token_id uuid, issuer_name text, service_name text, serial_hex text, profile text, subject_dn text,
       common_name text, dns_names text[], ip_addresses text[], uris text[], name_text text, key_algorithm text,
       spki_sha256 text, fingerprint_sha256 text, not_before timestamptz, not_after timestamptz, der text,
       requested_by text, next_flag_at timestamptz)
   ), inserted AS (
     INSERT INTO certificates (id, issuer_id, service_id, serial_hex, profile, subject_dn, common_name, dns_names, ip_addresses, uris,
                               name_text, key_algorithm, spki_sha256, fingerprint_sha256, not_before, not_after, der, requested_by)
     SELECT r.id, CASE WHEN (r.service_name IS NULL) = (s.id IS NULL) THEN i.id END, s.id, r.serial_hex, r.profile,
            r.subject_dn, r.common_name, r.dns_names, r.ip_addresses, r.uris, r.name_text, r.key_algorithm, r.spki_sha256,
            r.fingerprint_sha256, r.not_before, r.not_after, decode(r.der, 'base64'), r.requested_by
     FROM input r
     LEFT JOIN issuers i ON i.name = r.issuer_name
     LEFT JOIN services s ON s.name = r.service_name AND s.name = ANY (ARRAY(SELECT service_name FROM input))
     RETURNING id::text AS id
   ), linked AS (
     UPDATE bootstrap_tokens AS t SET certificate_id = r.id
     FROM input r
     WHERE t.id = ANY (ARRAY(SELECT token_id FROM input)) AND t.id = r.token_id AND r.id IN (SELECT id::uuid FROM inserted)
   ), scheduled AS (
     INSERT INTO certificate_flag_schedule (certificate_id, next_flag_at)
     SELECT r.id, r.next_flag_at FROM input r
     WHERE r.next_flag_at IS NOT NULL AND r.id IN (SELECT id::uuid FROM inserted)
   ), audited AS (
     ${insertAuditRowsSql('$2')}
   )
   SELECT id FROM inserted`,
);

// INSERT_CERTIFICATES for one certificate with one audit entry, what every lone issuance writes,
// with a parameter per column. The same rows, the same checks (a missing issuer or service leaves
// issuer_id NULL, as there), without the JSON: PostgreSQL parsing the rows' JSON at bind, then
// expanding and joining it, was ~0.1 ms of a lone issuance's commit round trip (BENCHMARKS.md,
// change 29). Statements with a parameter per column cannot take a group: each certificate has
// arrays of names, and PostgreSQL arrays of arrays must be rectangular.
export const INSERT_ONE_CERTIFICATE = sqlStatement(
  'issuance_insert_one_certificate',
  `WITH named AS (
     SELECT (SELECT id FROM issuers WHERE name = $3::text) AS issuer_id, (SELECT id FROM services WHERE name = $4::text) AS service_id
   ), inserted AS (
     INSERT INTO certificates (id, issuer_id, service_id, serial_hex, profile, subject_dn, common_name, dns_names, ip_addresses, uris,
                               name_text, key_algorithm, spki_sha256, fingerprint_sha256, not_before, not_after, der, requested_by)
     SELECT $1::uuid, CASE WHEN ($4::text IS NULL) = (n.service_id IS NULL) THEN n.issuer_id END, n.service_id, $5, $6, $7, $8,
            $9::text[], $10::text[], $11::text[], $12, $13, $14, $15, $16::timestamptz, $17::timestamptz, decode($18, 'base64'), $19
     FROM named n
     RETURNING id
   ), linked AS (
     UPDATE bootstrap_tokens SET certificate_id = $1::uuid WHERE id = $2::uuid AND EXISTS (SELECT 1 FROM inserted)
   ), scheduled AS (
     INSERT INTO certificate_flag_schedule (certificate_id, next_flag_at)
     SELECT id, $20::timestamptz FROM inserted WHERE $20::timestamptz IS NOT NULL
   ), audited AS (
     INSERT INTO audit_events (occurred_at, actor, actor_role, source_address, request_id, action, target_type, target_id, details, prev_hash, hash)
     VALUES ($21::timestamptz, $22, $23, $24, $25, $26, $27, $28, $29::jsonb, $30, $31)
   )
   SELECT id::text AS id FROM inserted`,
);

/**
 * Refuses the requests whose key is blocked, marks every other presented bootstrap token used
 * and says for each issuance whether it may go on (undefined: it may), in one statement. One
 * atomic conditional update: of concurrent uses of a token, in this group or another
 * transaction, exactly one matches.
 */
async function consumeTokens(tx: SqlSession, claims: IssuanceClaim[]): Promise<(ItemOutcome<IssuanceCommitOutcome> | undefined)[]> {
  const input = claims.map((claim) => ({ token_id: claim.bootstrapTokenId ?? null, now: claim.now.toISOString(), spki: claim.keySpkiSha256 ?? null }));
  const [row] = await tx.rows<{ consumed: string[]; blocked: string[] }>(CONSUME_TOKENS, [JSON.stringify(input)]);
  const consumed = new Set(row?.consumed ?? []);
  const blocked = new Set(row?.blocked ?? []);
  return claims.map((claim) => {
    if (claim.keySpkiSha256 !== undefined && blocked.has(claim.keySpkiSha256)) return KEY_BLOCKED;
    // The same token twice in one group: the first request has it, the second finds it used.
    if (claim.bootstrapTokenId !== undefined && !consumed.delete(claim.bootstrapTokenId)) return TOKEN_UNUSABLE;
    return undefined;
  });
}

/** PostgreSQL's not_null_violation, on the column INSERT_CERTIFICATES leaves NULL for a missing issuer or service. */
function isIssuerOrServiceMissing(error: unknown): boolean {
  const { code, column } = error as { code?: unknown; column?: unknown };
  return code === '23502' && column === 'issuer_id';
}

/** A certificate as INSERT_CERTIFICATES reads it (with its instants as ISO 8601 text and its DER in base64). */
interface CertificateRow {
  id: string;
  token_id: string | null;
  issuer_name: string;
  service_name: string | null;
  serial_hex: string;
  profile: string;
  subject_dn: string;
  common_name: string | null;
  dns_names: string[];
  ip_addresses: string[];
  uris: string[];
  name_text: string;
  key_algorithm: string;
  spki_sha256: string;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  der: string;
  requested_by: string;
  next_flag_at: string | null;
}

/**
 * Inserts the certificates, points their bootstrap tokens at them and appends the audit rows, in
 * one statement sent with COMMIT: INSERT_ONE_CERTIFICATE for one certificate with one audit entry
 * (every lone issuance), INSERT_CERTIFICATES for anything else.
 */
async function insertCertificates(
  tx: SqlTransactionSession,
  rows: { id: string; certificate: NewCertificateRecord; bootstrapTokenId: string | undefined }[],
  auditRows: AuditEventRow[],
): Promise<void> {
  const records = rows.map(({ id, certificate, bootstrapTokenId }): CertificateRow => {
    const { facts } = certificate;
    return {
      id,
      token_id: bootstrapTokenId ?? null,
      issuer_name: certificate.issuerName,
      service_name: certificate.serviceName ?? null,
      serial_hex: facts.serialHex,
      profile: certificate.profile,
      subject_dn: facts.subjectDn,
      common_name: facts.commonName ?? null,
      dns_names: facts.sans.dnsNames,
      ip_addresses: facts.sans.ipAddresses,
      uris: facts.sans.uris,
      name_text: nameText(certificate),
      key_algorithm: certificate.keyAlgorithm,
      spki_sha256: facts.spkiSha256,
      fingerprint_sha256: facts.fingerprintSha256,
      not_before: facts.notBefore.toISOString(),
      not_after: facts.notAfter.toISOString(),
      der: Buffer.from(facts.der).toString('base64'),
      requested_by: certificate.requestedBy,
      next_flag_at: certificate.nextFlagAt?.toISOString() ?? null,
    };
  });
  const [record, ...otherRecords] = records;
  const [audit, ...otherAudit] = auditRows;
  try {
    await (record !== undefined && audit !== undefined && otherRecords.length === 0 && otherAudit.length === 0
      ? tx.rowsThenCommit(INSERT_ONE_CERTIFICATE, [...certificateValues(record), ...auditValues(audit)])
      : tx.rowsThenCommit(INSERT_CERTIFICATES, [JSON.stringify(records), JSON.stringify(auditRows)]));
  } catch (error) {
    if (!isIssuerOrServiceMissing(error)) throw error;
    // Services and issuers are never deleted, so this is a race with nothing, or a bug: the group
    // fails, and the queue retries each issuance alone, where the names are the record's own.
    const names = (key: 'service_name' | 'issuer_name') => [...new Set(records.map((record) => record[key] ?? ''))].join(', ');
    throw new DomainError('not_found', `there is no service named ${names('service_name')} or no issuer named ${names('issuer_name')}`);
  }
}

/** INSERT_ONE_CERTIFICATE's certificate parameters, in its order. */
function certificateValues(row: CertificateRow): unknown[] {
  return [
    row.id,
    row.token_id,
    row.issuer_name,
    row.service_name,
    row.serial_hex,
    row.profile,
    row.subject_dn,
    row.common_name,
    row.dns_names,
    row.ip_addresses,
    row.uris,
    row.name_text,
    row.key_algorithm,
    row.spki_sha256,
    row.fingerprint_sha256,
    row.not_before,
    row.not_after,
    row.der,
    row.requested_by,
    row.next_flag_at,
  ];
}

/** INSERT_ONE_CERTIFICATE's audit parameters, in its order. */
function auditValues(row: AuditEventRow): unknown[] {
  return [
    row.occurred_at,
    row.actor,
    row.actor_role,
    row.source_address,
    row.request_id,
    row.action,
    row.target_type,
    row.target_id,
    JSON.stringify(row.details),
    row.prev_hash,
    row.hash,
  ];
}
