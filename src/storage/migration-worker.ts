import { parentPort, workerData } from 'node:worker_threads';
import { migrateDatabase } from './database-migrations.ts';

/*
 * Runs the migrations in a worker thread of their own (see migrateDatabaseInWorker): Prisma's
 * WASM schema engine is loaded here, and goes away with the thread.
 */
const { connectionString } = workerData as { connectionString: string };
try {
  parentPort?.postMessage({ applied: await migrateDatabase(connectionString) });
} catch (error) {
  parentPort?.postMessage({ error: error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) } });
}
