import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createScratchDatabase } from '../../test/support/test-database.ts';
import { startEmbeddedPostgres } from '../../src/storage/embedded-postgres.ts';
import { freePort } from '../../test/support/free-port.ts';

export interface BenchDatabase {
  /** Connection string of an empty database that belongs to this run only. */
  url: string;
  /** `embedded PostgreSQL 17.x (…)` or `BENCH_DATABASE_URL (PostgreSQL 15.x)`, for the report. */
  description: string;
  /** Drops the database (BENCH_DATABASE_URL) or stops the embedded server and removes its folder. */
  close(): Promise<void>;
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

/** Only loopback: the benchmark never sends a byte off this machine. */
function assertLoopback(url: URL): void {
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname)) {
    throw new Error(`BENCH_DATABASE_URL must point at this machine (127.0.0.1, ::1 or localhost), not ${url.hostname}`);
  }
}

/**
 * A database of its own for one benchmark run. With `serverUrl` (BENCH_DATABASE_URL, a server
 * whose user may create databases) a new database `trustroot_bench_<random>` is created there
 * and dropped at the end; otherwise a real PostgreSQL from the embedded-postgres package is
 * started on a free loopback port in a scratch folder (mode 0755, so that the `postgres` OS
 * user can reach it when we run as root) and removed at the end.
 */
export async function openBenchDatabase(serverUrl: string | undefined): Promise<BenchDatabase> {
  if (serverUrl !== undefined) {
    const base = new URL(serverUrl);
    assertLoopback(base);
    const database = await createScratchDatabase(base.toString(), 'trustroot_bench');
    const name = new URL(database.url).pathname.slice(1);
    return {
      url: database.url,
      description: `BENCH_DATABASE_URL (PostgreSQL ${await serverVersion(database.url)}), database ${name}`,
      close: () => database.drop(),
    };
  }
  const scratch = await mkdtemp(path.join(tmpdir(), 'trustroot-bench-pg-'));
  await chmod(scratch, 0o755);
  // On Ctrl-C, embedded-postgres's own exit hook stops the server and exits the process before
  // an asynchronous clean-up could finish; this last, synchronous step still removes the folder.
  const removeAtExit = () => rmSync(scratch, { recursive: true, force: true });
  process.once('exit', removeAtExit);
  try {
    const port = await freePort();
    const embedded = await startEmbeddedPostgres({ dataDir: scratch, port });
    return {
      url: embedded.connectionString,
      description: `embedded PostgreSQL ${await serverVersion(embedded.connectionString)} (default settings, fsync on) in ${scratch}, port ${port}`,
      close: async () => {
        await embedded.stop();
        await rm(scratch, { recursive: true, force: true });
        process.removeListener('exit', removeAtExit);
      },
    };
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    process.removeListener('exit', removeAtExit);
    throw error;
  }
}
