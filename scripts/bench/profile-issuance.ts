/**
 * `node --import tsx scripts/bench/profile-issuance.ts`: one issuance cell of the benchmark
 * (both authentications, one concurrency, one repetition) against a freshly built server, for
 * profiling: `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` writes the server's
 * CPU profile when it stops. `CONCURRENCY` (default 32) and `BENCH_DATABASE_URL` as for
 * `npm run bench`. Prints each run's line on stderr and the cells as JSON lines on stdout.
 */
import { openBenchDatabase } from './bench-database.ts';
import { FULL_PLAN, type BenchPlan } from './bench-plan.ts';
import { createBenchClient } from './http-client.ts';
import { benchIssuance } from './issuance-scenario.ts';
import { buildServer, startServerProcess } from './server-process.ts';

const concurrency = Number(process.env.CONCURRENCY ?? 32);
const plan: BenchPlan = { ...FULL_PLAN, repetitions: 1, issuance: { ...FULL_PLAN.issuance, concurrencies: [concurrency] } };
const log = (line: string) => process.stderr.write(`${line}\n`);

await buildServer();
const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((arg) => arg !== '');
const server = await startServerProcess({ databaseUrl: database.url, logLevel: process.env.BENCH_SERVER_LOG_LEVEL ?? 'info', nodeArgs });
try {
  log(`server RSS once started: ${(await server.rssMB()).toFixed(0)} MB`);
  const admin = createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: 16 });
  for (const cell of await benchIssuance(server, admin, plan, log)) process.stdout.write(`${JSON.stringify(cell)}\n`);
  log(`server peak RSS: ${(await server.peakRssMB()).toFixed(0)} MB`);
} finally {
  await server.stop();
  await database.close();
}
