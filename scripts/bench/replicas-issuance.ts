/**
 * `node --import tsx scripts/bench/replicas-issuance.ts`: does a second server process on the
 * same machine pay? One server and a replica of it (same database, CA keys and admin token, own
 * ports) are started from the compiled build; then rounds alternate between sending every
 * request to the first and spreading them over both (connections split evenly), issuing with
 * single-use bootstrap tokens at `CONCURRENCY` (default 32), `ROUNDS` times each (default 3).
 * Each line: certificates/s, p50/p99, errors, and the whole machine's CPU per certificate.
 * `BENCH_DATABASE_URL` as for `npm run bench`. Not part of `npm run bench`: an experiment whose
 * answer is recorded in BENCHMARKS.md ("What limits each number").
 */
import { openBenchDatabase } from './bench-database.ts';
import { runClosedLoop } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient, type BenchClient } from './http-client.ts';
import { ISSUANCE_SERVICE } from './issuance-scenario.ts';
import { machineBusySeconds } from './machine-load.ts';
import { buildServer, startServerProcess, type ServerProcess } from './server-process.ts';
import { issueCertificate, mintBootstrapTokens, registerService } from './trustroot-api.ts';

const concurrency = Number(process.env.CONCURRENCY ?? 32);
const rounds = Number(process.env.ROUNDS ?? 3);
const REQUESTS = 1200;
const WARM_UP = 100;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Clients on `servers`, `concurrency` keep-alive connections in all, handshakes done. */
async function warmClients(servers: ServerProcess[]): Promise<BenchClient[]> {
  const perServer = Math.ceil(concurrency / servers.length);
  const clients = servers.map((server) => createBenchClient({ baseUrl: server.apiUrl, caPem: server.rootPem, maxSockets: perServer }));
  await Promise.all(clients.flatMap((client) => Array.from({ length: perServer }, () => client.request({ method: 'GET', path: '/healthz' }))));
  return clients;
}

async function round(admin: BenchClient, first: ServerProcess, servers: ServerProcess[], csrs: string[]): Promise<void> {
  const tokens = await mintBootstrapTokens(admin, first.adminToken, new Array<string>(REQUESTS + WARM_UP).fill(ISSUANCE_SERVICE));
  const clients = await warmClients(servers);
  const issue = async (index: number): Promise<string | undefined> => {
    const client = clients[index % clients.length] as BenchClient;
    return (await issueCertificate(client, tokens[index] ?? '', csrs[index % csrs.length] ?? '')).error;
  };
  try {
    await runClosedLoop(WARM_UP, 8, (index) => issue(REQUESTS + index));
    const machineBefore = await machineBusySeconds();
    const result = await runClosedLoop(REQUESTS, concurrency, issue);
    const machineMs = ((await machineBusySeconds()) - machineBefore) * 1000;
    log(
      `${servers.length} process${servers.length === 1 ? ' ' : 'es'} c=${concurrency}: ${result.perSecond.toFixed(0)} certs/s, ` +
        `p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors}, machine ${(machineMs / REQUESTS).toFixed(2)} ms CPU/cert`,
    );
    if (result.errors > 0) throw new Error(`requests failed: ${result.errorSamples.join('; ')}`);
  } finally {
    for (const client of clients) client.close();
  }
}

await buildServer();
const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
const first = await startServerProcess({ databaseUrl: database.url, logLevel: 'info' });
let replica: ServerProcess | undefined;
try {
  replica = await startServerProcess({ databaseUrl: database.url, logLevel: 'info', replicaOf: first });
  const admin = createBenchClient({ baseUrl: first.apiUrl, caPem: first.rootPem, maxSockets: 8 });
  await registerService(admin, first.adminToken, ISSUANCE_SERVICE, ['*.bench.svc']);
  const csrs = await makeCsrs(Array.from({ length: 1000 }, (_, i) => `r${i}.bench.svc`));
  for (let index = 0; index < rounds; index += 1) {
    await round(admin, first, [first], csrs);
    await round(admin, first, [first, replica], csrs);
  }
  admin.close();
} finally {
  await replica?.stop();
  await first.stop();
  await database.close();
}
