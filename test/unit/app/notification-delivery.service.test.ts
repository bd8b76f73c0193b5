import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, it } from 'node:test';
import { NotificationDeliveryService, type DeliverySettings } from '../../../src/app/notification-delivery.service.ts';
import type { RandomSource } from '../../../src/domain/clock.ts';
import { retryDelayMs } from '../../../src/domain/lifecycle/retry-backoff.ts';
import { verifyWebhookSignature } from '../../../src/domain/lifecycle/webhook-signature.ts';
import type { NotificationOutbox, PendingNotification, SecretSealer } from '../../../src/domain/ports.ts';
import { HttpWebhookSender } from '../../../src/scheduler/webhook-sender.ts';
import { FakeClock } from './in-memory-ports.ts';

const NOW = new Date('2030-06-01T08:00:00Z');
const LEASE_MS = 60_000;

/* ---------- fakes ---------- */

/** A reversible stand-in for the KEK sealer that, like the real one, refuses a wrong context. */
class FakeSealer implements SecretSealer {
  seal(secret: string, context: string): Uint8Array {
    return Uint8Array.from(Buffer.from(JSON.stringify({ context, secret }), 'utf8'), (byte) => byte ^ 0x5a);
  }
  open(sealed: Uint8Array, context: string): string {
    const parsed = JSON.parse(Buffer.from(sealed.map((byte) => byte ^ 0x5a)).toString('utf8')) as { context: string; secret: string };
    if (parsed.context !== context) throw new Error('sealed secret does not match its context');
    return parsed.secret;
  }
}

interface OutboxRow {
  notification: PendingNotification;
  status: 'pending' | 'delivered' | 'dead';
  nextAttemptAt: Date | undefined;
  leaseUntil: Date | undefined;
  lastError: string | undefined;
  deliveredAt: Date | undefined;
}

/** The outbox in a Map. Like the SQL one, a claim hides rows until their lease lapses. */
class InMemoryOutbox implements NotificationOutbox {
  readonly rows = new Map<string, OutboxRow>();
  readonly claimLimits: number[] = [];
  private nextId = 1;

  add(notification: Omit<PendingNotification, 'id' | 'attempts'>, dueAt: Date): string {
    const id = `n-${this.nextId++}`;
    this.rows.set(id, {
      notification: { ...notification, id, attempts: 0 },
      status: 'pending',
      nextAttemptAt: dueAt,
      leaseUntil: undefined,
      lastError: undefined,
      deliveredAt: undefined,
    });
    return id;
  }

  row(id: string): OutboxRow {
    const row = this.rows.get(id);
    if (row === undefined) throw new Error(`no outbox row ${id}`);
    return row;
  }

  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<PendingNotification[]> {
    this.claimLimits.push(limit);
    const due = [...this.rows.values()]
      .filter((row) => row.status === 'pending' && row.nextAttemptAt !== undefined && row.nextAttemptAt <= now)
      .filter((row) => row.leaseUntil === undefined || row.leaseUntil <= now)
      .sort((a, b) => (a.nextAttemptAt?.getTime() ?? 0) - (b.nextAttemptAt?.getTime() ?? 0))
      .slice(0, limit);
    for (const row of due) row.leaseUntil = leaseUntil;
    return due.map((row) => ({ ...row.notification, payload: structuredClone(row.notification.payload) }));
  }

  async markDelivered(id: string, at: Date): Promise<void> {
    const row = this.row(id);
    row.status = 'delivered';
    row.deliveredAt = at;
    row.leaseUntil = undefined;
    row.nextAttemptAt = undefined;
  }

  async markFailed(id: string, error: string, attempts: number, nextAttemptAt: Date | undefined): Promise<void> {
    const row = this.row(id);
    row.notification.attempts = attempts;
    row.lastError = error;
    row.leaseUntil = undefined;
    row.nextAttemptAt = nextAttemptAt;
    if (nextAttemptAt === undefined) row.status = 'dead';
  }
}

/** An outbox whose process "dies" right after the POST, before the delivery is recorded. */
class CrashingOutbox implements NotificationOutbox {
  constructor(private readonly inner: InMemoryOutbox) {}
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<PendingNotification[]> {
    return this.inner.claimDue(now, limit, leaseUntil);
  }
  async markDelivered(): Promise<void> {
    throw new Error('simulated crash before recording');
  }
  async markFailed(): Promise<void> {
    throw new Error('simulated crash before recording');
  }
}

/** Every octet 0xff: each backoff is exactly its ceiling (30 s, 60 s, 120 s, ...), so tests can aim at it. */
const maxRandom: RandomSource = { bytes: (length) => new Uint8Array(length).fill(0xff) };

/* ---------- real receivers ---------- */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

interface Receiver {
  url: string;
  received: Received[];
}

const servers: Server[] = [];

/** A real HTTP server on 127.0.0.1; `respond` sees each request after its body has arrived (1-based index). */
async function startReceiver(respond: (req: IncomingMessage, res: ServerResponse, index: number) => void): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: performance.now() });
      respond(req, res, received.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return { url: `http://127.0.0.1:${address.port}/hooks/trustroot`, received };
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(status < 300 ? 'ok' : 'nope');
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/* ---------- set-up ---------- */

const sealer = new FakeSealer();

function secretOf(service: string): string {
  return `whsec-${service}-0123456789abcdef`;
}

function notificationFor(service: string, webhookUrl: string | undefined, key = `key-${service}`): Omit<PendingNotification, 'id' | 'attempts'> {
  return {
    recipientService: service,
    webhookUrl,
    webhookSecretSealed: sealer.seal(secretOf(service), `webhook:${service}`),
    eventType: 'certificate.expiring',
    idempotencyKey: key,
    payload: { id: `evt-${key}`, type: 'certificate.expiring', service, serial: '4a1b2c', notAfter: '2030-06-15T00:00:00.000Z' },
  };
}

function setUp(settings: Partial<DeliverySettings> = {}): { outbox: InMemoryOutbox; clock: FakeClock; service: NotificationDeliveryService } {
  const outbox = new InMemoryOutbox();
  const clock = new FakeClock(NOW);
  const service = new NotificationDeliveryService(outbox, new HttpWebhookSender(), sealer, clock, maxRandom, settings);
  return { outbox, clock, service };
}

const NONE = { delivered: 0, failed: 0, deadLettered: 0 };

/* ---------- tests ---------- */

describe('NotificationDeliveryService.deliverDue with real HTTP receivers', () => {
  it('(a) delivers a signed POST with the idempotency key and marks it delivered', async () => {
    const { outbox, clock, service } = setUp();
    const checks: { signatureValid: boolean; wrongSecretValid: boolean }[] = [];
    const receiver = await startReceiver((req, res) => {
      const header = String(req.headers['trustroot-signature']);
      const body = receiver.received.at(-1)?.body ?? '';
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      checks.push({
        signatureValid: verifyWebhookSignature(secretOf('billing'), header, body, nowSeconds),
        wrongSecretValid: verifyWebhookSignature(secretOf('other'), header, body, nowSeconds),
      });
      answer(res, 204);
    });
    const id = outbox.add(notificationFor('billing', receiver.url, 'idem-123'), NOW);

    assert.deepEqual(await service.deliverDue(), { delivered: 1, failed: 0, deadLettered: 0 });

    assert.equal(receiver.received.length, 1);
    const [request] = receiver.received;
    assert.ok(request);
    assert.deepEqual(checks, [{ signatureValid: true, wrongSecretValid: false }]);
    assert.equal(request.headers['idempotency-key'], 'idem-123');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['trustroot-event-type'], 'certificate.expiring');
    assert.equal(request.headers['user-agent'], 'Trustroot-Webhooks/1');
    assert.match(String(request.headers['trustroot-signature']), new RegExp(`^t=${NOW.getTime() / 1000},v1=[0-9a-f]{64}$`));
    assert.deepEqual(JSON.parse(request.body), outbox.row(id).notification.payload);
    assert.equal(outbox.row(id).status, 'delivered');
    assert.deepEqual(outbox.row(id).deliveredAt, NOW);
    assert.deepEqual(await service.deliverDue(), NONE, 'a delivered notification is never sent again');
    assert.equal(receiver.received.length, 1);
  });

  it('(b) retries a 500 with backoff, never before it is due, and delivers on the 4th attempt', async () => {
    const { outbox, clock, service } = setUp();
    const receiver = await startReceiver((_req, res, index) => answer(res, index <= 3 ? 500 : 200));
    const id = outbox.add(notificationFor('billing', receiver.url), NOW);

    for (let attempt = 1; attempt <= 3; attempt += 1) {
      assert.deepEqual(await service.deliverDue(), { delivered: 0, failed: 1, deadLettered: 0 }, `attempt ${attempt}`);
      const row = outbox.row(id);
      assert.equal(row.status, 'pending');
      assert.equal(row.notification.attempts, attempt);
      assert.equal(row.lastError, 'HTTP 500');
      const expectedDelay = retryDelayMs(attempt, maxRandom);
      assert.equal(expectedDelay, 30_000 * 2 ** (attempt - 1));
      assert.equal(row.nextAttemptAt?.getTime(), clock.now().getTime() + expectedDelay);

      clock.advance(expectedDelay - 1);
      assert.deepEqual(await service.deliverDue(), NONE, `nothing is sent 1 ms before backoff ${attempt} is due`);
      assert.equal(receiver.received.length, attempt);
      clock.advance(1);
    }
    assert.deepEqual(await service.deliverDue(), { delivered: 1, failed: 0, deadLettered: 0 });
    assert.equal(receiver.received.length, 4);
    assert.equal(outbox.row(id).status, 'delivered');
    assert.deepEqual(new Set(receiver.received.map((request) => request.headers['idempotency-key'])), new Set(['key-billing']));
  });

  it('(c) dead-letters a receiver that always fails after maxAttempts, with the last error visible', async () => {
    const { outbox, clock, service } = setUp({ maxAttempts: 4 });
    const receiver = await startReceiver((_req, res) => answer(res, 503));
    const id = outbox.add(notificationFor('billing', receiver.url), NOW);

    const results = [];
    for (let pass = 1; pass <= 4; pass += 1) {
      results.push(await service.deliverDue());
      clock.advance(3_600_000);
    }
    assert.deepEqual(results, [
      { delivered: 0, failed: 1, deadLettered: 0 },
      { delivered: 0, failed: 1, deadLettered: 0 },
      { delivered: 0, failed: 1, deadLettered: 0 },
      { delivered: 0, failed: 0, deadLettered: 1 },
    ]);
    const row = outbox.row(id);
    assert.equal(row.status, 'dead');
    assert.equal(row.notification.attempts, 4);
    assert.equal(row.lastError, 'HTTP 503');
    assert.equal(row.nextAttemptAt, undefined);
    clock.advance(24 * 3_600_000);
    assert.deepEqual(await service.deliverDue(), NONE, 'a dead letter is never claimed again');
    assert.equal(receiver.received.length, 4);
  });

  it('(d) a hung receiver costs only its own timeout: the fast one is delivered in the same pass', async () => {
    const { outbox, service } = setUp({ timeoutMs: 200 });
    const hung = await startReceiver(() => {
      /* never answers */
    });
    const fast = await startReceiver((_req, res) => answer(res, 200));
    // The hung one is claimed first, so a serial implementation would make the fast one wait.
    const hungId = outbox.add(notificationFor('slow', hung.url), new Date(NOW.getTime() - 1000));
    const fastId = outbox.add(notificationFor('fast', fast.url), NOW);

    const started = performance.now();
    const counts = await service.deliverDue();
    const elapsed = performance.now() - started;

    assert.deepEqual(counts, { delivered: 1, failed: 1, deadLettered: 0 });
    assert.ok(elapsed >= 190 && elapsed < 2000, `pass took ${elapsed.toFixed(0)} ms`);
    assert.equal(hung.received.length, 1);
    assert.ok((fast.received[0]?.at ?? Infinity) - started < 200, 'the fast receiver was reached before the hung one timed out');
    assert.equal(outbox.row(fastId).status, 'delivered');
    assert.equal(outbox.row(hungId).status, 'pending');
    assert.equal(outbox.row(hungId).lastError, 'timeout after 200 ms');
    assert.equal(outbox.row(hungId).notification.attempts, 1);
  });

  it('(e) a connection reset is a failed attempt, retried after the backoff', async () => {
    const { outbox, clock, service } = setUp();
    const receiver = await startReceiver((req, res, index) => {
      if (index === 1) req.socket.destroy();
      else answer(res, 200);
    });
    const id = outbox.add(notificationFor('billing', receiver.url), NOW);

    assert.deepEqual(await service.deliverDue(), { delivered: 0, failed: 1, deadLettered: 0 });
    assert.match(outbox.row(id).lastError ?? '', /^network error( [A-Z][A-Z0-9_]+)?$/);
    assert.equal(outbox.row(id).status, 'pending');

    clock.advance(30_000);
    assert.deepEqual(await service.deliverDue(), { delivered: 1, failed: 0, deadLettered: 0 });
    assert.equal(receiver.received.length, 2);
  });

  it('(f) a 302 is a failure and its target never receives a request', async () => {
    const { outbox, service } = setUp();
    const target = await startReceiver((_req, res) => answer(res, 200));
    const redirecting = await startReceiver((_req, res) => {
      res.writeHead(302, { Location: target.url });
      res.end();
    });
    const id = outbox.add(notificationFor('billing', redirecting.url), NOW);

    assert.deepEqual(await service.deliverDue(), { delivered: 0, failed: 1, deadLettered: 0 });
    assert.equal(redirecting.received.length, 1);
    assert.equal(target.received.length, 0);
    assert.equal(outbox.row(id).lastError, 'HTTP 302 (redirects are not followed)');
  });

  it('(g) a crash after the POST but before recording loses nothing: redelivered after the lease, same key', async () => {
    const outbox = new InMemoryOutbox();
    const clock = new FakeClock(NOW);
    const receiver = await startReceiver((_req, res) => answer(res, 200));
    const id = outbox.add(notificationFor('billing', receiver.url, 'idem-crash'), NOW);

    const dying = new NotificationDeliveryService(new CrashingOutbox(outbox), new HttpWebhookSender(), sealer, clock, maxRandom);
    await assert.rejects(dying.deliverDue(), AggregateError);
    assert.equal(receiver.received.length, 1);
    assert.equal(outbox.row(id).status, 'pending', 'the outbox row is still pending');

    const survivor = new NotificationDeliveryService(outbox, new HttpWebhookSender(), sealer, clock, maxRandom);
    clock.advance(LEASE_MS - 1);
    assert.deepEqual(await survivor.deliverDue(), NONE, 'the lease still hides it');
    assert.equal(receiver.received.length, 1);

    clock.advance(1);
    assert.deepEqual(await survivor.deliverDue(), { delivered: 1, failed: 0, deadLettered: 0 });
    assert.equal(outbox.row(id).status, 'delivered');
    assert.deepEqual(
      receiver.received.map((request) => request.headers['idempotency-key']),
      ['idem-crash', 'idem-crash'],
    );
    assert.equal(receiver.received[0]?.body, receiver.received[1]?.body);
  });

  it('(g′) a replica that dies right after claiming: another pass delivers once the lease lapses', async () => {
    const { outbox, clock, service } = setUp();
    const receiver = await startReceiver((_req, res) => answer(res, 200));
    const id = outbox.add(notificationFor('billing', receiver.url, 'idem-claimed'), NOW);

    const claimed = await outbox.claimDue(clock.now(), 10, new Date(NOW.getTime() + LEASE_MS));
    assert.deepEqual(claimed.map((notification) => notification.id), [id]);
    // ...and the claimer dies here: no POST, no markDelivered.

    assert.deepEqual(await service.deliverDue(), NONE);
    clock.advance(LEASE_MS);
    assert.deepEqual(await service.deliverDue(), { delivered: 1, failed: 0, deadLettered: 0 });
    assert.equal(receiver.received[0]?.headers['idempotency-key'], 'idem-claimed');
  });

  it('keeps at most `concurrency` deliveries in flight', async () => {
    const { outbox, service } = setUp({ concurrency: 2 });
    let inFlight = 0;
    let maxInFlight = 0;
    const receiver = await startReceiver((_req, res) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        answer(res, 200);
      }, 40);
    });
    for (let i = 0; i < 6; i += 1) outbox.add(notificationFor(`svc-${i}`, receiver.url), NOW);

    assert.deepEqual(await service.deliverDue(), { delivered: 6, failed: 0, deadLettered: 0 });
    assert.equal(maxInFlight, 2);
  });
});

describe('NotificationDeliveryService.deliverDue without a usable webhook', () => {
  const cases: { name: string; webhookUrl: string | undefined; sealed: boolean }[] = [
    { name: 'no webhook URL', webhookUrl: undefined, sealed: true },
    { name: 'no secret', webhookUrl: 'http://127.0.0.1:9/never', sealed: false },
  ];
  for (const { name, webhookUrl, sealed } of cases) {
    it(`dead-letters a notification whose service has ${name}, at once and without a request`, async () => {
      const { outbox, service } = setUp();
      const id = outbox.add({ ...notificationFor('billing', webhookUrl), webhookSecretSealed: sealed ? sealer.seal('s', 'webhook:billing') : undefined }, NOW);
      assert.deepEqual(await service.deliverDue(), { delivered: 0, failed: 0, deadLettered: 1 });
      assert.equal(outbox.row(id).status, 'dead');
      assert.equal(outbox.row(id).lastError, 'service has no webhook URL');
    });
  }

  it('never sends unsigned: a secret sealed for another service fails the attempt without a request', async () => {
    const { outbox, service } = setUp();
    const receiver = await startReceiver((_req, res) => answer(res, 200));
    const id = outbox.add({ ...notificationFor('billing', receiver.url), webhookSecretSealed: sealer.seal('s', 'webhook:payments') }, NOW);
    assert.deepEqual(await service.deliverDue(), { delivered: 0, failed: 1, deadLettered: 0 });
    assert.equal(outbox.row(id).lastError, 'webhook secret cannot be opened');
    assert.equal(receiver.received.length, 0);
  });
});

describe('NotificationDeliveryService settings', () => {
  it('claims no more per pass than can finish within the lease', async () => {
    const defaults = setUp();
    await defaults.service.deliverDue();
    assert.deepEqual(defaults.outbox.claimLimits, [48], '8 in flight × ⌊60 s / (2 × 5 s)⌋ waves');

    const small = setUp({ batchSize: 10 });
    await small.service.deliverDue();
    assert.deepEqual(small.outbox.claimLimits, [10]);
  });

  const refused: { name: string; settings: Partial<DeliverySettings> }[] = [
    { name: 'a lease shorter than two timeouts', settings: { leaseMs: 9_999, timeoutMs: 5000 } },
    { name: 'zero concurrency', settings: { concurrency: 0 } },
    { name: 'a fractional batch size', settings: { batchSize: 1.5 } },
    { name: 'a negative maxAttempts', settings: { maxAttempts: -1 } },
  ];
  for (const { name, settings } of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => setUp(settings), RangeError);
    });
  }

  it('keeps a default for a setting given as undefined', async () => {
    const { outbox, service } = setUp({ batchSize: undefined });
    await service.deliverDue();
    assert.deepEqual(outbox.claimLimits, [48]);
  });
});
