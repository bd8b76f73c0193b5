import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { httpsRequest } from '../support/https-request.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRONG_PASSPHRASE = 'definitely-the-wrong-passphrase';

/** Beginnings of an unencrypted PKCS#8 EC private key (P-256, then P-384), as DER. */
const PKCS8_EC_HEADERS = [
  Buffer.from('308187020100301306072a8648ce3d0201', 'hex'),
  Buffer.from('3081b6020100301006072a8648ce3d0201', 'hex'),
];
/** The same headers as they would appear in text: hex, and base64 (both start on a 3-byte boundary). */
const PKCS8_EC_TEXT_MARKERS = PKCS8_EC_HEADERS.flatMap((header) => [
  header.toString('hex'),
  header.subarray(0, 15).toString('base64'),
]);

interface Snapshot {
  issuers: Map<string, string>;
  tlsSerial: string;
}

async function snapshot(trustroot: TestTrustroot): Promise<Snapshot> {
  const rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
  const response = await httpsRequest(`${trustroot.apiUrl}/v1/ca`, { ca: rootPem });
  assert.equal(response.status, 200, response.text);
  assert.ok(response.peerCertificateDer);
  const body = JSON.parse(response.text) as { issuers: { name: string; fingerprintSha256: string }[] };
  assert.equal(body.issuers.length, 4);
  return {
    issuers: new Map(body.issuers.map((issuer) => [issuer.name, issuer.fingerprintSha256])),
    tlsSerial: new X509Certificate(response.peerCertificateDer).serialNumber,
  };
}

/** Every file below `dir` (relative path → sha256 of its bytes), and every directory (→ 'dir'). */
async function hashTree(dir: string): Promise<Map<string, string>> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const result = new Map<string, string>();
  for (const entry of entries) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    if (entry.isDirectory()) result.set(relative, 'dir');
    else result.set(relative, createHash('sha256').update(await readFile(full)).digest('hex'));
  }
  return new Map([...result.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

function assertNoPlaintextKey(where: string, bytes: Buffer): void {
  const text = bytes.toString('latin1');
  assert.ok(!(text.includes('-----BEGIN') && text.includes('PRIVATE KEY')), `${where} holds a PEM private key`);
  assert.ok(!text.includes('PRIVATE KEY'), `${where} mentions PRIVATE KEY`);
  for (const header of PKCS8_EC_HEADERS) {
    assert.equal(bytes.indexOf(header), -1, `${where} holds a PKCS#8 EC private key (${header.toString('hex')})`);
  }
  for (const marker of PKCS8_EC_TEXT_MARKERS) {
    assert.ok(!text.includes(marker), `${where} holds an encoded PKCS#8 EC private key (${marker})`);
  }
}

interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs the real server (`npm start`'s entry point, without its memory flag) and waits for it to exit, killing it after `timeoutMs`. */
function runServer(env: Record<string, string>, timeoutMs: number): Promise<ProcessResult> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] =>
        entry[1] !== undefined && !entry[0].startsWith('TRUSTROOT_') && entry[0] !== 'DATABASE_URL',
    ),
  );
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/server.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}

describe('restarting Trustroot on the same data directory and database', () => {
  let dataDir: string;
  let database: TestDatabase;
  let first: Snapshot;
  let firstLogs = '';
  let keysBefore: string[];

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'trustroot-restart-'));
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('first start creates the CA; a second start reuses it and issues a new API TLS certificate', async () => {
    const one = await startTestTrustroot({ dataDir, database });
    try {
      first = await snapshot(one);
      firstLogs = one.logs.text;
      assert.match(firstLogs, /CA hierarchy created/);
    } finally {
      await one.stop();
    }
    keysBefore = (await readdir(path.join(dataDir, 'keys'))).sort();
    assert.equal(keysBefore.filter((name) => name.endsWith('.key.json')).length, 4, keysBefore.join(', '));

    const two = await startTestTrustroot({ dataDir, database });
    try {
      const second = await snapshot(two);
      assert.match(two.logs.text, /CA hierarchy loaded/);
      assert.doesNotMatch(two.logs.text, /CA hierarchy created/);
      assert.deepEqual(second.issuers, first.issuers);
      for (const fingerprint of second.issuers.values()) assert.match(fingerprint, /^[0-9a-f]{64}$/);
      assert.notEqual(second.tlsSerial, first.tlsSerial);
      for (const line of [firstLogs, two.logs.text]) assertNoPlaintextKey('the logs', Buffer.from(line));
    } finally {
      await two.stop();
    }
    // No new key was generated by the restart.
    assert.deepEqual((await readdir(path.join(dataDir, 'keys'))).sort(), keysBefore);
  });

  it('no file in the data directory holds a private key in the clear', async () => {
    const files = await filesBelow(dataDir);
    assert.ok(files.some((file) => file.endsWith('.key.json')), 'no key files were found: the scan would be vacuous');
    for (const file of files) assertNoPlaintextKey(path.relative(dataDir, file), await readFile(file));
  });

  it('key material is readable by its owner only', async () => {
    const keysDir = path.join(dataDir, 'keys');
    assert.equal((await stat(keysDir)).mode & 0o777, 0o700, 'keys/');
    const keyFiles = await readdir(keysDir);
    assert.ok(keyFiles.includes('keyring.json'));
    for (const name of keyFiles) {
      assert.equal((await stat(path.join(keysDir, name))).mode & 0o777, 0o600, `keys/${name}`);
    }
    assert.equal((await stat(path.join(dataDir, 'dev-key-passphrase'))).mode & 0o777, 0o600, 'dev-key-passphrase');
  });

  it('no row of the database holds a private key', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      const names = tables.rows.map((row) => row.table_name);
      assert.ok(names.includes('issuers') && names.includes('certificates'), names.join(', '));
      for (const name of names) {
        // The whole row as text: bytea columns come out as \x-hex, text columns as themselves.
        const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${name}" t`);
        if (name === 'issuers') assert.equal(rows.rowCount, 4);
        if (name === 'certificates') assert.ok((rows.rowCount ?? 0) >= 4);
        for (const { row } of rows.rows) assertNoPlaintextKey(`table ${name}`, Buffer.from(row));
      }
      const bytea = await client.query<{ certificate_der: Buffer }>('SELECT certificate_der FROM issuers');
      for (const { certificate_der: der } of bytea.rows) assertNoPlaintextKey('issuers.certificate_der', der);
      const ders = await client.query<{ der: Buffer }>('SELECT der FROM certificates');
      for (const { der } of ders.rows) assertNoPlaintextKey('certificates.der', der);
    } finally {
      await client.end();
    }
  });

  it('the real server with a wrong TRUSTROOT_KEY_PASSPHRASE exits 1, says so on one line, and changes nothing', async () => {
    const before = await hashTree(dataDir);
    const result = await runServer(
      {
        TRUSTROOT_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        TRUSTROOT_KEY_PASSPHRASE: WRONG_PASSPHRASE,
        TRUSTROOT_HTTPS_PORT: '0',
        TRUSTROOT_HTTP_PORT: '0',
        TRUSTROOT_LISTEN_HOST: '127.0.0.1',
      },
      90_000,
    );
    const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    assert.equal(result.signal, null, `the server did not exit within 90 s\n${output}`);
    assert.equal(result.code, 1, output);
    assert.ok(result.elapsedMs < 90_000);
    const mentions = result.stderr.split('\n').filter((line) => line.includes('TRUSTROOT_KEY_PASSPHRASE'));
    assert.equal(mentions.length, 1, output);
    assert.doesNotMatch(result.stderr, /\n\s+at\s/, `a stack trace was printed\n${output}`);
    assert.ok(!(result.stdout + result.stderr).includes(WRONG_PASSPHRASE), 'the passphrase itself was printed');
    assert.deepEqual(await hashTree(dataDir), before);
  });
});
