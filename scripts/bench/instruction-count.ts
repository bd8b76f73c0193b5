/**
 * `node --import tsx scripts/bench/instruction-count.ts`: how many instructions does a lone
 * issuance cost the server, counted rather than timed? Runs Trustroot's built server, then the
 * floor server's `trustroot-round-trips+crypto` shape (`stack-floor.ts`), under valgrind's
 * callgrind with one output per thread, and sends each the same closed loop at concurrency 1:
 * `WARM` untimed issuances (default 3,000; JIT and heap settle), then `ROUNDS` rounds (default 3)
 * of `MEASURE` issuances (default 150) with instrumentation on. Each round prints the instructions
 * per issuance of the event-loop thread and of every other thread (V8's compiler and GC helpers,
 * libuv's pool).
 *
 * The VMs this project is measured on change speed from hour to hour; instruction counts do not.
 * An event loop's count repeats within about 1 % from round to round; the other threads' varies
 * with when V8 compiles and collects. Counts leave out the kernel (system calls) and cache misses,
 * so they compare code, not seconds. Runs take ~10 minutes (valgrind runs Node 30–50 times
 * slower). `TARGETS` (comma-separated: `trustroot`, `floor`) narrows the run. Bootstrap tokens
 * are minted before each round, with instrumentation off. Not part of `npm run bench`: an
 * experiment whose answer is recorded in BENCHMARKS.md.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openBenchDatabase } from './bench-database.ts';
import { runClosedLoop, type LoadTask } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient } from './http-client.ts';
import { ISSUANCE_SERVICE } from './issuance-scenario.ts';
import { buildServer, startServerProcess } from './server-process.ts';
import { floorIssuance, prepareFloorTables, selfSignedTls, startFloorServer } from './stack-floor-process.ts';
import { issueCertificate, mintBootstrapTokens, registerService } from './trustroot-api.ts';

const WARM = Number(process.env.WARM ?? 3000);
const MEASURE = Number(process.env.MEASURE ?? 150);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TARGETS = (process.env.TARGETS ?? 'trustroot,floor').split(',');
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const run = promisify(execFile);

/** A server under callgrind: its pid, its output folder, and a way to keep it busy. */
interface Instrumented {
  pid: number;
  outputs: string;
  /** A cheap request: valgrind takes a command only while the program runs. */
  ping(): Promise<unknown>;
}

function callgrindPrefix(outputs: string): string[] {
  return ['valgrind', '--tool=callgrind', '--separate-threads=yes', '--instr-atstart=no', `--callgrind-out-file=${outputs}/callgrind.%p`];
}

/** Sends a `callgrind_control` command, pinging the server until valgrind has taken it. */
async function control(server: Instrumented, option: string): Promise<void> {
  let taken = false;
  const pending = run('callgrind_control', [option, String(server.pid)]).finally(() => {
    taken = true;
  });
  while (!taken) {
    await server.ping().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await pending;
}

/** Instructions (Ir) in each thread's dump of round `label`, by thread number. */
async function dumpedInstructions(outputs: string, label: string): Promise<Map<string, number>> {
  const byThread = new Map<string, number>();
  for (const name of await readdir(outputs)) {
    const text = await readFile(path.join(outputs, name), 'utf8');
    if (!text.includes(`\ndesc: Trigger: dump ${label}\n`)) continue;
    const total = /\nsummary: (\d+)/.exec(text)?.[1];
    const thread = /-(\d+)$/.exec(name)?.[1] ?? name;
    if (total !== undefined) byThread.set(thread, (byThread.get(thread) ?? 0) + Number(total));
  }
  return byThread;
}

/** Warms the server up, then counts `ROUNDS` rounds; `prepare` readies each loop of `count`, uninstrumented. */
async function countRounds(name: string, server: Instrumented, prepare: (count: number) => Promise<LoadTask>): Promise<void> {
  const warm = await runClosedLoop(WARM, 1, await prepare(WARM));
  if (warm.errors > 0) throw new Error(`${name}: warm-up failed: ${warm.errorSamples.join('; ')}`);
  log(`${name}: warm-up of ${warm.requests} issuances done`);
  for (let round = 0; round < ROUNDS; round += 1) {
    const task = await prepare(MEASURE);
    const label = `round${round}`;
    await control(server, '--instr=on');
    await control(server, '--zero');
    const result = await runClosedLoop(MEASURE, 1, task);
    await control(server, `--dump=${label}`);
    await control(server, '--instr=off');
    if (result.errors > 0) throw new Error(`${name}: issuances failed: ${result.errorSamples.join('; ')}`);
    const byThread = [...(await dumpedInstructions(server.outputs, label))].sort(([a], [b]) => a.localeCompare(b));
    const perIssuance = (ir: number) => (ir / MEASURE / 1e6).toFixed(3);
    const [, main = 0] = byThread[0] ?? [];
    const others = byThread.slice(1).reduce((sum, [, ir]) => sum + ir, 0);
    log(
      `${name} round ${round + 1}: per issuance, event loop ${perIssuance(main)} M instructions, other threads ${perIssuance(others)} M ` +
        `(${byThread.slice(1).map(([thread, ir]) => `${thread}: ${perIssuance(ir)}`).join(', ')})`,
    );
  }
}

async function countTrustroot(databaseUrl: string, csrs: string[]): Promise<void> {
  await buildServer();
  const outputs = await mkdtemp(path.join(tmpdir(), 'trustroot-callgrind-'));
  const server = await startServerProcess({ databaseUrl, logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'info', commandPrefix: callgrindPrefix(outputs), readyTimeoutMs: 900_000 });
  const admin = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: 4 });
  const api = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: 1 });
  try {
    log(`trustroot: up under callgrind, pid ${server.pid}`);
    await registerService(admin, server.adminToken, ISSUANCE_SERVICE, ['*.bench.svc']);
    const instrumented = { pid: server.pid, outputs, ping: () => api.request({ method: 'GET', path: '/healthz' }) };
    await countRounds('trustroot', instrumented, async (count) => {
      const tokens = await mintBootstrapTokens(admin, server.adminToken, new Array<string>(count).fill(ISSUANCE_SERVICE));
      return async (index) => (await issueCertificate(api, tokens[index] ?? '', csrs[index % csrs.length] ?? '')).error;
    });
  } finally {
    admin.close();
    api.close();
    await server.stop();
    await rm(outputs, { recursive: true, force: true });
  }
}

async function countFloor(databaseUrl: string, csrs: string[]): Promise<void> {
  await prepareFloorTables(databaseUrl);
  const tls = await selfSignedTls();
  const outputs = await mkdtemp(path.join(tmpdir(), 'trustroot-callgrind-'));
  const floor = await startFloorServer('trustroot-round-trips+crypto', databaseUrl, tls, callgrindPrefix(outputs));
  const api = createBenchClient({ baseUrl: `https://127.0.0.1:${floor.port}`, caPem: tls.certPem, maxSockets: 1 });
  try {
    log(`floor: up under callgrind, pid ${floor.pid}`);
    // The floor server answers anything but an issuance with express's 404: a cheap ping.
    const instrumented = { pid: floor.pid, outputs, ping: () => api.request({ method: 'GET', path: '/healthz' }) };
    const issue = floorIssuance(api, csrs);
    await countRounds('floor (three round trips with the crypto)', instrumented, async () => issue);
  } finally {
    api.close();
    await floor.stop();
    await rm(outputs, { recursive: true, force: true });
  }
}

const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
try {
  const csrs = await makeCsrs(Array.from({ length: 100 }, (_, i) => `w${i}.bench.svc`));
  if (TARGETS.includes('trustroot')) await countTrustroot(database.url, csrs);
  if (TARGETS.includes('floor')) await countFloor(database.url, csrs);
} finally {
  await database.close();
}
