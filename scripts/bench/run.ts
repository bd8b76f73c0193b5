/**
 * `npm run bench [-- --quick]`: Trustroot's benchmark harness (see BENCHMARKS.md).
 *
 * Self-contained and loopback-only: it opens a database of its own (an embedded PostgreSQL in a
 * scratch folder, or a new database on BENCH_DATABASE_URL), measures the machine's raw limits,
 * starts Trustroot as a child process, prepares every input (services, bootstrap tokens, CSRs,
 * OCSP requests, inventory rows) outside the timed parts, runs each scenario several times, and
 * writes bench/results/<timestamp>.json and a markdown table (stdout; for a full run also
 * bench/results/<timestamp>.md and the "latest" section of BENCHMARKS.md).
 *
 * `--quick` runs every scenario once at tiny sizes in well under a minute: a CI smoke test of
 * the harness, not a measurement. Any failed request makes the exit code 1.
 */
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openBenchDatabase, type BenchDatabase } from './bench-database.ts';
import { FULL_PLAN, QUICK_PLAN } from './bench-plan.ts';
import { renderMarkdown, updateBenchmarksMd, type BenchResults } from './bench-report.ts';
import { benchBootStorm } from './boot-storm-scenario.ts';
import { benchCrlBuild } from './crl-scenario.ts';
import { benchExpiryScan } from './expiry-scan-scenario.ts';
import { createBenchClient } from './http-client.ts';
import { benchIssuance } from './issuance-scenario.ts';
import { cpuSnapshot, otherCpuShare } from './machine-load.ts';
import { measureInsertRate, measureSignRate } from './raw-limits.ts';
import { benchOcspThroughput, benchRevocationLatency } from './revocation-scenario.ts';
import { buildServer, serverArgs, startServerProcess, type ServerProcess } from './server-process.ts';
import { summarize } from './stats.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const BENCHMARKS_MD = path.join(REPO_ROOT, 'BENCHMARKS.md');

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== '--quick');
if (unknown.length > 0) {
  process.stderr.write(`usage: npm run bench [-- --quick]   (unknown: ${unknown.join(' ')})\n`);
  process.exit(2);
}
const plan = args.includes('--quick') ? QUICK_PLAN : FULL_PLAN;
const serverLogLevel = process.env.BENCH_SERVER_LOG_LEVEL ?? 'info';
const serverNodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
const started = new Date();
const startedMs = performance.now();
const loadAtStart = loadavg()[0] ?? 0;
const cpuAtStart = await cpuSnapshot();

/** Progress goes to stderr so that stdout carries only the markdown report. */
function log(line: string): void {
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${line}\n`);
}

/** `20261128T160503Z`: an ISO 8601 (basic format) UTC timestamp, safe in file names. */
function fileStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

let database: BenchDatabase | undefined;
let server: ServerProcess | undefined;
let cleaningUp: Promise<void> | undefined;
let interrupted = false;

function cleanUp(): Promise<void> {
  cleaningUp ??= (async () => {
    await server?.stop().catch((error: unknown) => log(`stopping the server failed: ${String(error)}`));
    await database?.close().catch((error: unknown) => log(`closing the database failed: ${String(error)}`));
  })();
  return cleaningUp;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: stopping the server and the database`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  log(`Trustroot benchmark, ${plan.mode} run (${plan.repetitions} repetition(s) per measurement)`);
  if (loadAtStart > 1) log(`warning: load average ${loadAtStart.toFixed(1)} before the start: other processes compete for the CPU`);
  database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
  log(`database: ${database.description}`);

  log('raw limits (server not running yet)');
  const signRuns: number[] = [];
  const insertRuns: number[] = [];
  let insertErrors = 0;
  for (let repetition = 0; repetition < plan.repetitions; repetition += 1) {
    signRuns.push(measureSignRate(plan.limits.signSeconds));
    const inserts = await measureInsertRate(database.url, plan.limits.insertSeconds, plan.limits.insertConnections);
    insertRuns.push(inserts.perSecond);
    insertErrors += inserts.errors;
    log(`  crypto.sign P-256: ${signRuns.at(-1)?.toFixed(0)}/s; PostgreSQL inserts (${plan.limits.insertConnections} connections): ${inserts.perSecond.toFixed(0)}/s`);
  }

  log('building the server (npm run build)');
  await buildServer();
  const serverCommand = ['node', ...serverNodeArgs, ...serverArgs('start:built')].join(' ');
  log(`starting Trustroot (child process, ${serverCommand})`);
  server = await startServerProcess({ databaseUrl: database.url, logLevel: serverLogLevel, nodeArgs: serverNodeArgs });
  const idleRssMB = await server.rssMB();
  // Start-up has its own peak (scrypt unlocking the CA keys, 128 MiB for a fraction of a second);
  // the figure against the target is what the server reaches while it serves.
  const startupPeakRssMB = await server.peakRssMB();
  await server.resetPeakRss();
  log(`  pid ${server.pid}, ${server.apiUrl}, ${server.publicUrl}, RSS ${idleRssMB.toFixed(0)} MB (start-up peak ${startupPeakRssMB.toFixed(0)} MB)`);
  const admin = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: 16 });
  try {
    log('issuance');
    const issuance = await benchIssuance(server, admin, plan, log);
    const issuancePeakRssMB = await server.peakRssMB();
    const signRateAfterIssuance = measureSignRate(plan.limits.signSeconds);
    log(`  crypto.sign P-256 after the issuance cells: ${signRateAfterIssuance.toFixed(0)}/s`);
    log('revocation → CRL and OCSP');
    const revocation = await benchRevocationLatency(server, admin, plan, log);
    log('OCSP throughput');
    const ocsp = await benchOcspThroughput(server, admin, plan, log);
    log('boot storm');
    const bootStorm = await benchBootStorm(server, admin, plan, log);
    log('CRL build (in this process, buildCrl directly)');
    const crl = await benchCrlBuild(plan, log);
    log('expiry scan (in this process, ExpiryScanService.scan on the server database)');
    const expiryScan = await benchExpiryScan(server, admin, database.url, plan, log);
    const peakRssMB = await server.peakRssMB();
    const signRateAtEnd = measureSignRate(plan.limits.signSeconds);
    log(`crypto.sign P-256 at the end: ${signRateAtEnd.toFixed(0)}/s`);
    const otherCpu = otherCpuShare(cpuAtStart, await cpuSnapshot());
    if (otherCpu > 0.1) log(`warning: other processes used ${(otherCpu * 100).toFixed(0)}% of the machine's CPU during the run`);

    const errors = issuance.reduce((sum, c) => sum + c.errors, 0) + ocsp.errors + bootStorm.errors + insertErrors;
    const cpu = cpus();
    const results: BenchResults = {
      startedAt: started.toISOString(),
      durationSeconds: (performance.now() - startedMs) / 1000,
      mode: plan.mode,
      repetitions: plan.repetitions,
      plan,
      machine: {
        cpu: cpu[0]?.model.trim() ?? 'unknown CPU',
        cores: cpu.length,
        memoryGB: totalmem() / 1e9,
        os: `${type()} ${release()}`,
        node: process.versions.node,
        database: database.description.replace(/ in \/\S+, port \d+$/, ''),
        loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0] ?? 0 },
        otherCpuShare: otherCpu,
        signRateProbes: { afterIssuance: signRateAfterIssuance, atEnd: signRateAtEnd },
      },
      limits: { signsPerSecond: summarize(signRuns), insertsPerSecond: summarize(insertRuns), insertConnections: plan.limits.insertConnections, insertErrors },
      issuance,
      revocation,
      ocsp,
      bootStorm,
      crl,
      expiryScan,
      server: { command: serverCommand, idleRssMB, startupPeakRssMB, issuancePeakRssMB, peakRssMB, logLevel: serverLogLevel },
      errors,
    };
    const markdown = renderMarkdown(results);
    await mkdir(RESULTS_DIR, { recursive: true });
    const stem = path.join(RESULTS_DIR, `${fileStamp(started)}${plan.mode === 'quick' ? '-quick' : ''}`);
    await writeFile(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(markdown);
    log(`results: ${path.relative(REPO_ROOT, stem)}.json`);
    if (plan.mode === 'full') {
      await writeFile(`${stem}.md`, markdown);
      await updateBenchmarksMd(BENCHMARKS_MD, markdown);
      log(`report: ${path.relative(REPO_ROOT, stem)}.md and BENCHMARKS.md (latest)`);
    }
    if (errors > 0) {
      // The server's own account of the failures (request ids, stacks); *.log is git-ignored.
      await copyFile(server.logFile, `${stem}.server.log`);
      const samples = [...issuance.flatMap((c) => c.errorSamples), ...ocsp.errorSamples, ...bootStorm.errorSamples];
      log(`FAILED: ${errors} requests failed, e.g. ${samples.slice(0, 3).join('; ')}; server log: ${path.relative(REPO_ROOT, stem)}.server.log`);
      return 1;
    }
    log(`done in ${results.durationSeconds.toFixed(1)} s`);
    return 0;
  } catch (error) {
    if (!interrupted) log(`server log tail:\n${await server.logTail()}`);
    throw error;
  } finally {
    admin.close();
  }
}

let code = 1;
try {
  code = await main();
} catch (error) {
  if (!interrupted) log(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanUp();
}
process.exit(code);
