import pg from 'pg';
import { isDatabaseUpToDate, migrateDatabase } from '../../src/storage/database-migrations.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/**
 * A fresh database of the test server with the schema migrated. Under `npm test` it is a copy
 * of the run's migrated template, and the schema engine is not loaded again for it; run on its
 * own, the file's database is migrated here.
 */
export async function createMigratedTestDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  if (!(await isDatabaseUpToDate(database.url))) await migrateDatabase(database.url);
  return database;
}

/** A fresh database of the test server with the schema migrated, and one plain connection to it. */
export interface MigratedTestDatabase {
  client: pg.Client;
  /** Ends the connection and drops the database. */
  close(): Promise<void>;
}

/**
 * For tests that examine the schema's SQL directly (plans, plain statements), without Prisma or
 * the repositories. Its own module, so that `test-database.ts` does not load the migrations.
 */
export async function openMigratedTestDatabase(): Promise<MigratedTestDatabase> {
  const database = await createMigratedTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  return {
    client,
    close: async () => {
      await client.end();
      await database.drop();
    },
  };
}
