import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { AuditService } from '../../../src/app/audit.service.ts';
import { PrismaAuditRepository } from '../../../src/storage/audit.repository.ts';
import { appendAuditEntries } from '../../../src/storage/audit-appender.ts';
import { createPrismaClient, type PrismaClient } from '../../../src/storage/prisma-client.ts';
import { createMigratedTestDatabase } from '../../support/migrated-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

/** Runs SQL as the database owner with the append-only triggers disabled: a tamperer with full access. */
async function tamper(url: string, sql: string, params: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await client.query(sql, params);
    await client.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

describe('the audit trail: append-only and hash-chained', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  let audit: AuditService;

  before(async () => {
    database = await createMigratedTestDatabase();
    prisma = createPrismaClient(database.url, { queryTimeoutSeconds: 5 });
    audit = new AuditService(new PrismaAuditRepository(prisma));
  });
  after(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  beforeEach(async () => {
    await tamper(database.url, 'DELETE FROM audit_events');
    await prisma.$transaction((tx) =>
      appendAuditEntries(
        tx,
        [1, 2, 3, 4, 5].map((n) => ({
          occurredAt: new Date(Date.UTC(2026, 10, 28, 12, 0, n)),
          actor: 'system',
          action: 'test.event',
          targetType: 'test',
          targetId: String(n),
          details: { n },
        })),
      ),
    );
  });

  async function seqs(): Promise<bigint[]> {
    return (await prisma.auditEvent.findMany({ orderBy: { seq: 'asc' }, select: { seq: true } })).map((r) => r.seq);
  }

  it('an untouched chain verifies', async () => {
    assert.deepEqual(await audit.verify(), { ok: true, checked: 5 });
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await assert.rejects(client.query("UPDATE audit_events SET actor = 'mallory'"), /append-only: UPDATE/);
      await assert.rejects(client.query('DELETE FROM audit_events'), /append-only: DELETE/);
      await assert.rejects(client.query('TRUNCATE audit_events'), /append-only: TRUNCATE/);
    } finally {
      await client.end();
    }
    assert.deepEqual(await audit.verify(), { ok: true, checked: 5 });
  });

  it('detects an edited event and names it', async () => {
    const [, second] = await seqs();
    await tamper(database.url, `UPDATE audit_events SET details = '{"n": 42}' WHERE seq = $1`, [String(second)]);
    const report = await audit.verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBroken?.seq, String(second));
    assert.match(report.firstBroken?.reason ?? '', /edited/);
  });

  it('detects a deleted event at its successor', async () => {
    const [, second, third] = await seqs();
    await tamper(database.url, 'DELETE FROM audit_events WHERE seq = $1', [String(second)]);
    const report = await audit.verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBroken?.seq, String(third));
    assert.match(report.firstBroken?.reason ?? '', /removed, inserted or moved/);
  });

  it('detects two events swapped in order', async () => {
    const [, second, third] = await seqs();
    // Swap the rows' positions in the chain by exchanging their sequence numbers.
    await tamper(
      database.url,
      'UPDATE audit_events SET seq = CASE WHEN seq = $1 THEN -1 ELSE seq END WHERE seq = $1; ' as string,
      [String(second)],
    );
    await tamper(database.url, 'UPDATE audit_events SET seq = $1 WHERE seq = $2', [String(second), String(third)]);
    await tamper(database.url, 'UPDATE audit_events SET seq = $1 WHERE seq = -1', [String(third)]);
    const report = await audit.verify();
    assert.equal(report.ok, false);
    assert.equal(report.firstBroken?.seq, String(second));
  });
});
