import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  /** Connection string of a fresh, empty database. */
  url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/**
 * Creates a new database on the test server (TEST_DATABASE_URL), so that each test file starts
 * clean and files can run in parallel. `drop()` removes it. Under `npm test` it is a copy of the
 * run's migrated template (TEST_TEMPLATE_DATABASE, see scripts/run-tests.ts), so that a
 * Trustroot started on it finds its schema up to date instead of loading the schema engine
 * again; without one it is empty, and Trustroot migrates it at start.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createScratchDatabase(serverUrl(), 'trustroot_test', process.env.TEST_TEMPLATE_DATABASE);
}

/** A new empty database on the test server, for the tests of the migrations themselves. */
export function createEmptyTestDatabase(): Promise<TestDatabase> {
  return createScratchDatabase(serverUrl(), 'trustroot_test');
}

/**
 * A new database named `<prefix>_<random>` on the server `serverUrl` points at, empty or a copy of
 * the database `template` (which nobody may be connected to); `drop()` removes it.
 */
export async function createScratchDatabase(serverUrl: string, prefix: string, template?: string): Promise<TestDatabase> {
  const base = new URL(serverUrl);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  if (template !== undefined && !/^[a-z0-9_]+$/.test(template)) throw new Error(`not a database name: ${template}`);
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${template}`}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base.toString());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: base.toString() });
      await client.connect();
      try {
        await waitForSessionsToLeave(client, name);
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Gives connections that are closing a moment to go before DROP … WITH (FORCE) terminates them.
 * pg's `Pool.end()` resolves once it has asked its connections to close, not once they have; a
 * connection that the server terminates meanwhile gets an error it reports after its test ended,
 * and node's test runner fails the file for it (seen on a slow VM). A connection still open after
 * two seconds is a real leak, and FORCE ends it as before.
 */
async function waitForSessionsToLeave(client: pg.Client, database: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const { rows } = await client.query<{ sessions: number }>('SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE datname = $1', [database]);
    if ((rows[0]?.sessions ?? 0) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
