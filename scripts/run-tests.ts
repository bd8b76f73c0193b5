/**
 * `npm test`: runs every test file under test/ with Node's test runner.
 *
 * Database: TEST_DATABASE_URL when set (each test file creates and drops its own database on
 * that server); otherwise a real, embedded PostgreSQL started here in a scratch folder and
 * stopped at the end. On it, one database migrated for the whole run, the template every test
 * database is copied from (TEST_TEMPLATE_DATABASE). `--only <path-prefix>` narrows the files (e.g.
 * `--only integration/storage`).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrateDatabase } from '../src/storage/database-migrations.ts';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../src/storage/embedded-postgres.ts';
import { createScratchDatabase } from '../test/support/test-database.ts';
import { freePort } from '../test/support/free-port.ts';

async function testFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
const root = path.resolve('test');
const files = (await testFiles(root)).filter((file) => !only || path.relative(root, file).startsWith(only));
if (files.length === 0) {
  process.stderr.write(`no test files match ${only ?? 'test/'}\n`);
  process.exit(1);
}

let embedded: RunningEmbeddedPostgres | undefined;
let scratch: string | undefined;
const env = { ...process.env };
if (!env.TEST_DATABASE_URL) {
  // A scratch folder under the system temp dir, reachable by the `postgres` user when we are root.
  scratch = await mkdtemp(path.join(tmpdir(), 'trustroot-test-pg-'));
  await chmod(scratch, 0o755);
  embedded = await startEmbeddedPostgres({ dataDir: scratch, port: await freePort() });
  env.TEST_DATABASE_URL = embedded.connectionString;
  process.stdout.write(`test database: embedded PostgreSQL in ${scratch}\n`);
} else {
  process.stdout.write('test database: TEST_DATABASE_URL\n');
}

// One database migrated once for the whole run, which createTestDatabase copies (test/support/
// test-database.ts): each of the many Trustroots the tests start then finds its schema up to date
// and skips the schema engine, about a second of CPU each. The migrations themselves are tested
// from empty databases (test/integration/storage/migrations.test.ts).
const template = await createScratchDatabase(env.TEST_DATABASE_URL, 'trustroot_template');
await migrateDatabase(template.url);
env.TEST_TEMPLATE_DATABASE = new URL(template.url).pathname.slice(1);

// Every secret the tests handle and every line Trustroot logged are collected here, and checked
// against each other once the run is over: no secret may ever appear in a log.
const ledger = await mkdtemp(path.join(tmpdir(), 'trustroot-test-ledger-'));
env.TRUSTROOT_TEST_LEDGER_DIR = ledger;

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
const code = await new Promise<number>((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
await template.drop();
await embedded?.stop();
if (scratch) await rm(scratch, { recursive: true, force: true });
const leaks = await findLeakedSecrets(ledger);
await rm(ledger, { recursive: true, force: true });
if (leaks.secrets === 0) {
  process.stdout.write('secret scan: no secrets were recorded (nothing to check)\n');
} else if (leaks.found.length > 0) {
  process.stdout.write(`secret scan: FAILED — ${leaks.found.length} of ${leaks.secrets} secrets appear in the logs (${leaks.found.map((s) => s.slice(0, 8) + '…').join(', ')})\n`);
  process.exit(code === 0 ? 1 : code);
} else {
  process.stdout.write(`secret scan: none of ${leaks.secrets} secrets the tests handled appears in ${leaks.logBytes} bytes of Trustroot logs\n`);
}
process.exit(code);

/** Secrets (and their base64 body lines, for PEM keys) found verbatim in any collected log. */
async function findLeakedSecrets(dir: string): Promise<{ secrets: number; found: string[]; logBytes: number }> {
  const files = await readdir(dir);
  const read = async (prefix: string) =>
    (await Promise.all(files.filter((f) => f.startsWith(prefix)).map((f) => readFile(path.join(dir, f), 'utf8')))).join('');
  const logs = await read('logs-');
  const secrets = new Set<string>();
  for (const line of (await read('secrets-')).split('\n')) {
    if (line === '') continue;
    const secret = JSON.parse(line) as string;
    secrets.add(secret);
    // A PEM key could leak line by line: check each base64 line of it too.
    for (const body of secret.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(body)) secrets.add(body);
  }
  const found = [...secrets].filter((secret) => logs.includes(secret) || logs.includes(JSON.stringify(secret).slice(1, -1)));
  return { secrets: secrets.size, found, logBytes: logs.length };
}
