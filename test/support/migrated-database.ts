import pg from 'pg';
import { migrateDatabase } from '../../src/storage/database-migrations.ts';
import { createTestDatabase } from './test-database.ts';

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
  const database = await createTestDatabase();
  await migrateDatabase(database.url);
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
