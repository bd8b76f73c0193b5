import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { JOB_NAMES, type JobName } from '../../src/app/job-runner.ts';
import type { CertificateDto, CreatedApiTokenDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import type { RandomSource } from '../../src/domain/clock.ts';
import { DEFAULT_PROFILES } from '../../src/domain/default-profiles.ts';
import { KEY_ALGORITHMS } from '../../src/domain/key-algorithm.ts';
import { verifyWebhookSignature } from '../../src/domain/lifecycle/webhook-signature.ts';
import { assertProblem, parseJson } from '../support/http-assertions.ts';
import { httpsRequest, type HttpsRequestOptions } from '../support/https-request.ts';
import { openssl } from '../support/openssl.ts';
import { parsePrometheusText, type MetricFamily } from '../support/prometheus-text.ts';
import { FakeClock, startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * The certificate lifecycle end to end, over the real HTTPS API, with real webhook receivers
 * (plain node:http servers on loopback) and scheduled jobs ticked by hand on a fake clock:
 * services declare what they rely on; expiry scans raise each threshold once and notify the
 * owner and every service relying on it through a transactional outbox; deliveries are signed,
 * retried with backoff and dead-lettered; renewal resolves alerts; expiry and revocation notify;
 * /metrics and /v1/scheduler report it all.
 *
 * The fake clock drives Trustroot's decisions (validity, thresholds, backoff, signatures); TLS
 * handshakes use real time. So the fake clock starts at real now and only moves forward, the
 * API's own TLS certificate lives a year (rotation is due at two thirds, far past the ~93 fake
 * days this file covers), and only certificates issued at the start are used over mTLS.
 * The suites are numbered after the issue's "done when" list but run in fake-time order
 * (1, 2, 3, 7, 4, 5, 6, 8): the 24-hour certificates of 7 are the ones 4 and 5 retry and expire.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Webhook retries draw all-ones octets: every backoff is its ceiling (30 s for the first retry,
 * doubling), so "not retried before its backoff" always has a window to observe. Only retry
 * backoff uses it; serials, tokens and secrets stay on the secure source.
 */
const LONGEST_BACKOFF: RandomSource = { bytes: (length) => new Uint8Array(length).fill(0xff) };

const SERVICES = ['id-verification', 'liveness', 'aml-screening', 'compliance'] as const;
type ServiceName = (typeof SERVICES)[number];

/** The `longpeer` profile: a peer certificate living up to 90 days. */
const LONGPEER_PROFILE = {
  name: 'longpeer',
  issuer: 'intermediate',
  defaultTtlSeconds: 90 * 86_400,
  maxTtlSeconds: 90 * 86_400,
  keyUsages: ['digitalSignature'],
  extendedKeyUsages: ['serverAuth', 'clientAuth'],
  allowedKeyAlgorithms: [...KEY_ALGORITHMS],
  serverSideKeyGeneration: false,
};

interface DependenciesDto {
  reliesOn: string[];
  reliedOnBy: string[];
}

interface AlertDto {
  id: string;
  serial: string;
  service?: string;
  threshold: string;
  state: 'open' | 'acknowledged' | 'resolved';
  flaggedAt: string;
  notAfter: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
}

/** The JSON event POSTed to a webhook (and kept as the notification's payload). */
interface WebhookEvent {
  id: string;
  type: 'certificate.expiring' | 'certificate.expired' | 'certificate.revoked';
  occurredAt: string;
  service: string;
  serial: string;
  issuer: string;
  profile: string;
  notAfter: string;
  threshold?: string;
  reason?: string;
  daysLeft: number;
  recipient: string;
  relationship: 'owner' | 'relies-on';
}

interface NotificationDto {
  id: string;
  service: string;
  eventType: WebhookEvent['type'];
  eventId: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  deliveredAt?: string;
  createdAt: string;
  payload: WebhookEvent;
}

interface JobRunDto {
  scheduledFor: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  outcome: string;
  items: number;
  error?: string;
}

interface SchedulerDto {
  jobs: { job: string; schedule: string; recentRuns: JobRunDto[] }[];
}

/** One POST a receiver got, with the fake time at which Trustroot sent it. */
interface Delivery {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  event: WebhookEvent;
  fakeNowSeconds: number;
  answered: number;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

/** A certificate as its service holds it. */
interface Identity {
  service: ServiceName;
  profile: 'peer' | 'longpeer';
  serial: string;
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  notBefore: number;
  notAfter: number;
}

/** One tick this file ran, and the items it must have recorded (undefined: not predicted). */
interface TickRecord {
  job: JobName;
  scheduledFor: Date;
  outcome: string;
  items: number | undefined;
}

function header(headers: http.IncomingHttpHeaders, name: string): string {
  const value = headers[name.toLowerCase()];
  assert.equal(typeof value, 'string', `header ${name}: ${JSON.stringify(value)}`);
  return value as string;
}

/** The threshold moment of a relative threshold, as Trustroot computes it (lifetime share from notBefore). */
function relativeMoment(identity: Identity, fraction: number): number {
  return identity.notBefore + Math.round((identity.notAfter - identity.notBefore) * fraction);
}

/** The one sample of `family` whose labels include `labels`. */
function sample(families: Map<string, MetricFamily>, family: string, labels: Record<string, string>): number | undefined {
  const found = families.get(family)?.samples.filter((s) => s.name === family && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) ?? [];
  assert.ok(found.length <= 1, `${family} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('certificate lifecycle: reliance graph, expiry alerts, signed webhooks, retries, metrics', () => {
  const clock = new FakeClock(new Date());
  const start = clock.now().getTime();
  let trustroot: TestTrustroot;
  let dir: string;
  let rootPem: string;
  let adminToken: string;
  let ciToken: CreatedApiTokenDto;
  let auditorToken: CreatedApiTokenDto;
  const receivers = new Map<ServiceName, Receiver>();
  const secrets = new Map<ServiceName, string>();
  const ticks: TickRecord[] = [];
  const identities = new Map<string, Identity>();

  /** A receiver answering `answer(delivery, earlier deliveries)`, recording every POST before answering. */
  async function startReceiver(answer: (delivery: Omit<Delivery, 'answered'>, earlier: Delivery[]) => number): Promise<Receiver> {
    const deliveries: Delivery[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let event: WebhookEvent;
        try {
          event = JSON.parse(raw) as WebhookEvent;
        } catch {
          res.writeHead(400).end();
          return;
        }
        const received = { path: `${req.method ?? ''} ${req.url ?? ''}`, headers: req.headers, raw, event, fakeNowSeconds: Math.floor(clock.now().getTime() / 1000) };
        const status = answer(received, deliveries);
        deliveries.push({ ...received, answered: status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/hooks`,
      deliveries,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trustroot-lifecycle-'));
    const profilesFile = path.join(dir, 'profiles.json');
    await writeFile(profilesFile, JSON.stringify([...DEFAULT_PROFILES, LONGPEER_PROFILE]));
    receivers.set('id-verification', await startReceiver(() => 200));
    receivers.set('compliance', await startReceiver(() => 204));
    // liveness fails the first three attempts of every event, then accepts it.
    receivers.set('liveness', await startReceiver((delivery, earlier) =>
      earlier.filter((d) => d.headers['idempotency-key'] === delivery.headers['idempotency-key']).length < 3 ? 500 : 200));
    receivers.set('aml-screening', await startReceiver(() => 500));
    trustroot = await startTestTrustroot({ clock, retryRandom: LONGEST_BACKOFF, env: { TRUSTROOT_PROFILES_FILE: profilesFile, TRUSTROOT_TLS_CERT_TTL: '365d' } });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial);
    adminToken = initial;
    ciToken = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role: 'ci', name: 'lifecycle-ci' }), 201);
    auditorToken = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role: 'auditor', name: 'lifecycle-auditor' }), 201);
  });
  after(async () => {
    await Promise.all([...receivers.values()].map((r) => r.close()));
    if (trustroot !== undefined) await trustroot.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const api = (pathAndQuery: string, options: Omit<HttpsRequestOptions, 'ca'> = {}) => httpsRequest(`${trustroot.apiUrl}${pathAndQuery}`, { ...options, ca: rootPem });
  const withToken = (token: string, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const asService = (identity: Identity, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      cert: identity.certificatePem + identity.chainPem,
      key: identity.keyPem,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  const receiver = (service: ServiceName): Receiver => {
    const found = receivers.get(service);
    assert.ok(found, service);
    return found;
  };
  const identity = (label: string): Identity => {
    const found = identities.get(label);
    assert.ok(found, `no certificate ${label} yet`);
    return found;
  };
  const secret = (service: ServiceName): string => {
    const found = secrets.get(service);
    assert.ok(found, `no webhook secret of ${service}`);
    return found;
  };

  async function listAlerts(query = ''): Promise<AlertDto[]> {
    return parseJson<{ alerts: AlertDto[] }>(await withToken(adminToken, 'GET', `/v1/alerts?limit=500${query}`), 200).alerts;
  }
  async function listNotifications(query = ''): Promise<NotificationDto[]> {
    return parseJson<{ notifications: NotificationDto[] }>(await withToken(adminToken, 'GET', `/v1/notifications?limit=500${query}`), 200).notifications;
  }
  async function getCertificate(serial: string): Promise<CertificateDto> {
    return parseJson<CertificateDto>(await withToken(adminToken, 'GET', `/v1/certificates/${serial}`), 200);
  }
  const totalDeliveries = () => [...receivers.values()].reduce((sum, r) => sum + r.deliveries.length, 0);

  /** Runs one tick of `job` at the fake now; every tick of a job gets its own scheduled second. */
  async function tick(job: JobName, items: () => Promise<number | undefined> | number | undefined = () => undefined): Promise<void> {
    const scheduledFor = new Date(Math.floor(clock.now().getTime() / 1000) * 1000);
    const previous = ticks.filter((t) => t.job === job).at(-1);
    assert.ok(!previous || previous.scheduledFor < scheduledFor, `${job} ticked twice in one second`);
    const outcome = await trustroot.instance.jobs.tick(job, scheduledFor);
    assert.equal(outcome, 'succeeded', `${job} at ${scheduledFor.toISOString()}`);
    ticks.push({ job, scheduledFor, outcome, items: await items() });
  }

  /** An expiry scan; returns the alerts it raised (and records their number as the run's items). */
  async function scan(): Promise<AlertDto[]> {
    const before = new Set((await listAlerts()).map((a) => a.id));
    let raised: AlertDto[] = [];
    await tick('expiry-scan', async () => {
      raised = (await listAlerts()).filter((a) => !before.has(a.id));
      return raised.length;
    });
    return raised;
  }

  /** A delivery pass; returns the POSTs it made (one per notification handled, the run's items). */
  async function deliver(): Promise<Delivery[]> {
    const seen = new Map([...receivers].map(([name, r]) => [name, r.deliveries.length]));
    const total = totalDeliveries();
    await tick('deliver-notifications', () => totalDeliveries() - total);
    return [...receivers].flatMap(([name, r]) => r.deliveries.slice(seen.get(name) ?? 0));
  }

  /** A bootstrap token, a P-256 key and CSR made by OpenSSL, and the certificate. */
  async function issue(label: string, service: ServiceName, profile: 'peer' | 'longpeer', ttl?: string): Promise<Identity> {
    const token = parseJson<{ token: string }>(await withToken(adminToken, 'POST', `/v1/services/${service}/bootstrap-tokens`, {}), 201);
    const keyFile = path.join(dir, `${label}.key`);
    const csrFile = path.join(dir, `${label}.csr`);
    const made = await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${service}.svc`, '-addext', `subjectAltName=DNS:${service}.svc`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const csr = await readFile(csrFile, 'utf8');
    const issued = parseJson<IssuedCertificateDto>(
      await withToken(token.token, 'POST', '/v1/certificates', { csr, profile, ...(ttl !== undefined ? { ttl } : {}) }),
      201,
    );
    assert.equal(issued.service, service);
    assert.equal(issued.profile, profile);
    const result: Identity = {
      service,
      profile,
      serial: issued.serial,
      keyPem: await readFile(keyFile, 'utf8'),
      certificatePem: issued.certificate,
      chainPem: issued.chain,
      notBefore: Date.parse(issued.notBefore),
      notAfter: Date.parse(issued.notAfter),
    };
    identities.set(label, result);
    return result;
  }

  /** Checks one delivery: headers, exact body, and the signature under `service`'s secret at the fake send time. */
  function assertSignedDelivery(delivery: Delivery, service: ServiceName, expected: WebhookEvent): void {
    assert.equal(delivery.path, 'POST /hooks');
    assert.deepEqual(delivery.event, expected);
    assert.match(header(delivery.headers, 'content-type'), /^application\/json/);
    assert.equal(header(delivery.headers, 'idempotency-key'), expected.id);
    assert.equal(header(delivery.headers, 'trustroot-event-type'), expected.type);
    assert.equal(header(delivery.headers, 'user-agent'), 'Trustroot-Webhooks/1');
    const signature = header(delivery.headers, 'trustroot-signature');
    assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.equal(signature.split(',')[0], `t=${delivery.fakeNowSeconds}`, 'signed at the (fake) send time');
    assert.ok(verifyWebhookSignature(secret(service), signature, delivery.raw, delivery.fakeNowSeconds), `signature of the ${service} delivery`);
    // Only the recipient's own secret verifies it, only the exact body, and only near its time.
    for (const other of SERVICES.filter((s) => s !== service)) {
      assert.equal(verifyWebhookSignature(secret(other), signature, delivery.raw, delivery.fakeNowSeconds), false, `${other}'s secret`);
    }
    assert.equal(verifyWebhookSignature(secret(service), signature, delivery.raw.replace('"daysLeft":', '"daysLeft": '), delivery.fakeNowSeconds), false);
    assert.equal(verifyWebhookSignature(secret(service), signature, delivery.raw, delivery.fakeNowSeconds + 3600), false);
  }

  /** The event Trustroot must send about `certificate` to `recipient`. */
  function expectedEvent(
    certificate: Identity,
    recipient: ServiceName,
    type: WebhookEvent['type'],
    extra: { threshold?: string; reason?: string; occurredAt: number; id: string },
  ): WebhookEvent {
    return {
      id: extra.id,
      type,
      occurredAt: new Date(extra.occurredAt).toISOString(),
      service: certificate.service,
      serial: certificate.serial,
      issuer: 'intermediate',
      profile: certificate.profile,
      notAfter: new Date(certificate.notAfter).toISOString(),
      ...(extra.threshold !== undefined ? { threshold: extra.threshold } : {}),
      ...(extra.reason !== undefined ? { reason: extra.reason } : {}),
      daysLeft: Math.floor((certificate.notAfter - extra.occurredAt) / DAY_MS),
      recipient,
      relationship: recipient === certificate.service ? 'owner' : 'relies-on',
    };
  }

  /** The notifications about `certificate` of `type`, checked to go to exactly its owner and `dependents`. */
  async function assertNotified(certificate: Identity, type: WebhookEvent['type'], dependents: ServiceName[], extra: { threshold?: string; reason?: string; occurredAt: number }): Promise<NotificationDto[]> {
    const found = (await listNotifications()).filter((n) => n.payload.serial === certificate.serial && n.eventType === type && n.payload.threshold === extra.threshold);
    assert.deepEqual(found.map((n) => n.service).sort(), [certificate.service, ...dependents].sort(), `${type} ${extra.threshold ?? extra.reason ?? ''} of ${certificate.service}`);
    for (const notification of found) {
      assert.equal(notification.eventId, notification.payload.id);
      assert.match(notification.eventId, /^evt_[0-9a-f]{32}$/);
      assert.deepEqual(notification.payload, expectedEvent(certificate, notification.service as ServiceName, type, { ...extra, id: notification.eventId }));
    }
    assert.equal(new Set(found.map((n) => n.eventId)).size, found.length, 'one event id per recipient');
    return found;
  }

  describe('1. services with webhooks, and what they rely on', () => {
    it('a webhookUrl that is not http(s), or points at a link-local or metadata address, is refused and nothing is created', async () => {
      for (const webhookUrl of ['ftp://x', 'http://169.254.169.254/latest', 'http://[fe80::1]/', 'http://metadata.google.internal/']) {
        const response = await withToken(adminToken, 'POST', '/v1/services', { name: 'bad-hook', owner: 'kyc-team', webhookUrl });
        assertProblem(response, 400, 'bad_request');
        assertProblem(await withToken(adminToken, 'GET', '/v1/services/bad-hook'), 404, 'not_found');
      }
      const listed = parseJson<{ services: ServiceDto[] }>(await withToken(adminToken, 'GET', '/v1/services'), 200);
      assert.deepEqual(listed.services, []);
    });

    it('each service is registered with a webhook; the secret is returned once, never by GET nor stored in clear', async () => {
      for (const name of SERVICES) {
        const webhookUrl = receiver(name).url;
        const created = parseJson<ServiceDto>(
          await withToken(adminToken, 'POST', '/v1/services', { name, owner: 'kyc-team', webhookUrl, dnsNames: [`${name}.svc`], profiles: ['peer', 'longpeer'] }),
          201,
        );
        assert.equal(created.webhookUrl, webhookUrl);
        assert.equal(typeof created.webhookSecret, 'string');
        assert.ok((created.webhookSecret ?? '').length >= 32, 'a secret with enough entropy');
        secrets.set(name, created.webhookSecret ?? '');
        const fetched = parseJson<ServiceDto>(await withToken(adminToken, 'GET', `/v1/services/${name}`), 200);
        assert.equal(fetched.webhookUrl, webhookUrl);
        assert.equal(fetched.webhookSecret, undefined);
        assert.ok(!JSON.stringify(fetched).includes(created.webhookSecret ?? '-'));
      }
      assert.equal(new Set(secrets.values()).size, SERVICES.length, 'one secret per service');
      const listed = await withToken(adminToken, 'GET', '/v1/services');
      assert.equal(listed.status, 200);
      for (const value of secrets.values()) assert.ok(!listed.text.includes(value));
      // An invalid URL on update is refused as well, and the webhook stays as it was.
      assertProblem(await withToken(adminToken, 'PATCH', '/v1/services/liveness', { webhookUrl: 'http://169.254.169.254/' }), 400, 'bad_request');
      assert.equal(parseJson<ServiceDto>(await withToken(adminToken, 'GET', '/v1/services/liveness'), 200).webhookUrl, receiver('liveness').url);
      const client = new pg.Client({ connectionString: trustroot.database.url });
      await client.connect();
      try {
        const rows = await client.query<{ row: string }>('SELECT s::text AS row FROM services s');
        assert.equal(rows.rows.length, SERVICES.length);
        for (const { row } of rows.rows) for (const value of secrets.values()) assert.ok(!row.includes(value), 'a webhook secret is stored in clear');
      } finally {
        await client.end();
      }
    });

    it('compliance relies on id-verification, liveness and aml-screening; each of them sees compliance relying on it', async () => {
      const set = parseJson<DependenciesDto>(
        await withToken(adminToken, 'PUT', '/v1/services/compliance/dependencies', { reliesOn: ['id-verification', 'liveness', 'aml-screening', 'liveness'] }),
        200,
      );
      assert.deepEqual(set, { reliesOn: ['aml-screening', 'id-verification', 'liveness'], reliedOnBy: [] });
      assert.deepEqual(parseJson<DependenciesDto>(await withToken(auditorToken.token, 'GET', '/v1/services/compliance/dependencies'), 200), set);
      for (const name of ['id-verification', 'liveness', 'aml-screening']) {
        assert.deepEqual(parseJson<DependenciesDto>(await withToken(adminToken, 'GET', `/v1/services/${name}/dependencies`), 200), { reliesOn: [], reliedOnBy: ['compliance'] });
      }
      assertProblem(await withToken(adminToken, 'PUT', '/v1/services/compliance/dependencies', { reliesOn: ['no-such-service'] }), 404, 'not_found');
      assertProblem(await withToken(adminToken, 'PUT', '/v1/services/compliance/dependencies', { reliesOn: ['compliance'] }), 400, 'bad_request');
      assertProblem(await withToken(ciToken.token, 'PUT', '/v1/services/compliance/dependencies', { reliesOn: [] }), 403, 'forbidden');
      assertProblem(await withToken(adminToken, 'GET', '/v1/services/no-such-service/dependencies'), 404, 'not_found');
      // The refusals changed nothing.
      assert.deepEqual(parseJson<DependenciesDto>(await withToken(adminToken, 'GET', '/v1/services/compliance/dependencies'), 200), set);
    });

    it(
      'the metadata host written as an absolute name (trailing dot) is refused too',
      async () => {
        const response = await withToken(adminToken, 'POST', '/v1/services', { name: 'dotted-hook', owner: 'kyc-team', webhookUrl: 'http://metadata.google.internal./computeMetadata/v1/' });
        assertProblem(response, 400, 'bad_request');
      },
    );
  });

  describe('2. a 90-day certificate is flagged 30 days before expiry; owner and dependents get signed webhooks', () => {
    it('id-verification gets a 90-day longpeer certificate with a bootstrap token and an OpenSSL CSR; no alert at issuance', async () => {
      const a = await issue('A', 'id-verification', 'longpeer', '90d');
      assert.equal(a.notAfter, Math.floor(start / 1000) * 1000 + 90 * DAY_MS);
      assert.equal(a.notBefore, Math.floor(start / 1000) * 1000 - MINUTE_MS);
      assert.deepEqual(await scan(), []);
      // The service itself may read its own dependencies over mTLS, not change another's.
      assert.deepEqual(parseJson<DependenciesDto>(await asService(a, 'GET', '/v1/services/id-verification/dependencies'), 200), { reliesOn: [], reliedOnBy: ['compliance'] });
      assertProblem(await asService(a, 'PUT', '/v1/services/compliance/dependencies', { reliesOn: [] }), 403, 'forbidden');
    });

    it('29 days before notAfter an expiry scan raises one 30d alert and two notifications: owner and relying service', async () => {
      const a = identity('A');
      clock.set(new Date(a.notAfter - 29 * DAY_MS));
      const raised = await scan();
      assert.equal(raised.length, 1);
      const alerts = await listAlerts('&service=id-verification');
      assert.equal(alerts.length, 1);
      assert.deepEqual(alerts[0], {
        id: alerts[0]?.id,
        serial: a.serial,
        service: 'id-verification',
        threshold: '30d',
        state: 'open',
        flaggedAt: clock.now().toISOString(),
        notAfter: new Date(a.notAfter).toISOString(),
      });
      assert.deepEqual(await listAlerts('&service=compliance'), []);
      const notifications = await listNotifications();
      assert.equal(notifications.length, 2, 'to id-verification and compliance only');
      const found = await assertNotified(a, 'certificate.expiring', ['compliance'], { threshold: '30d', occurredAt: clock.now().getTime() });
      for (const notification of found) {
        assert.equal(notification.status, 'pending');
        assert.equal(notification.attempts, 0);
        assert.equal(notification.payload.daysLeft, 29);
        assert.equal(notification.nextAttemptAt, clock.now().toISOString());
      }
    });

    it('a delivery pass POSTs each event once to its service, signed with that service’s secret; both are then delivered', async () => {
      const a = identity('A');
      const posts = await deliver();
      assert.equal(posts.length, 2);
      assert.equal(receiver('liveness').deliveries.length + receiver('aml-screening').deliveries.length, 0);
      const notifications = await listNotifications();
      for (const service of ['id-verification', 'compliance'] as const) {
        const deliveries = receiver(service).deliveries;
        assert.equal(deliveries.length, 1, service);
        const notification = notifications.find((n) => n.service === service);
        assert.ok(notification);
        const delivery = deliveries[0];
        assert.ok(delivery);
        assertSignedDelivery(delivery, service, expectedEvent(a, service, 'certificate.expiring', { threshold: '30d', occurredAt: clock.now().getTime(), id: notification.eventId }));
        assert.equal(delivery.event.daysLeft, 29);
        assert.equal(notification.status, 'delivered');
        assert.equal(notification.attempts, 1);
        assert.equal(notification.deliveredAt, clock.now().toISOString());
        assert.equal(notification.lastError, undefined);
      }
    });

    it('/metrics shows the open 30d alert and the delivered notifications', async () => {
      const families = parsePrometheusText((await withToken(adminToken, 'GET', '/metrics')).text);
      assert.equal(families.get('trustroot_alerts_open')?.type, 'gauge');
      assert.equal(sample(families, 'trustroot_alerts_open', { threshold: '30d' }), 1);
      assert.equal(sample(families, 'trustroot_notifications', { status: 'delivered' }), 2);
      assert.equal(sample(families, 'trustroot_notifications', { status: 'pending' }), 0);
      assert.equal(sample(families, 'trustroot_notifications', { status: 'dead' }), 0);
    });
  });

  describe('3. each threshold once; renewal resolves the alerts of the certificate it replaces', () => {
    it('an alert is acknowledged by admin (idempotently), not by ci; an unknown alert is 404', async () => {
      const [alert] = await listAlerts('&threshold=30d');
      assert.ok(alert);
      assertProblem(await withToken(ciToken.token, 'POST', `/v1/alerts/${alert.id}/acknowledge`), 403, 'forbidden');
      assertProblem(await withToken(adminToken, 'POST', `/v1/alerts/${randomUUID()}/acknowledge`), 404, 'not_found');
      const acknowledged = parseJson<AlertDto>(await withToken(adminToken, 'POST', `/v1/alerts/${alert.id}/acknowledge`), 200);
      assert.equal(acknowledged.state, 'acknowledged');
      assert.equal(acknowledged.acknowledgedAt, clock.now().toISOString());
      assert.match(String(acknowledged.acknowledgedBy), /^api-token:[0-9a-f-]{36}$/);
      clock.advance(MINUTE_MS);
      const again = parseJson<AlertDto>(await withToken(adminToken, 'POST', `/v1/alerts/${alert.id}/acknowledge`), 200);
      assert.deepEqual(again, acknowledged);
      assert.deepEqual(await listAlerts('&state=open'), []);
      assert.deepEqual((await listAlerts('&state=acknowledged')).map((a) => a.id), [alert.id]);
      assertProblem(await withToken(adminToken, 'GET', '/v1/alerts?state=bogus'), 400, 'bad_request');
      assertProblem(await withToken(ciToken.token, 'GET', '/v1/alerts'), 403, 'forbidden');
      assertProblem(await withToken(ciToken.token, 'GET', '/v1/notifications'), 403, 'forbidden');
    });

    it('a second scan five minutes later raises nothing and enqueues nothing', async () => {
      clock.advance(5 * MINUTE_MS);
      const notificationsBefore = await listNotifications();
      assert.deepEqual(await scan(), []);
      assert.equal((await listAlerts()).length, 1);
      assert.deepEqual((await listNotifications()).map((n) => n.id).sort(), notificationsBefore.map((n) => n.id).sort());
    });

    it('22 days before notAfter the 75% share of the lifetime has passed: a 75% alert only', async () => {
      const a = identity('A');
      assert.ok(relativeMoment(a, 0.75) < a.notAfter - 22 * DAY_MS && a.notAfter - 14 * DAY_MS > a.notAfter - 22 * DAY_MS);
      clock.set(new Date(a.notAfter - 22 * DAY_MS));
      assert.deepEqual((await scan()).map((alert) => alert.threshold), ['75%']);
      await assertNotified(a, 'certificate.expiring', ['compliance'], { threshold: '75%', occurredAt: clock.now().getTime() });
    });

    it('13 days before notAfter: a 14d alert only, the 30d one is not raised again; its events are delivered', async () => {
      const a = identity('A');
      clock.set(new Date(a.notAfter - 13 * DAY_MS));
      const raised = await scan();
      assert.deepEqual(raised.map((alert) => [alert.serial, alert.threshold, alert.state]), [[a.serial, '14d', 'open']]);
      const all = await listAlerts('&service=id-verification');
      assert.deepEqual(all.map((alert) => alert.threshold).sort(), ['14d', '30d', '75%']);
      const fourteen = await assertNotified(a, 'certificate.expiring', ['compliance'], { threshold: '14d', occurredAt: clock.now().getTime() });
      assert.ok(fourteen.every((n) => n.payload.daysLeft === 13));
      assert.equal((await listNotifications()).length, 6);
      // The 75% and 14d events go out in one pass, each with its own idempotency key.
      const posts = await deliver();
      assert.equal(posts.length, 4);
      for (const service of ['id-verification', 'compliance'] as const) {
        const deliveries = receiver(service).deliveries;
        assert.deepEqual(deliveries.map((d) => d.event.threshold), ['30d', '75%', '14d'], service);
        assert.equal(new Set(deliveries.map((d) => d.headers['idempotency-key'])).size, 3);
        const last = deliveries.at(-1);
        assert.ok(last);
        const notification = fourteen.find((n) => n.service === service);
        assert.ok(notification);
        assertSignedDelivery(last, service, notification.payload);
      }
      assert.deepEqual(countBy(await listNotifications(), (n) => n.status), new Map([['delivered', 6]]));
    });

    it('renewal over mTLS resolves every open or acknowledged alert of the old certificate', async () => {
      const a = identity('A');
      const renewed = parseJson<IssuedCertificateDto>(await asService(a, 'POST', '/v1/certificates/renew'), 201);
      assert.notEqual(renewed.serial, a.serial);
      assert.equal(Date.parse(renewed.notAfter) - Date.parse(renewed.notBefore), a.notAfter - a.notBefore, 'the same lifetime');
      identities.set('A2', { ...a, serial: renewed.serial, certificatePem: renewed.certificate, chainPem: renewed.chain, notBefore: Date.parse(renewed.notBefore), notAfter: Date.parse(renewed.notAfter) });
      const resolved = await listAlerts('&state=resolved');
      assert.deepEqual(resolved.map((alert) => alert.threshold).sort(), ['14d', '30d', '75%']);
      for (const alert of resolved) {
        assert.equal(alert.serial, a.serial);
        assert.equal(alert.resolvedAt, clock.now().toISOString());
      }
      // The acknowledgement is kept on the record.
      assert.ok(resolved.find((alert) => alert.threshold === '30d')?.acknowledgedAt);
      assert.deepEqual(await listAlerts('&state=open'), []);
      assert.deepEqual(await listAlerts('&state=acknowledged'), []);
      assert.equal((await getCertificate(a.serial)).status, 'superseded');
      assert.equal((await getCertificate(renewed.serial)).status, 'active');
    });

    it('the superseded certificate is never flagged again, nor marked expired, however late the scans', async () => {
      const a = identity('A');
      // Past the 90% share and the 7d threshold, then the 1d threshold, then notAfter itself.
      for (const at of [a.notAfter - 6 * DAY_MS, a.notAfter - 12 * HOUR_MS, a.notAfter + HOUR_MS]) {
        clock.set(new Date(at));
        assert.deepEqual(await scan(), []);
      }
      await tick('mark-expired', () => 0);
      assert.equal((await getCertificate(a.serial)).status, 'superseded');
      assert.equal((await listAlerts()).length, 3);
      assert.equal((await listAlerts()).filter((alert) => alert.state !== 'resolved').length, 0);
      assert.equal((await listNotifications()).length, 6);
      assert.deepEqual(await deliver(), []);
    });
  });

  describe('7. a 24-hour certificate is flagged when its renewal is late (75%, 90%), not when it is issued', () => {
    it('liveness and aml-screening get 24-hour peer certificates; a scan at issuance raises nothing', async () => {
      clock.set(new Date(identity('A').notAfter + DAY_MS));
      const issuedAt = clock.now().getTime();
      for (const [label, service] of [['L', 'liveness'], ['M', 'aml-screening']] as const) {
        const certificate = await issue(label, service, 'peer');
        assert.equal(certificate.notAfter - Math.floor(issuedAt / 1000) * 1000, DAY_MS);
      }
      assert.deepEqual(await scan(), []);
      // One second before the 75% moment: still nothing.
      const l = identity('L');
      assert.ok(relativeMoment(l, 0.75) <= issuedAt + 18 * HOUR_MS);
      clock.set(new Date(relativeMoment(l, 0.75) - SECOND_MS));
      assert.deepEqual(await scan(), []);
    });

    it('18 hours after issuance both are flagged 75% (and nothing else); owner and compliance are notified', async () => {
      const l = identity('L');
      const m = identity('M');
      clock.set(new Date(l.notAfter - 6 * HOUR_MS));
      const raised = await scan();
      assert.deepEqual(raised.map((alert) => `${alert.service ?? ''} ${alert.threshold}`).sort(), ['aml-screening 75%', 'liveness 75%']);
      assert.deepEqual(new Set(raised.map((alert) => alert.serial)), new Set([l.serial, m.serial]));
      await assertNotified(l, 'certificate.expiring', ['compliance'], { threshold: '75%', occurredAt: clock.now().getTime() });
      await assertNotified(m, 'certificate.expiring', ['compliance'], { threshold: '75%', occurredAt: clock.now().getTime() });
    });
  });

  describe('4. deliveries are retried with backoff, then dead-lettered', () => {
    it('the first attempt: compliance accepts, liveness and aml-screening answer 500 and are scheduled again within 30 s', async () => {
      const posts = await deliver();
      assert.deepEqual(posts.map((p) => `${p.event.recipient} ${p.event.service} ${p.answered}`).sort(), [
        'aml-screening aml-screening 500',
        'compliance aml-screening 204',
        'compliance liveness 204',
        'liveness liveness 500',
      ]);
      for (const service of ['liveness', 'aml-screening'] as const) {
        const [notification] = await listNotifications(`&service=${service}`);
        assert.ok(notification);
        assert.equal(notification.status, 'pending');
        assert.equal(notification.attempts, 1);
        assert.equal(notification.lastError, 'HTTP 500');
        const delay = Date.parse(notification.nextAttemptAt) - clock.now().getTime();
        assert.ok(delay >= 0 && delay <= 30 * SECOND_MS, `first retry in ${delay} ms`);
      }
    });

    it('liveness is not retried before its backoff has passed', async () => {
      const [notification] = await listNotifications('&service=liveness');
      assert.ok(notification);
      const due = Date.parse(notification.nextAttemptAt);
      assert.ok(due - clock.now().getTime() >= 2 * SECOND_MS, 'the longest first backoff is close to 30 s');
      clock.set(new Date(due - 1));
      const posts = await deliver();
      assert.deepEqual(posts.filter((p) => p.event.recipient === 'liveness'), []);
    });

    it('liveness answers 500 three times, then 200: delivered on the 4th attempt, always with the same key and body', async () => {
      const l = identity('L');
      for (let attempt = 2; attempt <= 4; attempt++) {
        clock.advance(HOUR_MS);
        await deliver();
        const [notification] = await listNotifications('&service=liveness');
        assert.ok(notification);
        assert.equal(notification.attempts, attempt);
        assert.equal(notification.status, attempt < 4 ? 'pending' : 'delivered');
      }
      const [notification] = await listNotifications('&service=liveness');
      assert.ok(notification);
      assert.equal(notification.deliveredAt, clock.now().toISOString());
      assert.equal(notification.lastError, undefined);
      const deliveries = receiver('liveness').deliveries;
      assert.deepEqual(deliveries.map((d) => d.answered), [500, 500, 500, 200]);
      assert.deepEqual(new Set(deliveries.map((d) => d.headers['idempotency-key'])), new Set([notification.eventId]));
      assert.deepEqual(new Set(deliveries.map((d) => d.raw)).size, 1);
      for (const delivery of deliveries) assertSignedDelivery(delivery, 'liveness', notification.payload);
      assert.equal(new Set(deliveries.map((d) => d.fakeNowSeconds)).size, 4, 'each attempt is signed at its own time');
      assert.equal(notification.payload.serial, l.serial);
    });

    it('at 21.6 hours both 24-hour certificates are flagged 90%; the 75% alerts are not raised again', async () => {
      const l = identity('L');
      const issuedAt = l.notBefore + MINUTE_MS;
      assert.ok(relativeMoment(l, 0.9) <= issuedAt + 21.6 * HOUR_MS);
      clock.set(new Date(issuedAt + 21.6 * HOUR_MS));
      const raised = await scan();
      assert.deepEqual(raised.map((alert) => `${alert.service ?? ''} ${alert.threshold}`).sort(), ['aml-screening 90%', 'liveness 90%']);
      await assertNotified(l, 'certificate.expiring', ['compliance'], { threshold: '90%', occurredAt: clock.now().getTime() });
      assert.deepEqual(countBy(await listAlerts('&state=open'), (alert) => alert.threshold), new Map([['75%', 2], ['90%', 2]]));
    });

    it('aml-screening always answers 500: after 8 attempts the event is dead, with its last error, and never sent again', async () => {
      const m = identity('M');
      const isFirst = (d: Delivery) => d.event.serial === m.serial && d.event.threshold === '75%';
      for (let pass = 0; pass < 8; pass++) {
        const [first] = (await listNotifications('&service=aml-screening')).filter((n) => n.payload.threshold === '75%');
        assert.ok(first);
        if (first.status === 'dead') break;
        await deliver();
        clock.advance(HOUR_MS);
      }
      const dead = await listNotifications('&status=dead');
      assert.equal(dead.length, 1, JSON.stringify(dead.map((n) => [n.service, n.payload.threshold, n.attempts])));
      const [notification] = dead;
      assert.ok(notification);
      assert.equal(notification.service, 'aml-screening');
      assert.equal(notification.payload.serial, m.serial);
      assert.equal(notification.payload.threshold, '75%');
      assert.equal(notification.attempts, 8);
      assert.equal(notification.lastError, 'HTTP 500');
      assert.equal(notification.deliveredAt, undefined);
      const attempts = receiver('aml-screening').deliveries.filter(isFirst);
      assert.equal(attempts.length, 8);
      assert.ok(attempts.every((d) => d.headers['idempotency-key'] === notification.eventId && d.answered === 500));
      for (const delivery of attempts) assertSignedDelivery(delivery, 'aml-screening', notification.payload);
      // A dead event stays dead.
      clock.advance(HOUR_MS);
      await deliver();
      assert.equal(receiver('aml-screening').deliveries.filter(isFirst).length, 8);
      assert.equal((await listNotifications('&status=dead')).length, 1);
    });
  });

  describe('5. certificates that expire without renewal', () => {
    it('mark-expired moves them to expired, raises an expired alert, and notifies owner and compliance', async () => {
      const l = identity('L');
      const m = identity('M');
      assert.ok(clock.now().getTime() > m.notAfter && clock.now().getTime() > l.notAfter);
      await tick('mark-expired', () => 2);
      for (const certificate of [l, m]) {
        assert.equal((await getCertificate(certificate.serial)).status, 'expired');
        const expired = await listAlerts(`&service=${certificate.service}&threshold=expired`);
        assert.deepEqual(expired.map((alert) => [alert.serial, alert.state, alert.flaggedAt]), [[certificate.serial, 'open', clock.now().toISOString()]]);
        const notified = await assertNotified(certificate, 'certificate.expired', ['compliance'], { threshold: 'expired', occurredAt: clock.now().getTime() });
        assert.ok(notified.every((n) => n.payload.daysLeft < 0 && n.status === 'pending'));
      }
      assert.equal((await getCertificate(identity('A2').serial)).status, 'active');
      // Nothing more to do on the next ticks: no second expired flag, no expiring flag of an expired certificate.
      const alerts = (await listAlerts()).length;
      clock.advance(MINUTE_MS);
      await tick('mark-expired', () => 0);
      assert.deepEqual(await scan(), []);
      assert.equal((await listAlerts()).length, alerts);
    });
  });

  describe('6. revocation notifies the owner and the services relying on it', () => {
    it('an admin revokes a liveness certificate: certificate.revoked to liveness and compliance, no alert', async () => {
      const l2 = await issue('L2', 'liveness', 'peer');
      const alerts = (await listAlerts()).length;
      const revoked = parseJson<CertificateDto>(await withToken(adminToken, 'POST', `/v1/certificates/${l2.serial}/revoke`, { reason: 'cessationOfOperation' }), 200);
      assert.equal(revoked.status, 'revoked');
      const found = (await listNotifications()).filter((n) => n.eventType === 'certificate.revoked');
      assert.deepEqual(found.map((n) => n.service).sort(), ['compliance', 'liveness']);
      for (const notification of found) {
        assert.equal(notification.status, 'pending');
        assert.deepEqual(notification.payload, expectedEvent(l2, notification.service as ServiceName, 'certificate.revoked', { reason: 'cessationOfOperation', occurredAt: clock.now().getTime(), id: notification.eventId }));
      }
      assert.equal((await listAlerts()).length, alerts);
      clock.advance(MINUTE_MS);
      const posts = (await deliver()).filter((p) => p.event.type === 'certificate.revoked');
      assert.deepEqual(posts.map((p) => `${p.event.recipient} ${p.answered}`).sort(), ['compliance 204', 'liveness 500']);
      const toCompliance = posts.find((p) => p.event.recipient === 'compliance');
      const notification = found.find((n) => n.service === 'compliance');
      assert.ok(toCompliance && notification);
      assertSignedDelivery(toCompliance, 'compliance', notification.payload);
      // A revoked certificate is never flagged for expiry.
      clock.advance(20 * HOUR_MS);
      assert.deepEqual((await scan()).filter((alert) => alert.serial === l2.serial), []);
    });
  });

  describe('8. /metrics and /v1/scheduler', () => {
    it('/metrics parses strictly and reports inventory, alerts, notifications, job runs and issuance', async () => {
      await tick('crl-refresh');
      assertProblem(await withToken(ciToken.token, 'GET', '/metrics'), 403, 'forbidden');
      assertProblem(await api('/metrics'), 401, 'unauthorized');
      const response = await withToken(auditorToken.token, 'GET', '/metrics');
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusText(response.text);

      // Inventory: the API's own TLS certificate and the renewed A2 are active; A superseded; L and M expired; L2 revoked.
      assert.equal(families.get('trustroot_certificates')?.type, 'gauge');
      const statuses = { active: 2, superseded: 1, expired: 2, revoked: 1 };
      for (const [status, count] of Object.entries(statuses)) {
        assert.equal(sample(families, 'trustroot_certificates', { status, issuer: 'intermediate' }), count, status);
        assert.equal(sample(families, 'trustroot_certificates', { status, issuer: 'test-intermediate' }), 0, status);
      }
      const alertsOpen = countBy(await listAlerts('&state=open'), (alert) => alert.threshold);
      assert.deepEqual(alertsOpen, new Map([['75%', 2], ['90%', 2], ['expired', 2]]));
      const openSamples = families.get('trustroot_alerts_open')?.samples ?? [];
      assert.deepEqual(new Map(openSamples.map((s) => [s.labels.threshold ?? '', s.value])), alertsOpen);
      const byStatus = countBy(await listNotifications(), (n) => n.status);
      for (const status of ['pending', 'delivered', 'dead']) {
        assert.equal(sample(families, 'trustroot_notifications', { status }), byStatus.get(status) ?? 0, status);
      }
      assert.equal(sample(families, 'trustroot_notifications', { status: 'dead' }), 1);

      assert.equal(families.get('trustroot_job_runs_total')?.type, 'counter');
      const runs = countBy(ticks, (t) => `${t.job} ${t.outcome}`);
      const reported = new Map((families.get('trustroot_job_runs_total')?.samples ?? []).map((s) => [`${s.labels.job ?? ''} ${s.labels.outcome ?? ''}`, s.value]));
      assert.deepEqual(reported, runs);
      for (const job of ['expiry-scan', 'mark-expired', 'deliver-notifications'] as const) {
        const items = ticks.filter((t) => t.job === job).reduce((sum, t) => sum + (t.items ?? 0), 0);
        assert.equal(sample(families, 'trustroot_job_items_total', { job }), items, job);
      }

      assert.equal(families.get('trustroot_certificates_issued_total')?.type, 'counter');
      assert.equal(sample(families, 'trustroot_certificates_issued_total', { profile: 'longpeer', issuer: 'intermediate' }), 1);
      assert.equal(sample(families, 'trustroot_certificates_issued_total', { profile: 'peer', issuer: 'intermediate' }), 3);
      assert.equal(sample(families, 'trustroot_certificates_renewed_total', { profile: 'longpeer' }), 1);
      assert.equal(sample(families, 'trustroot_certificates_revoked_total', { reason: 'cessationOfOperation' }), 1);
      // The soonest expiry per service is measured on the fake clock.
      const a2 = identity('A2');
      assert.equal(sample(families, 'trustroot_certificate_soonest_expiry_seconds', { service: 'id-verification' }), (a2.notAfter - clock.now().getTime()) / 1000);
    });

    it('/v1/scheduler lists the four jobs with their schedules and recent runs, newest first', async () => {
      assertProblem(await withToken(ciToken.token, 'GET', '/v1/scheduler'), 403, 'forbidden');
      const status = parseJson<SchedulerDto>(await withToken(auditorToken.token, 'GET', '/v1/scheduler'), 200);
      assert.deepEqual(status.jobs.map((j) => [j.job, j.schedule]), [
        ['expiry-scan', '*/5 * * * *'],
        ['mark-expired', '* * * * *'],
        ['crl-refresh', '*/5 * * * *'],
        ['deliver-notifications', '*/15 * * * * *'],
      ]);
      assert.deepEqual(status.jobs.map((j) => j.job), [...JOB_NAMES]);
      for (const job of status.jobs) {
        const mine = ticks.filter((t) => t.job === job.job).reverse().slice(0, 10);
        assert.ok(mine.length > 0, job.job);
        assert.equal(job.recentRuns.length, mine.length, job.job);
        job.recentRuns.forEach((run, index) => {
          const expected = mine[index];
          assert.ok(expected);
          assert.equal(run.scheduledFor, expected.scheduledFor.toISOString(), job.job);
          assert.equal(run.outcome, 'succeeded');
          assert.equal(run.error, undefined);
          assert.ok(run.finishedAt && Date.parse(run.finishedAt) >= Date.parse(run.startedAt));
          assert.ok(typeof run.durationMs === 'number' && run.durationMs >= 0);
          if (expected.items !== undefined) assert.equal(run.items, expected.items, `${job.job} at ${run.scheduledFor}`);
        });
      }
      // Items were counted: some scans raised alerts, some passes delivered, mark-expired expired two.
      const runs = new Map(status.jobs.map((j) => [j.job, j.recentRuns]));
      assert.ok(runs.get('deliver-notifications')?.some((run) => run.items > 0));
      assert.ok(runs.get('mark-expired')?.some((run) => run.items === 2));
      assert.ok((runs.get('crl-refresh')?.[0]?.items ?? 0) > 0, 'CRLs older than the refresh interval were rebuilt');
    });
  });
});
