import { migrateDatabase } from './database-migrations.ts';

/*
 * Runs the migrations in a child process of their own (see migrateDatabaseInChildProcess):
 * Prisma's WASM schema engine is loaded here, and its memory goes back to the system when this
 * process exits. The connection string comes over the IPC channel, not in argv (which `ps`
 * shows) nor in the environment.
 */
type Answer = { applied: string[] } | { error: { message: string; stack?: string } };

async function migrate(connectionString: string): Promise<Answer> {
  try {
    return { applied: await migrateDatabase(connectionString) };
  } catch (error) {
    return { error: error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) } };
  }
}

process.once('message', (message: { connectionString: string }) => {
  void migrate(message.connectionString).then((answer) => process.send?.(answer, () => process.disconnect()));
});
