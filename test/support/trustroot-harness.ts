import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/bin/logger.ts';
import { openDatabase, openKeyStore, startTrustroot, type TrustrootInstance } from '../../src/bin/runtime.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { Clock, RandomSource } from '../../src/domain/clock.ts';
import { freePort } from './free-port.ts';
import { recordLogLines, recordSecret } from './secret-ledger.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/**
 * The keyring's scrypt cost for the Trustroots the tests start: the production cost (2^17) takes
 * ~0.5 s of CPU per start on a slow machine, and the suite starts dozens. What it protects is
 * tested in test/unit/keys; a server started by the tests as a child process, on a data
 * directory of its own, still creates its keyring at the production cost.
 */
const TEST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  constructor(private current: Date = new Date()) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
  set(date: Date): void {
    this.current = new Date(date.getTime());
  }
}

/** Collects the JSON log lines a Trustroot instance writes, for assertions. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
    callback();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestTrustroot {
  instance: TrustrootInstance;
  config: Config;
  dataDir: string;
  database: TestDatabase;
  logs: LogCapture;
  apiUrl: string;
  publicUrl: string;
  /** Stops the server (not the database). */
  stop(): Promise<void>;
  /** Stops the server, drops the database and removes the data directory. */
  destroy(): Promise<void>;
}

export interface TestTrustrootOptions {
  /** Reuse a data directory (to test restarts); default: a new temporary one. */
  dataDir?: string;
  /** Reuse a database; default: a new one on TEST_DATABASE_URL. */
  database?: TestDatabase;
  clock?: Clock;
  /** The random source of webhook retry backoff only (default: the secure one). */
  retryRandom?: RandomSource;
  /** Extra environment, e.g. TRUSTROOT_KEY_PASSPHRASE or TRUSTROOT_TLS_CERT_TTL. */
  env?: Record<string, string>;
}

/**
 * Starts a real Trustroot in this process on ephemeral ports, on its own database of the test
 * PostgreSQL and its own data directory.
 */
export async function startTestTrustroot(options: TestTrustrootOptions = {}): Promise<TestTrustroot> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'trustroot-test-data-')));
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    TRUSTROOT_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    TRUSTROOT_HTTPS_PORT: '0',
    // A real port, not 0: the public URL written into certificates (CRL, AIA) must be reachable.
    TRUSTROOT_HTTP_PORT: String(await freePort()),
    TRUSTROOT_LISTEN_HOST: '127.0.0.1',
    TRUSTROOT_DB_CONNECT_TIMEOUT: '10s',
    TRUSTROOT_DB_QUERY_TIMEOUT: '3s',
    LOG_LEVEL: 'debug',
    // Tests drive scheduled jobs with explicit ticks (instance.jobs.tick) and a clock they control.
    TRUSTROOT_SCHEDULER: 'off',
    // Every request of a test comes from 127.0.0.1: limits are tested on their own, with tight values.
    TRUSTROOT_RATE_LIMIT_PER_SOURCE: '1000000/min',
    TRUSTROOT_RATE_LIMIT_PER_CALLER: '1000000/min',
    TRUSTROOT_RATE_LIMIT_AUTH_FAILURES: '1000000/min',
    ...options.env,
  });
  const logs = new LogCapture();
  const logger = createLogger(config.logLevel, logs);
  const keys = await openKeyStore(config, logger, TEST_SCRYPT);
  const opened = await openDatabase(config, logger);
  const instance = await startTrustroot(config, logger, keys, opened, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.retryRandom ? { retryRandom: options.retryRandom } : {}),
  });
  recordSecret(instance.initialAdminToken);
  const passphrase = await readFile(path.join(dataDir, 'dev-key-passphrase'), 'utf8').catch(() => undefined);
  recordSecret(passphrase?.trim());
  recordSecret(config.keyPassphrase);
  const stop = async () => {
    await instance.stop();
    recordLogLines(logs.lines);
  };
  return {
    instance,
    config,
    dataDir,
    database,
    logs,
    apiUrl: `https://127.0.0.1:${instance.apiPort}`,
    publicUrl: `http://127.0.0.1:${instance.httpPort}`,
    stop,
    destroy: async () => {
      await stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
