import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { poolConfigFromUrl } from './pool-config.ts';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm';
import type * as EngineGlue from '@prisma/schema-engine-wasm/schema_engine_bg';

/**
 * Prisma's own schema engine, compiled to WebAssembly, driven through the pg driver adapter.
 * It reads and writes `prisma/migrations/` and `_prisma_migrations` exactly as
 * `prisma migrate deploy` does, without the Rust binary the CLI would download.
 */

type EngineModule = typeof EngineGlue;

let engineModule: Promise<EngineModule> | undefined;

/**
 * The engine arms ~10 s housekeeping timers through its glue's `setTimeout`; unref them so
 * that a finished migration does not hold a CLI or test process open.
 */
function withUnrefTimers(imports: WebAssembly.ModuleImports): WebAssembly.ModuleImports {
  const patched: WebAssembly.ModuleImports = { ...imports };
  for (const [name, value] of Object.entries(imports)) {
    if (name.startsWith('__wbg_setTimeout') && typeof value === 'function') {
      patched[name] = (...args: unknown[]) => {
        const timer = (value as (...a: unknown[]) => unknown)(...args);
        (timer as { unref?: () => void } | undefined)?.unref?.();
        return timer;
      };
    }
  }
  return patched;
}

/**
 * The package's entry imports its `.wasm` as an ES module, which Node 20 only allows behind
 * `--experimental-wasm-modules`; instantiate the module with its glue code ourselves instead.
 */
function loadEngineModule(): Promise<EngineModule> {
  engineModule ??= (async () => {
    const glue: EngineModule = await import('@prisma/schema-engine-wasm/schema_engine_bg');
    const require = createRequire(import.meta.url);
    const glueFile = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const wasmBytes = await readFile(path.join(path.dirname(glueFile), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(wasmBytes, {
      './schema_engine_bg.js': withUnrefTimers(glue as unknown as WebAssembly.ModuleImports),
    });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
    return glue;
  })();
  return engineModule;
}

export interface SchemaEngineLocation {
  /** Absolute path of `prisma/schema.prisma`. */
  schemaPath: string;
  /** Absolute path of `prisma/migrations`. */
  migrationsDir: string;
}

/**
 * The pg adapter runs a migration script by splitting it on every ';', which cuts function
 * bodies (triggers) apart. PostgreSQL's simple query protocol takes the whole script at once,
 * exactly as `prisma migrate deploy` sends it.
 */
function wholeScripts<A extends { executeScript(script: string): Promise<void> }>(adapter: A, pool: pg.Pool): A {
  const report = (adapter as unknown as { onError?: (error: unknown) => never }).onError?.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (error) {
      if (report) report(error);
      throw error;
    }
  };
  return adapter;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/**
 * The engine's catalog queries return PostgreSQL's one-byte `"char"` columns (such as
 * `pg_constraint.contype`), a type the pg adapter refuses to map. pg already decodes them as
 * strings, so announcing them as `text` is exact.
 */
function readCharAsText(pool: pg.Pool): pg.Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
  const patched = async (...args: unknown[]): Promise<pg.QueryResult> => {
    const result = await query(...args);
    for (const field of result.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    return result;
  };
  Object.assign(pool, { query: patched });
  return pool;
}

/**
 * `diff` replays the migrations into a throw-away "shadow" database. The stock adapter builds
 * that database's pool from a config in which a connection string silently wins over the new
 * database name, and drops the database before closing its pool; this does both correctly.
 */
class ShadowSafePrismaPg extends PrismaPg {
  constructor(
    private readonly mainPool: pg.Pool,
    /** The connection fields; pg hides `password` on pool.options, so keep our own copy. */
    private readonly poolConfig: pg.PoolConfig,
  ) {
    super(mainPool);
  }

  override async connect(): ReturnType<PrismaPg['connect']> {
    return wholeScripts(await super.connect(), this.mainPool);
  }

  override async connectToShadowDb(): ReturnType<PrismaPg['connectToShadowDb']> {
    const database = `trustroot_shadow_${randomUUID().replaceAll('-', '')}`;
    await this.mainPool.query(`CREATE DATABASE "${database}"`);
    const shadowPool = readCharAsText(new pg.Pool({ ...this.poolConfig, database, max: 2 }));
    const adapter = wholeScripts(await new PrismaPg(shadowPool, { disposeExternalPool: true }).connect(), shadowPool);
    const disposeShadowPool = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await disposeShadowPool();
      await this.mainPool.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    };
    return adapter;
  }
}

async function withEngine<T>(
  connectionString: string,
  location: SchemaEngineLocation,
  work: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const glue = await loadEngineModule();
  const schemaText = await readFile(location.schemaPath, 'utf8');
  const poolConfig = { ...poolConfigFromUrl(connectionString), max: 2 };
  const pool = readCharAsText(new pg.Pool(poolConfig));
  const adapter = bindMigrationAwareSqlAdapterFactory(new ShadowSafePrismaPg(pool, poolConfig));
  try {
    const engine: SchemaEngine = await glue.SchemaEngine.new(
      { datamodels: [[location.schemaPath, schemaText]] },
      () => undefined,
      adapter,
    );
    try {
      return await work(engine);
    } finally {
      engine.free();
    }
  } finally {
    await pool.end();
  }
}

/** Reads `prisma/migrations/` into the structure the engine expects (ordered by folder name). */
export async function readMigrationList(migrationsDir: string): Promise<MigrationList> {
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const migrationDirectories = await Promise.all(
    folders.map(async (folder) => {
      const sqlPath = path.join(migrationsDir, folder, 'migration.sql');
      const content = await readFile(sqlPath, 'utf8').then(
        (text) => ({ tag: 'ok' as const, value: text }),
        (error: Error) => ({ tag: 'error' as const, value: error.message }),
      );
      return { path: folder, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null);
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

const noFilters = { externalTables: [], externalEnums: [] };

/**
 * Applies every migration not yet recorded in `_prisma_migrations`. Idempotent.
 * @returns the names of the migrations applied by this call.
 */
export async function applyMigrations(
  connectionString: string,
  location: SchemaEngineLocation,
): Promise<string[]> {
  const migrationsList = await readMigrationList(location.migrationsDir);
  return withEngine(connectionString, location, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList, filters: noFilters });
    return result.appliedMigrationNames;
  });
}

/**
 * The SQL that takes a database from the state of the existing migrations to `schema.prisma`.
 * Empty when they already agree.
 */
export async function diffMigrationsToSchema(
  connectionString: string,
  location: SchemaEngineLocation,
): Promise<string> {
  const migrationsList = await readMigrationList(location.migrationsDir);
  const schemaText = await readFile(location.schemaPath, 'utf8');
  return withEngine(connectionString, location, async (engine) => {
    const from =
      migrationsList.migrationDirectories.length === 0
        ? ({ tag: 'empty' } as const)
        : ({ tag: 'migrations', ...migrationsList } as const);
    const result = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files: [{ path: location.schemaPath, content: schemaText }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    });
    return result.stdout ?? '';
  });
}
