import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isDatabaseUpToDate, migrateDatabase, pendingSchemaChanges } from '../../../src/storage/database-migrations.ts';
import { migrateDatabaseInChildProcess } from '../../../src/storage/migrate-in-child-process.ts';
import { createEmptyTestDatabase, type TestDatabase } from '../../support/test-database.ts';

describe('database migrations (Prisma schema engine, WebAssembly)', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createEmptyTestDatabase();
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
    database = await createEmptyTestDatabase();
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

describe('whether a database is up to date (what lets a restart skip the schema engine)', () => {
  let database: TestDatabase;
  let client: pg.Client;
  before(async () => {
    database = await createEmptyTestDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await database.drop();
  });

  /** Asks after `change`, then puts `_prisma_migrations` back as the migration left it. */
  async function upToDateAfter(change: string): Promise<boolean> {
    await client.query(change);
    try {
      return await isDatabaseUpToDate(database.url);
    } finally {
      await client.query('DELETE FROM _prisma_migrations; INSERT INTO _prisma_migrations SELECT * FROM migrations_as_applied');
    }
  }

  it('is not, empty; is, once migrated', async () => {
    assert.equal(await isDatabaseUpToDate(database.url), false);
    await migrateDatabase(database.url);
    assert.equal(await isDatabaseUpToDate(database.url), true);
    await client.query('CREATE TABLE migrations_as_applied AS SELECT * FROM _prisma_migrations');
  });

  it('is not when a migration is missing, failed, edited since, or unknown here', async () => {
    const first = '(SELECT min(migration_name) FROM migrations_as_applied)';
    const last = '(SELECT max(migration_name) FROM migrations_as_applied)';
    assert.equal(await upToDateAfter(`DELETE FROM _prisma_migrations WHERE migration_name = ${last}`), false);
    assert.equal(await upToDateAfter(`UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = ${last}`), false);
    assert.equal(await upToDateAfter(`UPDATE _prisma_migrations SET checksum = repeat('0', 64) WHERE migration_name = ${last}`), false);
    assert.equal(
      await upToDateAfter(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
                          VALUES ('unknown', repeat('0', 64), '29990101000000_from_a_newer_release', now(), now(), 1)`),
      false,
    );
    // As many rows as migrations, but one of them twice and the last not at all.
    assert.equal(
      await upToDateAfter(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
                             SELECT 'twice', checksum, migration_name, now(), now(), 1 FROM _prisma_migrations WHERE migration_name = ${first};
                           DELETE FROM _prisma_migrations WHERE migration_name = ${last}`),
      false,
    );
    assert.equal(await isDatabaseUpToDate(database.url), true, 'each case was undone');
  });

  it('ignores a rolled-back attempt, as the engine does', async () => {
    assert.equal(
      await upToDateAfter(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, rolled_back_at, applied_steps_count)
                          SELECT 'rolled-back', repeat('0', 64), migration_name, now(), now(), 0 FROM _prisma_migrations
                          WHERE migration_name = (SELECT max(migration_name) FROM _prisma_migrations)`),
      true,
    );
  });

  it('is not when the database cannot be reached (the engine then says why)', async () => {
    const unreachable = new URL(database.url);
    unreachable.port = '1';
    assert.equal(await isDatabaseUpToDate(unreachable.href), false);
  });
});
