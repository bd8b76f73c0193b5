/**
 * `node --import tsx scripts/bench/stack-floor.ts`: how fast can the stack itself go on this
 * machine? Starts `stack-floor-server.ts` (Node's HTTPS with Trustroot's TLS settings, express,
 * `pg`, a commit per request, and nothing else) in a child process with the server's Node options,
 * and loads it exactly as the issuance benchmark loads Trustroot (keep-alive HTTPS, the same P-256
 * CSRs as the JSON body, closed loop at concurrency 1 and 32). Four shapes: `one-commit` (a single
 * INSERT, autocommit: the least a stored issuance can cost), `trustroot-round-trips` (Trustroot's
 * three round trips for a lone request since change 17, each request its own transaction), and each
 * of the two `+crypto`: with the cryptography no issuance can skip (the CSR key's import and
 * signature check, the leaf's signature, its serial and hashes, as Trustroot does them) where
 * Trustroot does it. Each line: requests/s, p50/p99, CPU per request of the server and of the whole
 * machine. `BENCH_DATABASE_URL` as for `npm run bench`; `ROUNDS` (default 3). Not part of
 * `npm run bench`: an experiment whose answer is recorded in BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { webcrypto } from 'node:crypto';
import pg from 'pg';
import { openBenchDatabase } from './bench-database.ts';
import { runClosedLoop } from './closed-loop.ts';
import { x509 } from '../../src/domain/x509/crypto-provider.ts';
import { makeCsrs } from './csr-pool.ts';
import { createBenchClient } from './http-client.ts';
import { machineBusySeconds } from './machine-load.ts';
import { procCpuSeconds, serverArgs } from './server-process.ts';
import type { FloorShape } from './stack-floor-server.ts';

const REQUESTS = 2000;
const WARM_UP = 300;
const rounds = Number(process.env.ROUNDS ?? 3);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function selfSignedTls(): Promise<{ keyPem: string; certPem: string }> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=127.0.0.1',
    keys,
    signingAlgorithm: algorithm,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return { keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`, certPem: certificate.toString('pem') };
}

async function prepareTables(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS floor_certificates (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE IF NOT EXISTS floor_lookups (id int PRIMARY KEY, payload text NOT NULL, used bigint NOT NULL DEFAULT 0);
      INSERT INTO floor_lookups (id, payload) SELECT g, repeat('x', 200) FROM generate_series(1, 4) g ON CONFLICT DO NOTHING;`);
  } finally {
    await client.end();
  }
}

async function measure(shape: FloorShape, databaseUrl: string, tls: { keyPem: string; certPem: string }, csrs: string[]): Promise<void> {
  const child = spawn(process.execPath, [...serverArgs('start').slice(0, -1), 'scripts/bench/stack-floor-server.ts'], {
    env: { ...process.env, FLOOR_SHAPE: shape, FLOOR_DATABASE_URL: databaseUrl, FLOOR_TLS_KEY: tls.keyPem, FLOOR_TLS_CERT: tls.certPem },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^listening (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      });
    });
    const pid = child.pid ?? 0;
    for (const concurrency of [1, 32]) {
      const client = createBenchClient({ baseUrl: `https://127.0.0.1:${port}`, caPem: tls.certPem, maxSockets: concurrency });
      const post = async (index: number): Promise<string | undefined> => {
        const body = JSON.stringify({ csr: csrs[index % csrs.length], profile: 'peer' });
        const response = await client.request({ method: 'POST', path: '/v1/certificates', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body });
        return response.status === 201 ? undefined : `HTTP ${response.status}`;
      };
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
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
}

const database = await openBenchDatabase(process.env.BENCH_DATABASE_URL || undefined);
try {
  await prepareTables(database.url);
  const tls = await selfSignedTls();
  const csrs = await makeCsrs(Array.from({ length: 500 }, (_, i) => `f${i}.bench.svc`));
  for (let index = 0; index < rounds; index += 1) {
    for (const shape of ['one-commit', 'one-commit+crypto', 'trustroot-round-trips', 'trustroot-round-trips+crypto'] as const) await measure(shape, database.url, tls, csrs);
  }
} finally {
  await database.close();
}
