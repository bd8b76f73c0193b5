/**
 * `npm test`: runs every test file under test/ with Node's test runner.
 *
 * Database: TEST_DATABASE_URL when set (each test file creates and drops its own database on
 * that server); otherwise a real, embedded PostgreSQL started here in a scratch folder and
 * stopped at the end. `--only <path-prefix>` narrows the files (e.g. `--only integration/storage`).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../src/storage/embedded-postgres.ts';
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

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
const code = await new Promise<number>((resolve) => child.on('exit', (status) => resolve(status ?? 1)));
await embedded?.stop();
if (scratch) await rm(scratch, { recursive: true, force: true });
process.exit(code);
