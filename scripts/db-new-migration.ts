/**
 * `npm run db:migration -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
 * with the SQL that takes the existing migrations to prisma/schema.prisma. The schema engine
 * replays the migrations in a temporary shadow database on the target server (DATABASE_URL,
 * or the embedded PostgreSQL) and drops it afterwards.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/bin/logger.ts';
import { openDatabase } from '../src/bin/runtime.ts';
import { pendingSchemaChanges, schemaLocation } from '../src/storage/database-migrations.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write('usage: npm run db:migration -- <name>   (lower-case letters, digits and _)\n');
  process.exit(2);
}
const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
const database = await openDatabase(config, logger);
try {
  const sql = await pendingSchemaChanges(database.connectionString);
  if (sql.trim() === '' || /^-- This is an empty migration\.?\s*$/.test(sql.trim())) {
    process.stdout.write('schema.prisma matches the migrations: nothing to write\n');
  } else {
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const folder = path.join(schemaLocation().migrationsDir, `${stamp}_${name}`);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'migration.sql'), sql);
    process.stdout.write(`wrote ${path.relative(process.cwd(), folder)}/migration.sql\n`);
  }
} finally {
  await database.embedded?.stop();
}
process.exit(0);
