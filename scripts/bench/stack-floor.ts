/**
 * `node --import tsx scripts/bench/stack-floor.ts`: how fast can the stack itself go on this
 * machine? Starts `stack-floor-server.ts` (Node's HTTPS with Trustroot's TLS settings, express,
 * `pg`, a commit per request, and nothing else) in a child process with the server's Node options,
 * and loads it exactly as the issuance benchmark loads Trustroot (keep-alive HTTPS, the same P-256
 * CSRs as the JSON body, closed loop at concurrency 1 and 32). Four shapes: `one-commit` (a single
 * INSERT, autocommit: the least a stored issuance can cost), `trustroot-round-trips` (Trustroot's
 * round trips for a lone request since change 28: the token read beside the transaction's first
 * round trip, then the insert with COMMIT; each request its own transaction), and each
 * of the two `+crypto`: with the cryptography no issuance can skip (the CSR key's import and
 * signature check, the leaf's signature, its serial and hashes, as Trustroot does them) where
 * Trustroot does it. Each line: requests/s, p50/p99, CPU per request of the server and of the whole
 * machine. `BENCH_DATABASE_URL` as for `npm run bench`; `ROUNDS` (default 3). Not part of
 * `npm run bench`: an experiment whose answer is recorded in BENCHMARKS.md.
 */
import { openBenchDatabase } from './bench-database.ts';
import { runClosedLoop } from './closed-loop.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient } from './http-client.ts';
import { machineBusySeconds } from './machine-load.ts';
import { procCpuSeconds } from './server-process.ts';
import type { FloorShape } from './stack-floor-server.ts';
import { floorIssuance, prepareFloorTables, selfSignedTls, startFloorServer, type FloorTls } from './stack-floor-process.ts';

const REQUESTS = 2000;
const WARM_UP = 300;
const rounds = Number(process.env.ROUNDS ?? 3);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function measure(shape: FloorShape, databaseUrl: string, tls: FloorTls, csrs: string[]): Promise<void> {
  const server = await startFloorServer(shape, databaseUrl, tls);
  try {
    const { port, pid } = server;
    for (const concurrency of [1, 32]) {
      const client = createBenchClient({ baseUrl: `https://127.0.0.1:${port}`, caPem: tls.certPem, maxSockets: concurrency });
      const post = floorIssuance(client, csrs);
      await runClosedLoop(WARM_UP, concurrency, post);
      const serverBefore = await procCpuSeconds(pid);
      const machineBefore = await machineBusySeconds();
      const result = await runClosedLoop(REQUESTS, concurrency, post);
      const serverMs = ((await procCpuSeconds(pid)) - serverBefore) * 1000;
      const machineMs = ((await machineBusySeconds()) - machineBefore) * 1000;
      client.close();
      log(
        `${shape.padEnd(28)} c=${String(concurrency).padStart(2)}: ${result.perSecond.toFixed(0)} requests/s, p50 ${result.p50Ms.toFixed(1)} ms, ` +
          `p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors}, CPU per request: server ${(serverMs / REQUESTS).toFixed(2)} ms, machine ${(machineMs / REQUESTS).toFixed(2)} ms`,
      );
      if (result.errors > 0) throw new Error(`requests failed: ${result.errorSamples.join('; ')}`);
    }
  } finally {
    await server.stop();
  }
}

const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
try {
  await prepareFloorTables(database.url);
  const tls = await selfSignedTls();
  const csrs = await makeCsrs(Array.from({ length: 500 }, (_, i) => `f${i}.bench.svc`));
  for (let index = 0; index < rounds; index += 1) {
    for (const shape of ['one-commit', 'one-commit+crypto', 'trustroot-round-trips', 'trustroot-round-trips+crypto'] as const) await measure(shape, database.url, tls, csrs);
  }
} finally {
  await database.close();
}
