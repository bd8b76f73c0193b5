import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from '../../src/storage/embedded-postgres.ts';
import { freePort } from '../support/free-port.ts';
import { httpsRequest } from '../support/https-request.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

interface Answer {
  status: number;
  contentType: string;
  retryAfter: string | undefined;
  text: string;
}

/** Polls `probe` every 200 ms until `done` holds, for at most `timeoutMs`; returns the last answer. */
async function pollUntil(probe: () => Promise<Answer>, done: (answer: Answer) => boolean, timeoutMs: number): Promise<{ answer: Answer; elapsedMs: number }> {
  const started = performance.now();
  for (;;) {
    const answer = await probe();
    const elapsedMs = performance.now() - started;
    if (done(answer) || elapsedMs > timeoutMs) return { answer, elapsedMs };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Trustroot when its PostgreSQL goes away and comes back', () => {
  let pgDir: string;
  let pgPort: number;
  let postgres: RunningEmbeddedPostgres | undefined;
  let trustroot: TestTrustroot | undefined;
  let rootPem: string;

  before(async () => {
    pgDir = await mkdtemp(path.join(tmpdir(), 'trustroot-outage-pg-'));
    await chmod(pgDir, 0o755);
    pgPort = await freePort();
    postgres = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
    trustroot = await startTestTrustroot({ database: { url: postgres.connectionString, drop: async () => {} } });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
  });
  after(async () => {
    await trustroot?.destroy();
    await postgres?.stop();
    await rm(pgDir, { recursive: true, force: true });
  });

  const readyz = async (listener: 'api' | 'public' = 'api'): Promise<Answer> => {
    assert.ok(trustroot);
    if (listener === 'api') {
      const response = await httpsRequest(`${trustroot.apiUrl}/readyz`, { ca: rootPem });
      const retryAfter = response.headers['retry-after'];
      return {
        status: response.status,
        contentType: String(response.headers['content-type']),
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        text: response.text,
      };
    }
    const response = await fetch(`${trustroot.publicUrl}/readyz`);
    return {
      status: response.status,
      contentType: String(response.headers.get('content-type')),
      retryAfter: response.headers.get('retry-after') ?? undefined,
      text: await response.text(),
    };
  };

  it('is ready, then not ready while the database is down (still alive), then ready again', async () => {
    assert.ok(trustroot);
    const ready = await readyz();
    assert.equal(ready.status, 200, ready.text);
    // The embedded cluster's generated password is the owner's alone.
    assert.equal((await stat(path.join(pgDir, 'embedded-postgres.password'))).mode & 0o777, 0o600);

    assert.ok(postgres);
    await postgres.stop();
    postgres = undefined;

    const down = await pollUntil(readyz, (answer) => answer.status !== 200, 10_000);
    assert.equal(down.answer.status, 503, `still ${down.answer.status} after ${Math.round(down.elapsedMs)} ms: ${down.answer.text}`);
    assert.match(down.answer.contentType, /^application\/problem\+json/);
    assert.ok(down.answer.retryAfter, 'Retry-After is missing');
    assert.match(down.answer.retryAfter, /^\d+$/);
    const problem = JSON.parse(down.answer.text) as { type: string; status: number; checks: Record<string, string> };
    assert.equal(problem.type, 'urn:trustroot:problem:unavailable');
    assert.equal(problem.status, 503);
    assert.deepEqual(problem.checks, { database: 'unavailable', caKeys: 'ok' });

    // The public listener agrees, and both stay alive.
    // A lost database is reported promptly, not after a hung request.
    const timed = performance.now();
    const again = await readyz();
    assert.equal(again.status, 503, again.text);
    assert.ok(performance.now() - timed < 5_000, 'a /readyz answer took longer than 5 s');
    const publicDown = await readyz('public');
    assert.equal(publicDown.status, 503, publicDown.text);
    const health = await httpsRequest(`${trustroot.apiUrl}/healthz`, { ca: rootPem });
    assert.equal(health.status, 200, health.text);
    const publicHealth = await fetch(`${trustroot.publicUrl}/healthz`);
    assert.equal(publicHealth.status, 200);
    // What does not need the database keeps working.
    const issuers = await httpsRequest(`${trustroot.apiUrl}/v1/ca`, { ca: rootPem });
    assert.equal(issuers.status, 200, issuers.text);

    postgres = await startEmbeddedPostgres({ dataDir: pgDir, port: pgPort });
    const back = await pollUntil(readyz, (answer) => answer.status === 200, 15_000);
    assert.equal(back.answer.status, 200, `still ${back.answer.status} after ${Math.round(back.elapsedMs)} ms: ${back.answer.text}`);
    assert.deepEqual(JSON.parse(back.answer.text), { status: 'ready', checks: { database: 'ok', caKeys: 'ok' } });
    const publicBack = await pollUntil(() => readyz('public'), (answer) => answer.status === 200, 5_000);
    assert.equal(publicBack.answer.status, 200, publicBack.answer.text);
  });
});

describe('Trustroot starting without a reachable PostgreSQL', () => {
  it('fails start-up with "cannot reach PostgreSQL" once TRUSTROOT_DB_CONNECT_TIMEOUT has passed', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trustroot-nodb-'));
    const closedPort = await freePort();
    const url = `postgresql://postgres@127.0.0.1:${closedPort}/trustroot`;
    const started = performance.now();
    try {
      await assert.rejects(
        startTestTrustroot({ dataDir, database: { url, drop: async () => {} }, env: { TRUSTROOT_DB_CONNECT_TIMEOUT: '2s' } }),
        (error: Error) => {
          assert.match(error.message, /cannot reach PostgreSQL/);
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
          return true;
        },
      );
      const elapsedMs = performance.now() - started;
      // It retried for the configured budget (key-store set-up included), then gave up promptly.
      assert.ok(elapsedMs >= 1_500, `gave up after ${Math.round(elapsedMs)} ms, before the 2 s budget`);
      assert.ok(elapsedMs < 8_000, `took ${Math.round(elapsedMs)} ms`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
