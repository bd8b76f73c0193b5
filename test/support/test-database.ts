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
 * Creates a new empty database on the test server (TEST_DATABASE_URL), so that each test file
 * starts clean and files can run in parallel. `drop()` removes it.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createScratchDatabase(serverUrl(), 'trustroot_test');
}

/** A new empty database named `<prefix>_<random>` on the server `serverUrl` points at; `drop()` removes it. */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<TestDatabase> {
  const base = new URL(serverUrl);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
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
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
