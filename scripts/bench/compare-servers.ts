/**
 * `COMPARE=<other checkout> node --import tsx scripts/bench/compare-servers.ts`: this checkout's
 * server (A) against another checkout's (B), both built and running at once, each with its own
 * database, loaded in turn with short issuance runs in alternating order (A B, B A, A B, …).
 *
 * Why: the build VMs change speed by 20–40 % within minutes with nothing else running
 * (BENCHMARKS.md, "The machine"), so two whole benchmark runs, or two profiling cells a minute
 * apart, compare the moments as much as the servers. Paired runs seconds apart, many of them,
 * compare the servers: the report gives each pair's ratio B/A, their median and how many pairs
 * B won. Only the server under load differs within a pair; the other one is idle.
 *
 * The other checkout needs its own `node_modules` (or a link to this one's) and its generated
 * Prisma client, as after `npm ci`. Settings (environment): `PAIRS` (default 10), `COUNT`
 * issuances per run (default 300), `CONCURRENCY` (default 1), `AUTHS` (`bootstrap,admin`),
 * `BENCH_DATABASE_URL` as for `npm run bench` (unset: an embedded PostgreSQL per server).
 * Per-pair lines go to stderr, the summary to stdout.
 */
import path from 'node:path';
import { openBenchDatabase, type BenchDatabase } from './bench-database.ts';
import { FULL_PLAN } from './bench-plan.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient, type BenchClient } from './http-client.ts';
import { issuanceRun, ISSUANCE_SERVICE, type IssuanceAuth } from './issuance-scenario.ts';
import type * as ServerProcessHarness from './server-process.ts';
import type { ServerProcess } from './server-process.ts';
import { summarize, summarizeField } from './stats.ts';
import { registerService } from './trustroot-api.ts';

type ServerProcessModule = typeof ServerProcessHarness;
type IssuanceRunResult = Awaited<ReturnType<typeof issuanceRun>>;

interface Contender {
  label: 'A' | 'B';
  checkout: string;
  database: BenchDatabase;
  server: ServerProcess;
  admin: BenchClient;
}

const other = process.env.COMPARE;
if (!other) throw new Error('COMPARE must name the other checkout (a directory with its own node_modules)');
const checkouts = { A: path.resolve(import.meta.dirname, '../..'), B: path.resolve(other) };
const pairs = Number(process.env.PAIRS ?? 10);
const count = Number(process.env.COUNT ?? 300);
const concurrency = Number(process.env.CONCURRENCY ?? 1);
const auths = (process.env.AUTHS ?? 'bootstrap,admin').split(',').map((auth) => auth.trim()) as IssuanceAuth[];
if (auths.some((auth) => auth !== 'bootstrap' && auth !== 'admin')) throw new Error('AUTHS lists bootstrap and/or admin');
const log = (line: string) => process.stderr.write(`${line}\n`);

async function startContender(label: 'A' | 'B', checkout: string): Promise<Contender> {
  // Each checkout's own harness module, so that its server is built and started from its tree.
  const harness = (await import(path.join(checkout, 'scripts/bench/server-process.ts'))) as ServerProcessModule;
  await harness.buildServer();
  const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
  let server: ServerProcess;
  try {
    server = await harness.startServerProcess({ databaseUrl: database.url, logLevel: 'info' });
  } catch (error) {
    await database.close();
    throw error;
  }
  const admin = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: 16 });
  await registerService(admin, server.adminToken, ISSUANCE_SERVICE, ['*.bench.svc']);
  log(`${label}: ${checkout}, pid ${server.pid}`);
  return { label, checkout, database, server, admin };
}

const contenders: Contender[] = [];
try {
  contenders.push(await startContender('A', checkouts.A), await startContender('B', checkouts.B));
  const csrs = await makeCsrs(Array.from({ length: 1000 }, (_, i) => `w${i}.bench.svc`));
  // Untimed warm-up of each server, for each authentication, as long as the full benchmark's:
  // optimised code and a grown heap. In turns of a fifth, so that neither server sits idle
  // while the other warms up: warmed one after the other, the first lost its first five or six
  // pairs by 3–19 % in three sets of session 22, having sat idle through the other's warm-up
  // (~30 s on that VM); warmed in turns, no such start (BENCHMARKS.md, change 29).
  const turns = 5;
  for (let turn = 0; turn < turns; turn += 1) {
    for (const contender of contenders) {
      for (const auth of auths) await issuanceRun(contender.server, contender.admin, auth, 8, FULL_PLAN.issuance.warmup / turns, csrs);
    }
  }
  for (const contender of contenders) {
    for (const auth of auths) await issuanceRun(contender.server, contender.admin, auth, concurrency, count, csrs);
  }
  // Every timed run, by authentication and side (`bootstrap A`, …).
  const runs = new Map<string, IssuanceRunResult[]>();
  const ratios = new Map<IssuanceAuth, number[]>();
  for (let pair = 0; pair < pairs; pair += 1) {
    const order = pair % 2 === 0 ? contenders : [...contenders].reverse();
    const rate: Record<string, number> = {};
    for (const contender of order) {
      for (const auth of auths) {
        const run = await issuanceRun(contender.server, contender.admin, auth, concurrency, count, csrs);
        if (run.errors > 0) throw new Error(`${contender.label} ${auth}: ${run.errors} failed requests (${run.errorSamples.join('; ')})`);
        const key = `${auth} ${contender.label}`;
        rate[key] = run.perSecond;
        runs.set(key, [...(runs.get(key) ?? []), run]);
      }
    }
    const line = auths.map((auth) => {
      const a = rate[`${auth} A`] ?? 0;
      const b = rate[`${auth} B`] ?? 0;
      ratios.set(auth, [...(ratios.get(auth) ?? []), b / a]);
      return `${auth} ${a.toFixed(0)} → ${b.toFixed(0)} (${(b / a).toFixed(2)})`;
    });
    log(`pair ${pair + 1}/${pairs}: ${line.join(', ')}`);
  }
  process.stdout.write(`A = ${checkouts.A}\nB = ${checkouts.B}\n${pairs} pairs of ${count} issuances at concurrency ${concurrency}, order alternating\n\n`);
  process.stdout.write(
    '| auth | A certs/s | B certs/s | A server CPU/cert (ms) | B server CPU/cert (ms) | A p99 (ms) | B p99 (ms) | B/A per pair, median (range) | pairs B won |\n' +
      '|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const auth of auths) {
    const ratio = summarize(ratios.get(auth) ?? []);
    const cell = (label: string, field: (run: IssuanceRunResult) => number, digits: number) =>
      summarizeField(runs.get(`${auth} ${label}`) ?? [], field).median.toFixed(digits);
    const [rateOf, cpuOf, p99Of] = [(r: IssuanceRunResult) => r.perSecond, (r: IssuanceRunResult) => r.cpuMsPerCert, (r: IssuanceRunResult) => r.p99Ms];
    process.stdout.write(
      `| ${auth} | ${cell('A', rateOf, 0)} | ${cell('B', rateOf, 0)} | ${cell('A', cpuOf, 2)} | ${cell('B', cpuOf, 2)} | ${cell('A', p99Of, 1)} | ${cell('B', p99Of, 1)} | ` +
        `${ratio.median.toFixed(3)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}) | ${ratio.runs.filter((r) => r > 1).length}/${ratio.runs.length} |\n`,
    );
  }
} finally {
  for (const contender of contenders) {
    await contender.server.stop();
    await contender.database.close();
  }
}
