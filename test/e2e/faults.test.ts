import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { BootstrapTokenDto, CertificateDto, IssuedCertificateDto } from '../../src/contracts/certificates.ts';
import { x509 } from '../../src/domain/x509/crypto-provider.ts';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../../src/storage/embedded-postgres.ts';
import { freePort } from '../support/free-port.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Fault injection. Every fault uses a PostgreSQL this file starts and stops itself (a private
 * embedded cluster in a temporary folder), never the machine's shared server:
 *   1. PostgreSQL stops in the middle of a load of issuances, then comes back;
 *   2. the real server process is SIGKILLed in the middle of issuances and revocations;
 *   3. two replicas on one database issue and revoke concurrently.
 * Afterwards the inventory, the bootstrap tokens and the CRLs must agree with what clients saw.
 * To land a fault between a revocation's commit and its CRL republication deterministically, the
 * test holds the advisory lock CRL publication takes (as a slow concurrent publisher would).
 */

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The lock key base CRL publication takes per issuer (src/storage/crl.repository.ts). */
const CRL_LOCK_BASE = 7_301_100;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface Reply {
  status: number;
  contentType: string;
  retryAfter: string | undefined;
  text: string;
  body: Buffer;
}

interface SendOptions {
  method?: string;
  token?: string;
  body?: unknown;
  /** PEM of the CA to trust for https:// URLs. */
  ca?: string;
  /** The request is abandoned (an error) after this long; default 30 s. */
  timeoutMs?: number;
}

/** One HTTP(S) request with its own connection and a hard time bound. */
function send(url: string, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const method = options.method ?? (payload === undefined ? 'GET' : 'POST');
    const onResponse = (response: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        const retryAfter = response.headers['retry-after'];
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers['content-type'] ?? ''),
          retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          text: body.toString('utf8'),
          body,
        });
      });
      response.on('error', reject);
    };
    const request = url.startsWith('https:')
      ? https.request(url, { method, headers, ca: options.ca, agent: false }, onResponse)
      : http.request(url, { method, headers, agent: false }, onResponse);
    const timeoutMs = options.timeoutMs ?? 30_000;
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(payload);
  });
}

function json<T>(reply: Reply, status: number): T {
  assert.equal(reply.status, status, reply.text);
  return JSON.parse(reply.text) as T;
}

/** What happened to one request: an HTTP answer or a connection-level error. */
interface Attempt {
  label: string;
  startedAt: number;
  endedAt: number;
  reply?: Reply;
  error?: string;
}

async function attempt(label: string, call: () => Promise<Reply>): Promise<Attempt> {
  const startedAt = performance.now();
  try {
    const reply = await call();
    return { label, startedAt, endedAt: performance.now(), reply };
  } catch (error) {
    return { label, startedAt, endedAt: performance.now(), error: error instanceof Error ? error.message : String(error) };
  }
}

function describeAttempt(a: Attempt): string {
  const outcome = a.reply ? `${a.reply.status} ${a.reply.text.slice(0, 160)}` : `error: ${a.error ?? '?'}`;
  return `${a.label} (${Math.round(a.endedAt - a.startedAt)} ms): ${outcome}`;
}

/** Runs `work` over `items` with `concurrency` workers; a worker stops when `proceed` says no. */
async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>, proceed: (index: number) => Promise<boolean> | boolean = () => true): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const index = next;
        next += 1;
        const item = items[index];
        if (item === undefined) return;
        if (!(await proceed(index))) return;
        await work(item, index);
      }
    }),
  );
}

/** Polls `probe` every 200 ms until `done` holds or `timeoutMs` passed; returns the last value. */
async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<{ value: T; elapsedMs: number }> {
  const started = performance.now();
  for (;;) {
    const value = await probe();
    const elapsedMs = performance.now() - started;
    if (done(value) || elapsedMs > timeoutMs) return { value, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits for `promise`, but at most `ms` (the timer does not outlive the wait). */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A PEM PKCS#10 request for a fresh P-256 key naming `dnsName` (CN and SAN). */
async function makeCsr(dnsName: string): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${dnsName}`,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }])],
  });
  return csr.toString('pem');
}

/** SHA-256 of the certificate's DER, lower-case hex (the inventory's fingerprint format). */
function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Serials listed in `openssl crl -text` output, canonical (lower case, no leading zeros). */
function crlSerials(text: string): Set<string> {
  return new Set([...text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => (m[1] ?? '').toLowerCase().replace(/^0+(?=.)/, '')));
}

/** Fetches `<publicUrl>/crl/intermediate.crl`, verifies it with OpenSSL, returns its number and serials. */
async function fetchIntermediateCrl(publicUrl: string, files: Awaited<ReturnType<typeof pemFiles>>, label: string): Promise<{ number: bigint; serials: Set<string>; der: Buffer }> {
  const reply = await send(`${publicUrl}/crl/intermediate.crl`);
  assert.equal(reply.status, 200, reply.text);
  const file = files.path(`${label}.crl`);
  await writeFile(file, reply.body);
  const verified = await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', files.path('chain.pem'), '-noout']);
  assert.match(verified.stdout + verified.stderr, /verify OK/, verified.stderr);
  const text = await openssl(['crl', '-inform', 'DER', '-in', file, '-text', '-noout']);
  assert.equal(text.code, 0, text.stderr);
  const number = /X509v3 CRL Number:\s*\n\s*(\S+)/.exec(text.stdout)?.[1];
  assert.ok(number, text.stdout);
  return { number: BigInt(number), serials: crlSerials(text.stdout), der: reply.body };
}

/** Asserts that the intermediate's CRL numbers are unique and rise with thisUpdate. */
async function assertCrlNumbersIncrease(db: pg.Client): Promise<bigint[]> {
  const { rows } = await db.query<{ crl_number: string }>(
    `SELECT crl_number::text AS crl_number FROM crls
     WHERE issuer_id = (SELECT id FROM issuers WHERE name = 'intermediate')
     ORDER BY this_update, crl_number`,
  );
  const numbers = rows.map((row) => BigInt(row.crl_number));
  assert.ok(numbers.length > 0, 'no CRL was ever published');
  assert.equal(new Set(numbers).size, numbers.length, `duplicate CRL numbers: ${numbers.join(',')}`);
  for (let i = 1; i < numbers.length; i += 1) {
    assert.ok((numbers[i] ?? 0n) > (numbers[i - 1] ?? 0n), `CRL numbers do not rise with thisUpdate: ${numbers.join(',')}`);
  }
  return numbers;
}

interface InventoryRow {
  id: string;
  serial_hex: string;
  fingerprint_sha256: string;
  revoked_at: Date | null;
}

interface TokenRow {
  id: string;
  used_at: Date | null;
  certificate_id: string | null;
}

async function inventoryOf(db: pg.Client, service: string): Promise<InventoryRow[]> {
  const { rows } = await db.query<InventoryRow>(
    `SELECT c.id, c.serial_hex, c.fingerprint_sha256, c.revoked_at FROM certificates c
     JOIN services s ON s.id = c.service_id WHERE s.name = $1`,
    [service],
  );
  return rows;
}

async function tokensOf(db: pg.Client, service: string): Promise<TokenRow[]> {
  const { rows } = await db.query<TokenRow>(
    `SELECT b.id, b.used_at, b.certificate_id FROM bootstrap_tokens b
     JOIN services s ON s.id = b.service_id WHERE s.name = $1`,
    [service],
  );
  return rows;
}

/** Every token is used exactly when a certificate is linked to it, and that certificate exists. */
function assertTokensMatchCertificates(tokens: TokenRow[], inventory: InventoryRow[]): void {
  const ids = new Set(inventory.map((row) => row.id));
  const broken = tokens.filter((t) => (t.used_at !== null) !== (t.certificate_id !== null) || (t.certificate_id !== null && !ids.has(t.certificate_id)));
  assert.deepEqual(broken, [], 'bootstrap tokens whose use and linked certificate disagree');
}

/** Creates a database on the private cluster and returns its URL. */
async function createDatabase(postgres: RunningEmbeddedPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: postgres.connectionString });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgres.connectionString);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Holds the advisory lock CRL publication of the intermediate takes, from the test's own session. */
async function holdCrlLock(url: string): Promise<{ release(): Promise<void> }> {
  const session = new pg.Client({ connectionString: url });
  await session.connect();
  const { rows } = await session.query<{ id: string }>(`SELECT id::text AS id FROM issuers WHERE name = 'intermediate'`);
  const issuerId = rows[0]?.id;
  assert.ok(issuerId);
  await session.query('SELECT pg_advisory_lock($1::int, hashtext($2::text))', [CRL_LOCK_BASE, issuerId]);
  return {
    release: async () => {
      await session.query('SELECT pg_advisory_unlock($1::int, hashtext($2::text))', [CRL_LOCK_BASE, issuerId]);
      await session.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A Trustroot server process (scenario 2)
// ---------------------------------------------------------------------------------------------

interface ServerProcess {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --import tsx src/bin/server.ts` with `env`; resolves once it logs "Trustroot is serving". */
async function startServer(env: Record<string, string>, timeoutMs = 45_000): Promise<ServerProcess> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TRUSTROOT_') && !['DATABASE_URL', 'LOG_LEVEL', 'NODE_TEST_CONTEXT'].includes(key)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/server.ts'], { cwd: REPOSITORY_ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const server: ServerProcess = {
    child,
    stdout: [],
    stderr: [],
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let pending = '';
  let serving: () => void = () => undefined;
  const isServing = new Promise<void>((resolve) => {
    serving = resolve;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      server.stdout.push(line);
      if (line.includes('"msg":"Trustroot is serving"')) serving();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => server.stderr.push(chunk.toString('utf8')));
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    isServing.then(() => 'serving' as const),
    server.exited.then(() => 'exited' as const),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== 'serving') {
    if (outcome === 'timeout') child.kill('SIGKILL');
    throw new Error(`the server did not start (${outcome}): ${server.stderr.join('')}\n${server.stdout.slice(-20).join('\n')}`);
  }
  return server;
}

async function killServer(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill(signal);
  await server.exited;
}

// ---------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------

describe('fault injection on a private PostgreSQL', () => {
  const cluster: { dir: string; port: number; postgres: RunningEmbeddedPostgres | undefined } = { dir: '', port: 0, postgres: undefined };

  const runningPostgres = (): RunningEmbeddedPostgres => {
    assert.ok(cluster.postgres, 'the private PostgreSQL is not running');
    return cluster.postgres;
  };

  before(async () => {
    cluster.dir = await mkdtemp(path.join(tmpdir(), 'trustroot-faults-pg-'));
    await chmod(cluster.dir, 0o755);
    cluster.port = await freePort();
    cluster.postgres = await startEmbeddedPostgres({ dataDir: cluster.dir, port: cluster.port });
  });
  after(async () => {
    await cluster.postgres?.stop();
    cluster.postgres = undefined;
    if (cluster.dir !== '') await rm(cluster.dir, { recursive: true, force: true });
  });

  describe('PostgreSQL stops in the middle of a load of issuances', () => {
    const SERVICE = 'outage';
    const LOAD = 60;
    /** Requests from this index on start only once PostgreSQL has fully stopped. */
    const AFTER_STOP = 40;
    let trustroot: TestTrustroot | undefined;
    let databaseUrl: string;
    let rootPem: string;
    let adminToken: string;
    const load: { token: BootstrapTokenDto; csr: string }[] = [];
    const attempts: Attempt[] = [];
    /** Certificates clients received, by serial. */
    const received = new Map<string, IssuedCertificateDto>();
    /** Every issuance request made with each token id. */
    const byToken = new Map<string, Attempt[]>();

    const api = (): TestTrustroot => {
      assert.ok(trustroot);
      return trustroot;
    };
    const mint = async (): Promise<BootstrapTokenDto> =>
      json<BootstrapTokenDto>(await send(`${api().apiUrl}/v1/services/${SERVICE}/bootstrap-tokens`, { token: adminToken, body: {}, ca: rootPem }), 201);
    const issue = async (token: BootstrapTokenDto, csr: string, label: string): Promise<Attempt> => {
      const result = await attempt(label, () => send(`${api().apiUrl}/v1/certificates`, { token: token.token, body: { csr, profile: 'peer' }, ca: rootPem, timeoutMs: 20_000 }));
      byToken.set(token.id, [...(byToken.get(token.id) ?? []), result]);
      if (result.reply?.status === 201) {
        const issued = JSON.parse(result.reply.text) as IssuedCertificateDto;
        received.set(issued.serial, issued);
      }
      return result;
    };
    const readyz = async (): Promise<Reply> => send(`${api().apiUrl}/readyz`, { ca: rootPem, timeoutMs: 10_000 });

    before(async () => {
      databaseUrl = await createDatabase(runningPostgres(), 'faults_outage');
      trustroot = await startTestTrustroot({ database: { url: databaseUrl, drop: async () => {} }, env: { TRUSTROOT_DB_QUERY_TIMEOUT: '2s' } });
      rootPem = (await send(`${trustroot.publicUrl}/ca/root.pem`)).text;
      const initial = trustroot.instance.initialAdminToken;
      assert.ok(initial);
      adminToken = initial;
      json(await send(`${trustroot.apiUrl}/v1/services`, { token: adminToken, ca: rootPem, body: { name: SERVICE, owner: 'platform', dnsNames: [`${SERVICE}.svc`], profiles: ['peer'] } }), 201);
      const csrs = await Promise.all(Array.from({ length: LOAD }, () => makeCsr(`${SERVICE}.svc`)));
      const tokens: BootstrapTokenDto[] = [];
      await runPool(csrs, 8, async (_csr, index) => {
        tokens[index] = await mint();
      });
      for (const [index, csr] of csrs.entries()) {
        const token = tokens[index];
        assert.ok(token);
        load.push({ token, csr });
      }
    });
    after(async () => {
      await trustroot?.destroy();
      // Leave the shared cluster running for the next scenarios, whatever happened here.
      if (cluster.postgres === undefined) cluster.postgres = await startEmbeddedPostgres({ dataDir: cluster.dir, port: cluster.port });
    });

    it('requests during the outage fail fast with 503, /readyz follows, and service resumes without a restart', async (t) => {
      let completed = 0;
      let stopSentAt = Infinity;
      let stoppedAt = Infinity;
      let stopFailure: unknown;
      let markStopped: () => void = () => undefined;
      const stopped = new Promise<void>((resolve) => {
        markStopped = resolve;
      });
      await runPool(
        load,
        8,
        async (item, index) => {
          attempts[index] = await issue(item.token, item.csr, `issuance #${index}`);
          completed += 1;
          if (completed === 20) {
            stopSentAt = performance.now();
            const postgres = runningPostgres();
            cluster.postgres = undefined;
            postgres.stop().then(
              () => {
                stoppedAt = performance.now();
                markStopped();
              },
              (error: unknown) => {
                stopFailure = error;
                markStopped();
              },
            );
          }
        },
        async (index) => {
          if (index >= AFTER_STOP) await atMost(stopped, 20_000);
          return true;
        },
      );
      assert.equal(stopFailure, undefined, `stopping PostgreSQL failed: ${String(stopFailure)}`);
      assert.ok(Number.isFinite(stoppedAt), 'PostgreSQL did not stop within 20 s');
      const summary = attempts.map(describeAttempt).join('\n');

      // Trustroot stayed up: every request got an HTTP answer, none hung.
      for (const a of attempts) {
        assert.ok(a.reply, `a request ended without an HTTP answer:\n${summary}`);
        assert.ok(a.endedAt - a.startedAt < 10_000, `a request took ${Math.round(a.endedAt - a.startedAt)} ms:\n${summary}`);
      }
      // The first twenty completed before the stop was sent: issued.
      const beforeStop = attempts.filter((a) => a.endedAt < stopSentAt);
      assert.ok(beforeStop.length >= 20, summary);
      for (const a of beforeStop) assert.equal(a.reply?.status, 201, `before the stop:\n${summary}`);
      // Anything else is either issued (it committed before the shutdown) or a 503 problem.
      for (const a of attempts) {
        const reply = a.reply;
        assert.ok(reply);
        assert.ok(reply.status === 201 || reply.status === 503, `neither 201 nor 503: ${describeAttempt(a)}`);
        if (reply.status === 503) {
          assert.match(reply.contentType, /^application\/problem\+json/, describeAttempt(a));
          const problem = JSON.parse(reply.text) as { type: string; status: number };
          assert.equal(problem.type, 'urn:trustroot:problem:unavailable', describeAttempt(a));
          assert.equal(problem.status, 503);
          assert.match(reply.retryAfter ?? '', /^\d+$/, `no Retry-After: ${describeAttempt(a)}`);
        }
      }
      // Requests that started with PostgreSQL fully stopped: every one a 503.
      const afterStop = attempts.filter((a) => a.startedAt >= stoppedAt);
      assert.ok(afterStop.length >= LOAD - AFTER_STOP, `only ${afterStop.length} requests ran after the stop:\n${summary}`);
      for (const a of afterStop) assert.equal(a.reply?.status, 503, `after the stop:\n${summary}`);

      const slowest = Math.max(...attempts.map((a) => a.endedAt - a.startedAt));
      t.diagnostic(
        `load: ${attempts.filter((a) => a.reply?.status === 201).length} × 201, ${attempts.filter((a) => a.reply?.status === 503).length} × 503 ` +
          `(${afterStop.length} started after the stop); slowest ${Math.round(slowest)} ms; PostgreSQL took ${Math.round(stoppedAt - stopSentAt)} ms to stop`,
      );
      const down = await pollUntil(readyz, (reply) => reply.status === 503, 10_000);
      assert.equal(down.value.status, 503, `/readyz still ${down.value.status} after ${Math.round(down.elapsedMs)} ms`);

      cluster.postgres = await startEmbeddedPostgres({ dataDir: cluster.dir, port: cluster.port });
      const back = await pollUntil(readyz, (reply) => reply.status === 200, 20_000);
      t.diagnostic(`/readyz 503 after ${Math.round(down.elapsedMs)} ms; 200 again ${Math.round(back.elapsedMs)} ms after PostgreSQL restarted`);
      assert.equal(back.value.status, 200, `/readyz still ${back.value.status} ${Math.round(back.elapsedMs)} ms after PostgreSQL came back: ${back.value.text}`);

      // Tokens whose request got a 503 were never consumed: they still work.
      const failed = load.filter((_item, index) => attempts[index]?.reply?.status === 503);
      assert.ok(failed.length >= LOAD - AFTER_STOP);
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const { rows } = await db.query<TokenRow>('SELECT id, used_at, certificate_id FROM bootstrap_tokens WHERE id = ANY($1::uuid[])', [failed.map((item) => item.token.id)]);
        assert.equal(rows.length, failed.length);
        const consumed = rows.filter((row) => row.used_at !== null || row.certificate_id !== null);
        assert.deepEqual(consumed, [], 'tokens whose request was answered 503 were consumed');
      } finally {
        await db.end();
      }
      const retries = await Promise.all(failed.map((item, index) => issue(item.token, item.csr, `retry #${index}`)));
      for (const retry of retries) assert.equal(retry.reply?.status, 201, describeAttempt(retry));

      // New tokens and new issuances work.
      const fresh = await Promise.all(Array.from({ length: 4 }, async (_, index) => issue(await mint(), await makeCsr(`${SERVICE}.svc`), `fresh #${index}`)));
      for (const a of fresh) assert.equal(a.reply?.status, 201, describeAttempt(a));
    });

    it('afterwards the inventory holds exactly the certificates clients received, and tokens match', async () => {
      assert.ok(received.size > 0, 'the load did not run');
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const inventory = await inventoryOf(db, SERVICE);
        const bySerial = new Map(inventory.map((row) => [row.serial_hex, row]));
        for (const [serial, issued] of received) {
          const row = bySerial.get(serial);
          assert.ok(row, `certificate ${serial} was handed to a client but is not in the inventory`);
          assert.equal(row.fingerprint_sha256, fingerprintOf(issued.certificate), `certificate ${serial}: the inventory holds another certificate`);
        }
        const tokens = await tokensOf(db, SERVICE);
        assertTokensMatchCertificates(tokens, inventory);
        // A record no client received must belong to a request whose connection broke, never to a 503.
        const tokenOf = new Map(tokens.filter((t) => t.certificate_id !== null).map((t) => [t.certificate_id, t.id]));
        const unexplained: string[] = [];
        for (const row of inventory) {
          if (received.has(row.serial_hex)) continue;
          const tokenId = tokenOf.get(row.id);
          const requests = tokenId ? (byToken.get(tokenId) ?? []) : [];
          if (!requests.some((r) => r.error !== undefined)) {
            unexplained.push(`${row.serial_hex} (requests with its token: ${requests.map(describeAttempt).join(' | ') || 'none'})`);
          }
        }
        assert.deepEqual(unexplained, [], 'the inventory holds certificates whose request was answered without them (a record preceding the response, never reconciled)');
        assert.equal(inventory.length, received.size, 'inventory and received certificates differ in number');
      } finally {
        await db.end();
      }
    });
  });

  describe('SIGKILL of the server process during a load of issuances and revocations', () => {
    const SERVICE = 'killed';
    const PRE_ISSUED = 12;
    /** Of the pre-issued certificates, these are revoked in the window between commit and CRL publication. */
    const WINDOWED = 2;
    const LOAD = 48;
    const adminToken = `trt_${randomBytes(32).toString('base64url')}`;
    let databaseUrl: string;
    let dataDir: string | undefined;
    let env: Record<string, string>;
    let server: ServerProcess | undefined;
    let apiUrl: string;
    let publicUrl: string;
    let rootPem: string;
    let files: Awaited<ReturnType<typeof pemFiles>> | undefined;
    const received = new Map<string, IssuedCertificateDto>();
    const byToken = new Map<string, Attempt[]>();
    /** Certificates issued before the load, to revoke during it. */
    const toRevoke: string[] = [];
    /** Certificates whose revocation commits while the test holds the CRL lock, just before the kill. */
    const windowed: string[] = [];
    const load: { token: BootstrapTokenDto; csr: string }[] = [];
    const revocations = new Map<string, Attempt>();
    /** Revoked serials the first CRL served after the restart did not list. */
    let missingAfterRestart: string[] | undefined;

    const call = (pathName: string, body?: unknown, token = adminToken, timeoutMs = 20_000): Promise<Reply> =>
      send(`${apiUrl}${pathName}`, { token, ca: rootPem, timeoutMs, ...(body !== undefined ? { body } : {}) });
    const issue = async (token: BootstrapTokenDto, csr: string, label: string): Promise<Attempt> => {
      const result = await attempt(label, () => call('/v1/certificates', { csr, profile: 'peer' }, token.token));
      byToken.set(token.id, [...(byToken.get(token.id) ?? []), result]);
      if (result.reply?.status === 201) {
        const issued = JSON.parse(result.reply.text) as IssuedCertificateDto;
        received.set(issued.serial, issued);
      }
      return result;
    };
    const revoke = async (serial: string, label: string): Promise<Attempt> => {
      const result = await attempt(label, () => call(`/v1/certificates/${serial}/revoke`, { reason: 'keyCompromise' }));
      revocations.set(serial, result);
      return result;
    };
    const withDb = async <T>(work: (db: pg.Client) => Promise<T>): Promise<T> => {
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        return await work(db);
      } finally {
        await db.end();
      }
    };
    const revokedInInventory = (): Promise<string[]> =>
      withDb(async (db) => (await inventoryOf(db, SERVICE)).filter((row) => row.revoked_at !== null).map((row) => row.serial_hex));

    before(async () => {
      databaseUrl = await createDatabase(runningPostgres(), 'faults_sigkill');
      dataDir = await mkdtemp(path.join(tmpdir(), 'trustroot-faults-server-'));
      const [httpsPort, httpPort] = [await freePort(), await freePort()];
      env = {
        DATABASE_URL: databaseUrl,
        TRUSTROOT_DATA_DIR: dataDir,
        TRUSTROOT_KEY_PASSPHRASE: 'fault-injection-passphrase',
        TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN: adminToken,
        TRUSTROOT_HTTPS_PORT: String(httpsPort),
        TRUSTROOT_HTTP_PORT: String(httpPort),
        TRUSTROOT_LISTEN_HOST: '127.0.0.1',
        TRUSTROOT_SCHEDULER: 'off',
        TRUSTROOT_RATE_LIMIT_PER_SOURCE: '1000000/min',
        TRUSTROOT_RATE_LIMIT_PER_CALLER: '1000000/min',
        TRUSTROOT_RATE_LIMIT_AUTH_FAILURES: '1000000/min',
        LOG_LEVEL: 'info',
      };
      apiUrl = `https://127.0.0.1:${httpsPort}`;
      publicUrl = `http://127.0.0.1:${httpPort}`;
      server = await startServer(env);
      rootPem = (await send(`${publicUrl}/ca/root.pem`)).text;
      const intermediatePem = (await send(`${publicUrl}/ca/intermediate.pem`)).text;
      files = await pemFiles({ 'root.pem': rootPem, 'intermediate.pem': intermediatePem, 'chain.pem': intermediatePem + rootPem });
      json(await call('/v1/services', { name: SERVICE, owner: 'platform', dnsNames: [`${SERVICE}.svc`], profiles: ['peer'] }), 201);
      const csrs = await Promise.all(Array.from({ length: PRE_ISSUED + LOAD }, () => makeCsr(`${SERVICE}.svc`)));
      const tokens: BootstrapTokenDto[] = [];
      await runPool(csrs, 8, async (_csr, index) => {
        tokens[index] = json<BootstrapTokenDto>(await call(`/v1/services/${SERVICE}/bootstrap-tokens`, {}), 201);
      });
      await runPool(csrs.slice(0, PRE_ISSUED), 6, async (csr, index) => {
        const token = tokens[index];
        assert.ok(token);
        const result = await issue(token, csr, `pre-issue #${index}`);
        assert.equal(result.reply?.status, 201, describeAttempt(result));
        const { serial } = JSON.parse(result.reply.text) as IssuedCertificateDto;
        (windowed.length < WINDOWED ? windowed : toRevoke).push(serial);
      });
      for (let index = PRE_ISSUED; index < csrs.length; index += 1) {
        const token = tokens[index];
        const csr = csrs[index];
        assert.ok(token && csr);
        load.push({ token, csr });
      }
    });
    after(async () => {
      if (server) await killServer(server, 'SIGKILL');
      await files?.cleanup();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('a SIGKILL mid-load loses no certificate a client got, and leaves tokens and certificates linked', async (t) => {
      assert.ok(server);
      const victim = server;
      let completed = 0;
      let stopping = false;
      let killing: Promise<void> | undefined;
      /*
       * The kill lands in the middle of the load. Just before it, the test takes the CRL lock (as a
       * concurrent publisher would) and revokes WINDOWED more certificates: they commit, and their
       * CRL republication waits, so the kill falls deterministically between the two steps.
       */
      const killInWindow = async (): Promise<void> => {
        const lock = await holdCrlLock(databaseUrl);
        try {
          const inFlight = windowed.map((serial, index) => revoke(serial, `windowed revocation #${index}`));
          const committed = await pollUntil(
            () => withDb(async (db) => (await db.query('SELECT 1 FROM certificates WHERE serial_hex = ANY($1) AND revoked_at IS NOT NULL', [windowed])).rowCount ?? 0),
            (count) => count === windowed.length,
            5_000,
          );
          // The issuances go on until the kill: those in flight are cut off.
          stopping = true;
          victim.child.kill('SIGKILL');
          assert.equal(committed.value, windowed.length, 'the windowed revocations did not commit');
          for (const a of await Promise.all(inFlight)) assert.ok(a.error !== undefined, `answered although its CRL could not be published: ${describeAttempt(a)}`);
        } finally {
          stopping = true;
          victim.child.kill('SIGKILL');
          await victim.exited;
          // Released only once the process is gone, and before the restart, which may want to publish.
          await lock.release();
        }
      };
      const startKill = (): Promise<void> => {
        if (!killing) {
          killing = killInWindow();
          // Awaited below, once the load has drained; a failure must not surface as an unhandled rejection first.
          killing.catch(() => undefined);
        }
        return killing;
      };
      const onDone = (): void => {
        completed += 1;
        if (completed >= 16) void startKill();
      };
      await Promise.all([
        runPool(
          load,
          6,
          async (item, index) => {
            await issue(item.token, item.csr, `issuance #${index}`);
            onDone();
          },
          () => !stopping,
        ),
        runPool(
          toRevoke,
          3,
          async (serial, index) => {
            await revoke(serial, `revocation #${index}`);
            onDone();
          },
          () => !stopping,
        ),
      ]);
      await startKill();
      const exit = await victim.exited;
      assert.equal(exit.signal, 'SIGKILL');
      const restartedAt = performance.now();
      server = await startServer(env);
      const restartMs = performance.now() - restartedAt;
      // What a relying party fetches first after the restart (checked in a test of its own below).
      assert.ok(files);
      const first = await fetchIntermediateCrl(publicUrl, files, 'after-restart');
      missingAfterRestart = (await revokedInInventory()).filter((serial) => !first.serials.has(serial));

      const issuances = [...byToken.values()].flat().filter((a) => a.label.startsWith('issuance'));
      const revocationAttempts = [...revocations.values()];
      const count = (list: Attempt[], status: number): number => list.filter((a) => a.reply?.status === status).length;
      t.diagnostic(
        `before the kill: ${count(issuances, 201)} issuances answered, ${issuances.filter((a) => a.error).length} cut off; ` +
          `${count(revocationAttempts, 200)} revocations answered, ${revocationAttempts.filter((a) => a.error).length} cut off; restart took ${Math.round(restartMs)} ms`,
      );
      const summary = [...issuances, ...revocationAttempts].map(describeAttempt).join('\n');
      // Before the kill every answer was a success: the server was healthy.
      for (const a of [...issuances, ...revocationAttempts]) {
        if (a.reply) assert.ok(a.reply.status === 201 || a.reply.status === 200, `an unexpected answer before the kill: ${describeAttempt(a)}`);
      }
      await withDb(async (db) => {
        const inventory = await inventoryOf(db, SERVICE);
        const bySerial = new Map(inventory.map((row) => [row.serial_hex, row]));
        for (const [serial, issued] of received) {
          const row = bySerial.get(serial);
          assert.ok(row, `certificate ${serial} was handed to a client but is not in the inventory after the kill`);
          assert.equal(row.fingerprint_sha256, fingerprintOf(issued.certificate));
        }
        const tokens = await tokensOf(db, SERVICE);
        assertTokensMatchCertificates(tokens, inventory);
        // Certificates no client got belong to requests cut off by the kill.
        const tokenOf = new Map(tokens.filter((t) => t.certificate_id !== null).map((t) => [t.certificate_id, t.id]));
        for (const row of inventory) {
          if (received.has(row.serial_hex)) continue;
          const tokenId = tokenOf.get(row.id);
          const requests = tokenId ? (byToken.get(tokenId) ?? []) : [];
          assert.ok(
            requests.some((r) => r.error !== undefined),
            `certificate ${row.serial_hex} is in the inventory, but its request was not cut off: ${requests.map(describeAttempt).join(' | ') || 'no request'}\n${summary}`,
          );
        }
        // A revocation a client was told about is in the inventory.
        for (const [serial, a] of revocations) {
          if (a.reply?.status !== 200) continue;
          assert.ok(bySerial.get(serial)?.revoked_at, `revocation of ${serial} was answered 200 but is not recorded`);
        }
      });
      // A token whose request was cut off before it committed still works after the restart.
      const unused = await withDb(async (db) => (await tokensOf(db, SERVICE)).filter((row) => row.used_at === null).map((row) => row.id));
      const retry = load.find((item) => unused.includes(item.token.id));
      if (retry) {
        const result = await issue(retry.token, retry.csr, 'after restart');
        assert.equal(result.reply?.status, 201, describeAttempt(result));
      }
    });

    it('CRL numbers stay unique and strictly increasing across the kill, and every answered revocation is on the CRL', async () => {
      await withDb(assertCrlNumbersIncrease);
      assert.ok(files);
      const crl = await fetchIntermediateCrl(publicUrl, files, 'after-kill');
      const numbers = await withDb(assertCrlNumbersIncrease);
      assert.equal(crl.number, numbers.at(-1), 'the served CRL is not the latest one published');
      // A 200 is sent only after the republication: what a client was told is revoked is on the CRL.
      const answered = [...revocations].filter(([, a]) => a.reply?.status === 200).map(([serial]) => serial);
      assert.deepEqual(answered.filter((serial) => !crl.serials.has(serial)), [], `CRL ${crl.number} misses revocations that were answered 200`);
    });

    it(
      'the CRL served right after the restart lists every revocation committed before the kill',
      async () => {
        assert.ok(missingAfterRestart, 'the kill did not run');
        const cutOff = missingAfterRestart.filter((serial) => !windowed.includes(serial));
        assert.deepEqual(
          missingAfterRestart,
          [],
          `the first CRL after the restart misses revoked serials (${windowed.length} revoked in the held window; ${cutOff.length} more from load revocations cut off by the kill)`,
        );
      },
    );

    it('after the restart, one more revocation publishes a CRL listing every revoked serial', async () => {
      assert.ok(files);
      const revokedBefore = await revokedInInventory();
      const next = [...received.keys()].find((serial) => !revokedBefore.includes(serial));
      assert.ok(next, 'no unrevoked certificate left to revoke');
      assert.equal(json<CertificateDto>(await call(`/v1/certificates/${next}/revoke`, { reason: 'superseded' }), 200).status, 'revoked');
      const crl = await fetchIntermediateCrl(publicUrl, files, 'final');
      const revoked = [...revokedBefore, next];
      const missing = revoked.filter((serial) => !crl.serials.has(serial));
      assert.deepEqual(missing, [], `CRL ${crl.number} misses revoked serials`);
      const numbers = await withDb(assertCrlNumbersIncrease);
      assert.equal(crl.number, numbers.at(-1));
    });
  });

  describe('two replicas on one database: concurrent issuance and revocation', () => {
    const SERVICE = 'replicated';
    const LOAD = 50;
    let databaseUrl: string;
    let replicas: TestTrustroot[] = [];
    let rootPem: string;
    let adminToken: string;
    let files: Awaited<ReturnType<typeof pemFiles>> | undefined;
    const issued: { serial: string; through: number; certificate: string }[] = [];
    /** Serial → the replica (0 or 1) the revocation went through. */
    const revokedThrough = new Map<string, number>();

    const replica = (index: number): TestTrustroot => {
      const r = replicas[index];
      assert.ok(r);
      return r;
    };
    const call = (index: number, pathName: string, body?: unknown, token = adminToken): Promise<Reply> =>
      send(`${replica(index).apiUrl}${pathName}`, { token, ca: rootPem, timeoutMs: 20_000, ...(body !== undefined ? { body } : {}) });

    before(async () => {
      databaseUrl = await createDatabase(runningPostgres(), 'faults_replicas');
      const database = { url: databaseUrl, drop: async () => {} };
      const first = await startTestTrustroot({ database });
      replicas = [first];
      replicas.push(await startTestTrustroot({ database, dataDir: first.dataDir }));
      const initial = first.instance.initialAdminToken;
      assert.ok(initial);
      adminToken = initial;
      rootPem = (await send(`${first.publicUrl}/ca/root.pem`)).text;
      const intermediatePem = (await send(`${first.publicUrl}/ca/intermediate.pem`)).text;
      files = await pemFiles({ 'root.pem': rootPem, 'intermediate.pem': intermediatePem, 'chain.pem': intermediatePem + rootPem });
      json(await call(0, '/v1/services', { name: SERVICE, owner: 'platform', dnsNames: [`${SERVICE}.svc`], profiles: ['peer'] }), 201);
    });
    after(async () => {
      await files?.cleanup();
      const [first, second] = replicas;
      await second?.stop();
      await first?.destroy();
    });

    it('50 issuances across both replicas with revocations through the other: no duplicate serial, every revocation visible on the other', async () => {
      const csrs = await Promise.all(Array.from({ length: LOAD }, () => makeCsr(`${SERVICE}.svc`)));
      const tokens: BootstrapTokenDto[] = [];
      await runPool(csrs, 8, async (_csr, index) => {
        tokens[index] = json<BootstrapTokenDto>(await call(index % 2, `/v1/services/${SERVICE}/bootstrap-tokens`, {}), 201);
      });
      const revocationAttempts: Promise<Attempt>[] = [];
      const failures: string[] = [];
      await runPool(csrs, 10, async (csr, index) => {
        const token = tokens[index];
        assert.ok(token);
        const through = index % 2;
        const result = await attempt(`issuance #${index} via ${through}`, () => call(through, '/v1/certificates', { csr, profile: 'peer' }, token.token));
        if (result.reply?.status !== 201) {
          failures.push(describeAttempt(result));
          return;
        }
        const dto = JSON.parse(result.reply.text) as IssuedCertificateDto;
        issued.push({ serial: dto.serial, through, certificate: dto.certificate });
        if (index % 3 === 0) {
          // Revoke through the other replica while the load goes on.
          const other = 1 - through;
          revokedThrough.set(dto.serial, other);
          revocationAttempts.push(attempt(`revocation of ${dto.serial} via ${other}`, () => call(other, `/v1/certificates/${dto.serial}/revoke`, { reason: 'keyCompromise' })));
        }
      });
      assert.deepEqual(failures, [], 'issuances failed');
      for (const a of await Promise.all(revocationAttempts)) {
        assert.equal(a.reply?.status, 200, describeAttempt(a));
        assert.equal((JSON.parse(a.reply.text) as CertificateDto).status, 'revoked');
      }
      assert.equal(issued.length, LOAD);
      assert.equal(new Set(issued.map((i) => i.serial)).size, LOAD, 'two clients got the same serial');

      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const duplicates = await db.query('SELECT serial_hex, count(*) FROM certificates GROUP BY serial_hex HAVING count(*) > 1');
        assert.deepEqual(duplicates.rows, [], 'duplicate serials in the inventory');
        const inventory = new Map((await inventoryOf(db, SERVICE)).map((row) => [row.serial_hex, row]));
        assert.equal(inventory.size, LOAD);
        for (const leaf of issued) {
          const row = inventory.get(leaf.serial);
          assert.ok(row, `${leaf.serial} missing from the inventory`);
          assert.equal(row.fingerprint_sha256, fingerprintOf(leaf.certificate));
          assert.equal(row.revoked_at !== null, revokedThrough.has(leaf.serial), `${leaf.serial}: revoked state`);
        }
        assertTokensMatchCertificates(await tokensOf(db, SERVICE), [...inventory.values()]);
        await assertCrlNumbersIncrease(db);
      } finally {
        await db.end();
      }
      // Both replicas appended to the one audit chain at once, each in its own commit groups.
      const audit = json<{ ok: boolean; checked: number }>(await call(1, '/v1/audit/verify'), 200);
      assert.equal(audit.ok, true, JSON.stringify(audit));
      assert.ok(audit.checked >= 2 * LOAD, `only ${audit.checked} audit events checked`);

      assert.ok(files);
      const crls = [await fetchIntermediateCrl(replica(0).publicUrl, files, 'replica-0'), await fetchIntermediateCrl(replica(1).publicUrl, files, 'replica-1')];
      assert.ok(crls[0]?.der.equals(crls[1]?.der ?? Buffer.alloc(0)), 'the replicas serve different CRLs');
      for (const leaf of issued) {
        const through = revokedThrough.get(leaf.serial);
        const other = through === undefined ? leaf.through : 1 - through;
        const listed = crls[other]?.serials.has(leaf.serial) ?? false;
        assert.equal(listed, through !== undefined, `${leaf.serial} ${through === undefined ? 'listed although not revoked' : 'missing'} in replica ${other}'s CRL`);
      }
      // OCSP on the replica that did not revoke it says revoked (good for the rest).
      const checks = issued.filter((leaf) => revokedThrough.has(leaf.serial) || leaf.through === 0).slice(0, 30);
      await runPool(checks, 6, async (leaf) => {
        assert.ok(files);
        const through = revokedThrough.get(leaf.serial);
        const other = replica(through === undefined ? 1 - leaf.through : 1 - through);
        const certificateFile = files.path(`${leaf.serial}.pem`);
        await writeFile(certificateFile, leaf.certificate);
        const result = await openssl([
          'ocsp', '-issuer', files.path('intermediate.pem'), '-cert', certificateFile,
          '-url', `${other.publicUrl}/ocsp/intermediate`, '-CAfile', files.path('root.pem'), '-no_nonce',
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /Response verify OK/);
        assert.ok(result.stdout.includes(`${certificateFile}: ${through === undefined ? 'good' : 'revoked'}`), result.stdout);
      });
    });

    it(
      'a revocation whose CRL republication failed is put on the CRL by the next crl-refresh tick',
      async () => {
        const token = json<BootstrapTokenDto>(await call(0, `/v1/services/${SERVICE}/bootstrap-tokens`, {}), 201);
        const leaf = json<IssuedCertificateDto>(await call(0, '/v1/certificates', { csr: await makeCsr(`${SERVICE}.svc`), profile: 'peer' }, token.token), 201);
        // A publisher that holds the CRL lock longer than the statement timeout (3 s in the harness).
        const lock = await holdCrlLock(databaseUrl);
        let revocation: Reply;
        try {
          revocation = await call(0, `/v1/certificates/${leaf.serial}/revoke`, { reason: 'keyCompromise' });
        } finally {
          await lock.release();
        }
        assert.equal(json<CertificateDto>(revocation, 200).status, 'revoked');
        assert.match(replica(0).logs.text, /CRL republication after a revocation failed/);
        const outcome = await replica(0).instance.jobs.tick('crl-refresh', new Date());
        assert.equal(outcome, 'succeeded');
        assert.ok(files);
        const crl = await fetchIntermediateCrl(replica(1).publicUrl, files, 'after-refresh');
        assert.ok(crl.serials.has(leaf.serial), `revoked ${leaf.serial} is still missing from CRL ${crl.number} after a crl-refresh tick`);
      },
    );
  });
});
