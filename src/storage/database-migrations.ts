import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { poolConfigFromUrl } from './pool-config.ts';
import { applyMigrations, diffMigrationsToSchema, readMigrationList, type SchemaEngineLocation } from './schema-engine.ts';

/** The folder holding package.json, found upward from this file (works from src/ and dist/). */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the Trustroot project root (package.json)');
    dir = parent;
  }
  return dir;
}

export function schemaLocation(): SchemaEngineLocation {
  const root = projectRoot();
  return {
    schemaPath: path.join(root, 'prisma', 'schema.prisma'),
    migrationsDir: path.join(root, 'prisma', 'migrations'),
  };
}

/** Applies pending migrations from `prisma/migrations`; returns the names applied. Idempotent. */
export function migrateDatabase(connectionString: string): Promise<string[]> {
  return applyMigrations(connectionString, schemaLocation());
}

/** SQL of the next migration (empty when `schema.prisma` matches the migrations). */
export function pendingSchemaChanges(connectionString: string): Promise<string> {
  return diffMigrationsToSchema(connectionString, schemaLocation());
}

/**
 * `prisma/migrations/<name>/migration.sql` by name, read as the engine reads them, with the
 * SHA-256 (hex) of its text that Prisma records as its checksum (undefined if unreadable).
 */
async function localMigrationChecksums(migrationsDir: string): Promise<Map<string, string | undefined>> {
  const { migrationDirectories } = await readMigrationList(migrationsDir);
  return new Map(
    migrationDirectories.map(({ path: name, migrationFile: { content } }) => [
      name,
      content.tag === 'ok' ? createHash('sha256').update(content.value).digest('hex') : undefined,
    ]),
  );
}

/**
 * True when applying the migrations would do nothing: `_prisma_migrations` records exactly the
 * local migrations, each finished, none failed, each with the checksum of its file as it is now.
 * A server restarting on its database then skips the schema engine, a ~40 MB WebAssembly module
 * that costs about a second of CPU and a child process to load. Anything else (no such table, a
 * migration missing, failed, edited or unknown here, no connection, no migrations folder to read)
 * answers false, and the engine decides and reports, as it always did. Rolled-back rows are
 * history, not state, as for the engine.
 */
export async function isDatabaseUpToDate(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ ...poolConfigFromUrl(connectionString), connectionTimeoutMillis: 5_000 });
  try {
    const local = await localMigrationChecksums(schemaLocation().migrationsDir);
    await client.connect();
    const { rows } = await client.query<{ name: string; checksum: string; finished: boolean }>(
      `SELECT migration_name AS name, checksum, finished_at IS NOT NULL AS finished
       FROM _prisma_migrations WHERE rolled_back_at IS NULL`,
    );
    const names = new Set(rows.map((row) => row.name));
    return names.size === rows.length && rows.length === local.size && rows.every((row) => row.finished && local.get(row.name) === row.checksum);
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
