import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations, diffMigrationsToSchema, type SchemaEngineLocation } from './schema-engine.ts';

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
