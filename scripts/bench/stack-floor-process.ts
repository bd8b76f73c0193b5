/**
 * Starting the floor server (`stack-floor-server.ts`) in a child process, for `stack-floor.ts`
 * and `instruction-count.ts`: its TLS identity, its tables, and the process itself, run as
 * Trustroot's server is (`npm start`'s Node options) or under a tool such as valgrind.
 */
import { spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { x509 } from '../../src/domain/x509/crypto-provider.ts';
import type { LoadTask } from './closed-loop.ts';
import type { BenchClient } from './http-client.ts';
import { serverArgs } from './server-process.ts';
import type { FloorShape } from './stack-floor-server.ts';

export interface FloorTls {
  keyPem: string;
  certPem: string;
}

export interface FloorServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A throwaway P-256 identity for 127.0.0.1: the floor server's certificate and its clients' trust anchor. */
export async function selfSignedTls(): Promise<FloorTls> {
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

/** The floor server's tables, in the database at `url`. */
export async function prepareFloorTables(url: string): Promise<void> {
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

/** Starts the floor server for `shape` and waits until it listens; `commandPrefix` runs it under a tool. */
export async function startFloorServer(shape: FloorShape, databaseUrl: string, tls: FloorTls, commandPrefix: string[] = []): Promise<FloorServer> {
  const [command = process.execPath, ...args] = [...commandPrefix, process.execPath, ...serverArgs('start').slice(0, -1), 'scripts/bench/stack-floor-server.ts'];
  const child = spawn(command, args, {
    env: { ...process.env, FLOOR_SHAPE: shape, FLOOR_DATABASE_URL: databaseUrl, FLOOR_TLS_KEY: tls.keyPem, FLOOR_TLS_CERT: tls.certPem },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async (): Promise<void> => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the floor server exited (${code})`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^listening (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      });
    });
    return { port, pid: child.pid ?? 0, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One issuance request to the floor server, as the issuance benchmark sends Trustroot one: the `index`-th CSR as the JSON body. */
export function floorIssuance(client: BenchClient, csrs: string[]): LoadTask {
  return async (index) => {
    const body = JSON.stringify({ csr: csrs[index % csrs.length], profile: 'peer' });
    const response = await client.request({ method: 'POST', path: '/v1/certificates', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body });
    return response.status === 201 ? undefined : `HTTP ${response.status}`;
  };
}
