import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { httpsRequest } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { FakeClock, startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Lower-case hex without leading zeros, as the inventory stores serials. */
function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** A TLS connection to the API that verifies the server against `ca` only. */
function connect(port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sends one HTTP/1.1 request on an open TLS socket and returns the status line. */
function requestOn(socket: tls.TLSSocket, pathname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('utf8');
      const end = received.indexOf('\r\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve(received.slice(0, end));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${pathname} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`);
  });
}

function leafOf(socket: tls.TLSSocket): X509Certificate {
  const peer = socket.getPeerX509Certificate();
  assert.ok(peer, 'no peer certificate');
  return peer;
}

describe('rotation of the API TLS certificate', () => {
  // Starts 41 minutes in the past, so that after the test moves it forward the certificates are
  // valid in real time too: the TLS clients and OpenSSL check validity against the real clock.
  const clock = new FakeClock(new Date(Date.now() - 41 * MINUTE_MS));
  let trustroot: TestTrustroot;
  let rootPem: string;

  before(async () => {
    trustroot = await startTestTrustroot({ clock, env: { TRUSTROOT_TLS_CERT_TTL: '1h' } });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
  });
  // Guarded: when start-up fails in before(), there is nothing to destroy and the real error must show.
  after(async () => {
    if (trustroot !== undefined) await trustroot.destroy();
  });

  it('replaces the certificate at two thirds of its life without restarting the listener', async () => {
    const port = trustroot.instance.apiPort;
    const startedAt = clock.now();
    const oldSocket = await connect(port, rootPem);
    const first = leafOf(oldSocket);
    assert.ok(Math.abs(new Date(first.validTo).getTime() - (startedAt.getTime() + HOUR_MS)) < 5_000, first.validTo);

    assert.equal(await trustroot.instance.rotation.rotateIfDue(), false);
    clock.advance(39 * MINUTE_MS);
    assert.equal(await trustroot.instance.rotation.rotateIfDue(), false, 'rotated before two thirds of the lifetime');
    clock.advance(2 * MINUTE_MS);
    assert.equal(await trustroot.instance.rotation.rotateIfDue(), true, 'not rotated after two thirds of the lifetime');
    const rotatedAt = clock.now();
    // Nothing more is due right after a rotation.
    assert.equal(await trustroot.instance.rotation.rotateIfDue(), false);

    // A new connection, on the same port, sees the new certificate.
    assert.equal(trustroot.instance.apiPort, port);
    const newSocket = await connect(port, rootPem);
    const second = leafOf(newSocket);
    newSocket.end();
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.ok(
      Math.abs(new Date(second.validTo).getTime() - (rotatedAt.getTime() + HOUR_MS)) < 5_000,
      `notAfter ${second.validTo}, expected about ${new Date(rotatedAt.getTime() + HOUR_MS).toISOString()}`,
    );
    assert.ok(new Date(second.validFrom).getTime() <= rotatedAt.getTime());
    assert.equal(second.checkHost('localhost'), 'localhost');
    assert.equal(second.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(trustroot.instance.rotation.credentials?.serialHex, normalizeSerial(second.serialNumber));

    // The connection opened before the rotation still works: the listener was not restarted.
    assert.match(await requestOn(oldSocket, '/healthz'), /^HTTP\/1\.1 200 /);
    oldSocket.end();

    // The new TLS context keeps the listener's settings: TLS 1.2+ only, client certificates requested.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port, ca: rootPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' },
          () => {
            socket.end();
            resolve(socket.getProtocol());
          },
        );
        socket.once('error', reject);
      }),
      /ALERT_PROTOCOL_VERSION|alert protocol version/i,
    );
    const rootFile = await pemFiles({ 'root.pem': rootPem });
    try {
      const sClient = await openssl(
        ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', rootFile.path('root.pem'), '-verify_return_error'],
        '',
      );
      const output = sClient.stdout + sClient.stderr;
      assert.match(output, /Acceptable client certificate CA names/, output);
      assert.match(output, /Trustroot Root CA/);
      assert.match(output, /Verify return code: 0 \(ok\)/);
    } finally {
      await rootFile.cleanup();
    }

    // OpenSSL accepts the new certificate as a TLS server certificate under the root.
    const chain = await httpsRequest(`${trustroot.apiUrl}/v1/ca/chain`, { ca: rootPem });
    assert.equal(chain.status, 200);
    const files = await pemFiles({ 'root.pem': rootPem, 'chain.pem': chain.text, 'server.pem': second.toString() });
    try {
      const verified = await openssl([
        'verify', '-x509_strict', '-purpose', 'sslserver',
        '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('server.pem'),
      ]);
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      assert.match(verified.stdout, /server\.pem: OK/);
    } finally {
      await files.cleanup();
    }

    // Both API certificates are in the inventory, next to the four CA certificates.
    const client = new pg.Client({ connectionString: trustroot.database.url });
    await client.connect();
    try {
      const api = await client.query<{ serial_hex: string; not_after: Date }>(
        "SELECT serial_hex, not_after FROM certificates WHERE profile = 'trustroot-api' ORDER BY issued_at",
      );
      assert.equal(api.rowCount, 2);
      assert.deepEqual(
        api.rows.map((row) => row.serial_hex).sort(),
        [normalizeSerial(first.serialNumber), normalizeSerial(second.serialNumber)].sort(),
      );
      const ca = await client.query<{ profile: string; count: string }>(
        "SELECT profile, count(*)::text AS count FROM certificates WHERE profile <> 'trustroot-api' GROUP BY profile ORDER BY profile",
      );
      assert.deepEqual(
        ca.rows.map((row) => ({ ...row })),
        [
          { profile: 'intermediate-ca', count: '2' },
          { profile: 'root-ca', count: '2' },
        ],
      );
    } finally {
      await client.end();
    }
  });
});
