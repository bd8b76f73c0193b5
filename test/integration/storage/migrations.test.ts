import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrateDatabase, pendingSchemaChanges } from '../../../src/storage/database-migrations.ts';
import { migrateDatabaseInChildProcess } from '../../../src/storage/migrate-in-child-process.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

describe('database migrations (Prisma schema engine, WebAssembly)', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  it('applies every migration to an empty database, then nothing on a second run', async () => {
    const first = await migrateDatabase(database.url);
    assert.ok(first.length >= 1, 'the initial migration was applied');
    assert.deepEqual(await migrateDatabase(database.url), []);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const recorded = await client.query<{ migration_name: string; finished_at: Date | null }>(
        'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name',
      );
      assert.deepEqual(
        recorded.rows.map((row) => row.migration_name),
        first,
      );
      assert.ok(recorded.rows.every((row) => row.finished_at !== null));
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      for (const table of ['issuers', 'services', 'certificates', 'api_tokens', 'bootstrap_tokens', 'crls', 'audit_events', 'alerts', 'notifications', 'job_runs']) {
        assert.ok(tables.rows.some((row) => row.table_name === table), `table ${table} exists`);
      }
    } finally {
      await client.end();
    }
  });

  it('schema.prisma and the migrations agree (no migration is missing)', async () => {
    const sql = await pendingSchemaChanges(database.url);
    assert.match(sql.trim(), /^(-- This is an empty migration\.)?$/, `schema.prisma differs from the migrations:\n${sql}`);
  });

  it('indexes exist for the queries a CA runs', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const indexes = await client.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE tablename = 'certificates'");
      const defs = indexes.rows.map((row) => row.indexdef);
      const has = (fragment: string) => defs.some((def) => def.includes(fragment));
      assert.ok(has('UNIQUE INDEX') && has('(issuer_id, serial_hex)'), 'serial unique per issuer');
      assert.ok(has('(service_id)'), 'by service');
      assert.ok(has('(status, not_after)'), 'by status and expiry');
      assert.ok(has('(spki_sha256)'), 'by public key fingerprint');
    } finally {
      await client.end();
    }
  });
});

describe('database migrations in a child process (what the server does at start)', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.drop());

  it('applies the migrations and answers their names, then nothing on a second run', async () => {
    const applied = await migrateDatabaseInChildProcess(database.url);
    assert.ok(applied.length >= 1);
    assert.deepEqual(applied, [...applied].sort(), 'in the order of their folder names');
    assert.deepEqual(await migrateDatabaseInChildProcess(database.url), []);
  });

  it("rejects with the schema engine's reason when the database cannot be reached", async () => {
    const unreachable = new URL(database.url);
    unreachable.port = '1';
    await assert.rejects(migrateDatabaseInChildProcess(unreachable.href), /Can't reach database server/);
  });
});
