import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { TickOutcome } from '../../src/app/job-runner.ts';
import type { IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import { parseJson } from '../support/http-assertions.ts';
import { httpsRequest } from '../support/https-request.ts';
import { openssl } from '../support/openssl.ts';
import { parsePrometheusText } from '../support/prometheus-text.ts';
import { FakeClock, startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Scheduled jobs with two replicas on one database (and one data directory, so the same CA
 * keys): a tick fired on both at once runs on exactly one, a tick arriving while a run is still
 * in progress is skipped rather than stacked, a run abandoned by a crashed replica stops blocking
 * after 15 minutes, and a bad cron expression stops start-up. Both replicas share one fake clock,
 * as replicas with synchronised clocks would.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** A webhook receiver that can hold its answers until released (a slow receiver). */
interface HoldingReceiver {
  url: string;
  received: string[];
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function startHoldingReceiver(): Promise<HoldingReceiver> {
  const received: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      void gate.then(() => res.writeHead(200).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    hold: () => {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release: () => open(),
    close: async () => {
      open();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('scheduled jobs across two replicas sharing one database', () => {
  const clock = new FakeClock(new Date());
  let first: TestTrustroot;
  let second: TestTrustroot | undefined;
  let replicas: [TestTrustroot, TestTrustroot];
  let receiver: HoldingReceiver;
  let db: pg.Client;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trustroot-replicas-'));
    receiver = await startHoldingReceiver();
    // A year-long API certificate: its rotation is never due within the fake day this file covers.
    const env = { TRUSTROOT_TLS_CERT_TTL: '365d' };
    first = await startTestTrustroot({ clock, env });
    second = await startTestTrustroot({ clock, env, database: first.database, dataDir: first.dataDir });
    replicas = [first, second];
    db = new pg.Client({ connectionString: first.database.url });
    await db.connect();

    // One service with a 24-hour certificate, 18 hours old: the expiry scan has exactly one flag to raise.
    const rootPem = await (await fetch(`${first.publicUrl}/ca/root.pem`)).text();
    const admin = first.instance.initialAdminToken ?? '';
    const call = (token: string, method: string, pathAndQuery: string, body: unknown) =>
      httpsRequest(`${first.apiUrl}${pathAndQuery}`, {
        ca: rootPem,
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    parseJson<ServiceDto>(await call(admin, 'POST', '/v1/services', { name: 'payments', owner: 'payments-team', webhookUrl: receiver.url, dnsNames: ['payments.svc'] }), 201);
    const token = parseJson<{ token: string }>(await call(admin, 'POST', '/v1/services/payments/bootstrap-tokens', {}), 201);
    const made = await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'key.pem'),
      '-out', path.join(dir, 'req.csr'), '-subj', '/CN=payments.svc', '-addext', 'subjectAltName=DNS:payments.svc',
    ]);
    assert.equal(made.code, 0, made.stderr);
    parseJson<IssuedCertificateDto>(await call(token.token, 'POST', '/v1/certificates', { csr: await readFile(path.join(dir, 'req.csr'), 'utf8'), profile: 'peer' }), 201);
    clock.advance(18 * HOUR_MS);
  });
  after(async () => {
    await db?.end();
    await receiver?.close();
    await second?.stop();
    if (first !== undefined) await first.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function count(sql: string, values: unknown[] = []): Promise<number> {
    return Number((await db.query<{ n: string }>(sql, values)).rows[0]?.n);
  }

  /** trustroot_job_runs_total of one replica, by outcome, for `job`. */
  async function jobRuns(replica: TestTrustroot, job: string): Promise<Record<string, number>> {
    const response = await httpsRequest(`${replica.apiUrl}/metrics`, {
      ca: await (await fetch(`${replica.publicUrl}/ca/root.pem`)).text(),
      headers: { authorization: `Bearer ${first.instance.initialAdminToken ?? ''}` },
    });
    assert.equal(response.status, 200, response.text);
    const samples = parsePrometheusText(response.text).get('trustroot_job_runs_total')?.samples ?? [];
    return Object.fromEntries(samples.filter((s) => s.labels.job === job).map((s) => [s.labels.outcome ?? '', s.value]));
  }

  it('five ticks fired on both replicas at once: each runs on exactly one replica, and the flag is raised once', async () => {
    const started = clock.now().getTime();
    for (let n = 0; n < 5; n++) {
      const scheduledFor = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
      const outcomes: TickOutcome[] = await Promise.all(replicas.map((r) => r.instance.jobs.tick('expiry-scan', scheduledFor)));
      assert.deepEqual([...outcomes].sort(), ['skipped', 'succeeded'], `tick ${n}: ${outcomes.join(', ')}`);
      clock.advance(5 * MINUTE_MS);
    }
    assert.equal(await count("SELECT count(*) AS n FROM job_runs WHERE job = 'expiry-scan'"), 5);
    assert.equal(await count("SELECT count(DISTINCT scheduled_for) AS n FROM job_runs WHERE job = 'expiry-scan' AND outcome = 'succeeded' AND finished_at IS NOT NULL"), 5);
    assert.equal(await count("SELECT COALESCE(sum(items), 0) AS n FROM job_runs WHERE job = 'expiry-scan'"), 1, 'one flag raised in all');
    assert.equal(await count("SELECT count(*) AS n FROM alerts WHERE threshold = '75%'"), 1);
    assert.equal(await count('SELECT count(*) AS n FROM notifications'), 1);
    assert.equal(await count('SELECT count(*) AS n FROM job_runs WHERE started_at < $1', [new Date(started)]), 0);

    // A tick that already ran is skipped when it reaches a replica late.
    const firstTick = new Date(Math.floor(started / 1000) * 1000);
    assert.equal(await replicas[1].instance.jobs.tick('expiry-scan', firstTick), 'skipped');
    assert.equal(await replicas[0].instance.jobs.tick('expiry-scan', firstTick), 'skipped');
    assert.equal(await count("SELECT count(*) AS n FROM job_runs WHERE job = 'expiry-scan'"), 5);

    // Each replica counts what it did: together five runs and seven skips.
    const [a, b] = await Promise.all(replicas.map((r) => jobRuns(r, 'expiry-scan')));
    assert.ok(a && b);
    assert.equal((a.succeeded ?? 0) + (b.succeeded ?? 0), 5);
    assert.equal((a.skipped ?? 0) + (b.skipped ?? 0), 7);
    assert.equal(a.failed, undefined);
    assert.equal(b.failed, undefined);
  });

  it('a tick arriving while a run is still in progress is skipped, on the same replica and on the other', async () => {
    receiver.hold();
    const t0 = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
    const slow = replicas[0].instance.jobs.tick('deliver-notifications', t0);
    // Wait (briefly, real time) for the delivery to reach the receiver: the run is now in progress.
    for (let waited = 0; receiver.received.length === 0; waited += 10) {
      assert.ok(waited < 4000, 'the webhook was never posted');
      await delay(10);
    }
    assert.equal(await count("SELECT count(*) AS n FROM job_runs WHERE job = 'deliver-notifications' AND outcome = 'running' AND finished_at IS NULL"), 1);
    assert.equal(await replicas[1].instance.jobs.tick('deliver-notifications', new Date(t0.getTime() + 15_000)), 'skipped');
    assert.equal(await replicas[0].instance.jobs.tick('deliver-notifications', new Date(t0.getTime() + 30_000)), 'skipped');
    receiver.release();
    assert.equal(await slow, 'succeeded');
    const runs = await db.query<{ outcome: string; items: number; scheduled_for: Date }>("SELECT outcome, items, scheduled_for FROM job_runs WHERE job = 'deliver-notifications'");
    assert.deepEqual(runs.rows, [{ outcome: 'succeeded', items: 1, scheduled_for: t0 }]);
    assert.equal(receiver.received.length, 1);
    assert.equal(await count("SELECT count(*) AS n FROM notifications WHERE status = 'delivered'"), 1);
    // Once it is over, the next tick runs (on either replica) and finds nothing left to send.
    assert.equal(await replicas[1].instance.jobs.tick('deliver-notifications', new Date(t0.getTime() + 45_000)), 'succeeded');
    assert.equal(receiver.received.length, 1);
  });

  it('an unfinished run of a crashed replica blocks ticks for 15 minutes, then no longer', async () => {
    const now = clock.now().getTime();
    await db.query("INSERT INTO job_runs (id, job, scheduled_for, started_at, outcome) VALUES (gen_random_uuid(), 'mark-expired', $1, $1, 'running')", [new Date(now - 14 * MINUTE_MS)]);
    assert.equal(await replicas[0].instance.jobs.tick('mark-expired', new Date(Math.floor(now / 1000) * 1000)), 'skipped');
    clock.advance(2 * MINUTE_MS);
    const later = Math.floor(clock.now().getTime() / 1000) * 1000;
    assert.equal(await replicas[1].instance.jobs.tick('mark-expired', new Date(later)), 'succeeded');
    assert.equal(await count("SELECT count(*) AS n FROM job_runs WHERE job = 'mark-expired' AND outcome = 'succeeded'"), 1);
  });

  it('start-up with the scheduler on fails on an invalid cron expression, naming the job and the expression', async () => {
    let started: TestTrustroot | undefined;
    try {
      started = await startTestTrustroot({
        clock,
        database: first.database,
        dataDir: first.dataDir,
        env: { TRUSTROOT_SCHEDULER: 'on', TRUSTROOT_CRON_EXPIRY_SCAN: 'not a cron' },
      });
    } catch (error) {
      assert.ok(error instanceof Error);
      assert.match(error.message, /expiry-scan/);
      assert.match(error.message, /"not a cron"/);
      return;
    }
    await started.stop();
    assert.fail('start-up succeeded with TRUSTROOT_CRON_EXPIRY_SCAN="not a cron"');
  });

  it('start-up fails on an invalid cron expression even with the scheduler off (every replica checks every schedule)', async () => {
    let started: TestTrustroot | undefined;
    try {
      started = await startTestTrustroot({
        clock,
        database: first.database,
        dataDir: first.dataDir,
        env: { TRUSTROOT_SCHEDULER: 'off', TRUSTROOT_CRON_EXPIRY_SCAN: 'not a cron' },
      });
    } catch (error) {
      assert.ok(error instanceof Error);
      assert.match(error.message, /expiry-scan|TRUSTROOT_CRON_EXPIRY_SCAN/);
      assert.match(error.message, /not a cron/);
      return;
    }
    await started.stop();
    assert.fail('start-up succeeded with TRUSTROOT_CRON_EXPIRY_SCAN="not a cron"');
  });
});
