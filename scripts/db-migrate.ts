/**
 * `npm run db:migrate`: applies pending migrations from prisma/migrations to DATABASE_URL, or,
 * when it is unset, to the embedded PostgreSQL of TRUSTROOT_DATA_DIR. Idempotent.
 */
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/bin/logger.ts';
import { openDatabase } from '../src/bin/runtime.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
try {
  // openDatabase waits for the server and applies the migrations.
  const database = await openDatabase(config, logger);
  await database.embedded?.stop();
  logger.info('database is up to date');
  process.exit(0);
} catch (error) {
  process.stderr.write(`db:migrate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
