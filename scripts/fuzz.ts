/**
 * `npm run fuzz`: a long hostile-input campaign. Runs test/e2e/hostile-input.test.ts (which CI
 * runs with a fixed seed and a small budget) with a large FUZZ_RUNS and a random FUZZ_SEED,
 * printed before each round so that any failure can be replayed exactly, round after round until
 * one fails.
 *
 *   npm run fuzz -- [--runs N] [--seed S] [--rounds K]
 *
 *   --runs    FUZZ_RUNS of each round (default 20000; CI uses the test's default of a few hundred)
 *   --seed    the first round's seed instead of a random one (to replay a failure)
 *   --rounds  rounds to run, each with a new seed (default 1; 0 runs until a round fails)
 *
 * Database: TEST_DATABASE_URL when set; otherwise an embedded PostgreSQL in a scratch folder,
 * stopped at the end. Exit code: 0 when every round passed, else the failing round's.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../src/storage/embedded-postgres.ts';
import { freePort } from '../test/support/free-port.ts';

const TEST_FILE = 'test/e2e/hostile-input.test.ts';
const USAGE = 'usage: npm run fuzz -- [--runs N] [--seed S] [--rounds K]';

function parseArguments(argv: string[]): { runs: number; seed: number | undefined; rounds: number } {
  const values = new Map<string, number>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const raw = argv[i + 1];
    if (name === undefined || !['--runs', '--seed', '--rounds'].includes(name) || raw === undefined) throw new Error(USAGE);
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(raw)}\n${USAGE}`);
    values.set(name, value);
  }
  const runs = values.get('--runs') ?? 20_000;
  if (runs < 1) throw new Error(`--runs must be at least 1\n${USAGE}`);
  return { runs, seed: values.get('--seed'), rounds: values.get('--rounds') ?? 1 };
}

function runRound(env: NodeJS.ProcessEnv, seed: number, runs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', TEST_FILE], {
    stdio: 'inherit',
    env: { ...env, FUZZ_SEED: String(seed), FUZZ_RUNS: String(runs) },
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

let options: ReturnType<typeof parseArguments>;
try {
  options = parseArguments(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
}

let embedded: RunningEmbeddedPostgres | undefined;
let scratch: string | undefined;
const env = { ...process.env };
if (!env.TEST_DATABASE_URL) {
  // A scratch folder under the system temp dir, reachable by the `postgres` user when we are root.
  scratch = await mkdtemp(path.join(tmpdir(), 'trustroot-fuzz-pg-'));
  await chmod(scratch, 0o755);
  embedded = await startEmbeddedPostgres({ dataDir: scratch, port: await freePort() });
  env.TEST_DATABASE_URL = embedded.connectionString;
}

let exitCode = 0;
try {
  for (let round = 1; options.rounds === 0 || round <= options.rounds; round++) {
    const seed = round === 1 && options.seed !== undefined ? options.seed : randomInt(1, 2 ** 31 - 1);
    const replay = `FUZZ_SEED=${seed} FUZZ_RUNS=${options.runs} TEST_DATABASE_URL=… node --import tsx --test ${TEST_FILE}`;
    process.stdout.write(`\n=== fuzz round ${round}: FUZZ_SEED=${seed} FUZZ_RUNS=${options.runs} ===\n`);
    const started = Date.now();
    const code = await runRound(env, seed, options.runs);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    if (code !== 0) {
      process.stdout.write(`\n=== round ${round} FAILED after ${seconds} s with FUZZ_SEED=${seed}; replay with:\n    ${replay}\n`);
      exitCode = code;
      break;
    }
    process.stdout.write(`=== round ${round} passed in ${seconds} s (FUZZ_SEED=${seed})\n`);
  }
} finally {
  await embedded?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
}
process.exit(exitCode);
