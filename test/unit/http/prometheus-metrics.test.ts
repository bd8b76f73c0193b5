import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pino } from 'pino';
import type { RequestContext } from '../../../src/app/request-context.ts';
import { DomainError } from '../../../src/domain/errors.ts';
import type { InventoryMetricsReader } from '../../../src/domain/metrics-port.ts';
import type { ApiRole } from '../../../src/domain/api-role.ts';
import { errorHandler } from '../../../src/http/error-handler.ts';
import { PrometheusMetrics } from '../../../src/http/prometheus-metrics.ts';
import { metricsRoutes } from '../../../src/http/routes/metrics.routes.ts';
import { parsePrometheusText, type MetricFamily } from '../../support/prometheus-text.ts';

const NOW = new Date('2026-11-28T12:00:00Z');
const clock = { now: () => NOW };
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** An inventory with fixed answers that remembers how often, and at which instant, it was asked. */
class FakeInventory implements InventoryMetricsReader {
  readonly calls = { certificatesByStatus: 0, soonestExpiryByService: 0, openAlertsByThreshold: 0, notificationsByStatus: 0 };
  readonly nows: Date[] = [];
  async certificatesByStatus(now: Date) {
    this.calls.certificatesByStatus++;
    this.nows.push(now);
    return [
      { status: 'active', issuer: 'intermediate', count: 12 },
      { status: 'expired', issuer: 'intermediate', count: 3 },
      { status: 'revoked', issuer: 'intermediate', count: 0 },
      { status: 'active', issuer: 'root', count: 1 },
    ];
  }
  async soonestExpiryByService(now: Date) {
    this.calls.soonestExpiryByService++;
    this.nows.push(now);
    return [
      { service: 'payments', secondsLeft: 3600.5 },
      { service: 'ledger', secondsLeft: 86_400 },
    ];
  }
  async openAlertsByThreshold() {
    this.calls.openAlertsByThreshold++;
    return [{ threshold: '7d', count: 2 }];
  }
  async notificationsByStatus() {
    this.calls.notificationsByStatus++;
    return [
      { status: 'pending', count: 4 },
      { status: 'delivered', count: 40 },
      { status: 'dead', count: 0 },
    ];
  }
}

/** The database is down: every query fails, one of them even synchronously. */
class UnreachableInventory implements InventoryMetricsReader {
  certificatesByStatus(): Promise<never> {
    return Promise.reject(new DomainError('unavailable', 'the certificate database is unavailable; retry shortly'));
  }
  soonestExpiryByService(): Promise<never> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
  }
  openAlertsByThreshold(): Promise<never> {
    return Promise.reject(new Error('Connection terminated'));
  }
  notificationsByStatus(): Promise<never> {
    return Promise.reject(new Error('Connection terminated'));
  }
}

function family(families: Map<string, MetricFamily>, name: string): MetricFamily {
  const found = families.get(name);
  assert.ok(found, `metric family ${name} is exposed`);
  return found;
}

/** The value of the one sample called `sampleName` (default: the family name) with exactly `labels`. */
function valueOf(families: Map<string, MetricFamily>, familyName: string, labels: Record<string, string>, sampleName = familyName): number {
  const matches = family(families, familyName).samples.filter(
    (sample) =>
      sample.name === sampleName &&
      Object.keys(sample.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([name, value]) => sample.labels[name] === value),
  );
  assert.equal(matches.length, 1, `exactly one ${sampleName}${JSON.stringify(labels)}`);
  const [match] = matches;
  assert.ok(match);
  return match.value;
}

function labelSets(families: Map<string, MetricFamily>, name: string): Record<string, string>[] {
  return family(families, name).samples.map((sample) => sample.labels);
}

async function listen(app: express.Express): Promise<{ server: Server; base: string }> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, '127.0.0.1', () => resolve(started));
  });
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}` };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/** Polls until `check` passes: the server counts a request on 'finish', which may trail the client by a tick. */
async function eventually(check: () => Promise<void>, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

describe('PrometheusMetrics', () => {
  const inventory = new FakeInventory();
  const metrics = new PrometheusMetrics({ inventory, clock });
  let server: Server;
  let base: string;

  before(async () => {
    const app = express();
    app.use(metrics.httpMiddleware('api'));
    app.get('/v1/certificates/:serial', (req, res) => {
      res.json({ serial: req.params.serial });
    });
    app.post('/v1/things', (_req, res) => {
      res.status(201).json({});
    });
    app.get('/boom', () => {
      throw new DomainError('forbidden', 'no');
    });
    app.use(errorHandler(pino({ enabled: false })));
    ({ server, base } = await listen(app));
  });
  after(() => close(server));

  it('renders operations, HTTP traffic, inventory gauges and process metrics as valid Prometheus text', async () => {
    metrics.certificateIssued('server', 'intermediate', 0.2);
    metrics.certificateIssued('server', 'intermediate', 0.2);
    metrics.certificateIssued('client', 'intermediate', 0.02);
    metrics.certificateRenewed('server', 0.3);
    metrics.certificateRevoked('keyCompromise', 3);
    metrics.certificateRevoked('superseded', 0);
    metrics.issuanceRefused('policy_violation');
    metrics.issuanceRefused('policy_violation');
    metrics.issuanceRefused('invalid_csr');
    metrics.jobRun('expiry-scan', 'succeeded', 1.5, 7);
    metrics.jobRun('expiry-scan', 'failed', 2, 0);
    metrics.jobRun('expiry-scan', 'skipped', 0.001, 0);
    // Nonsense amounts are dropped rather than thrown into the use case that reported them.
    metrics.certificateRevoked('unspecified', -1);
    metrics.certificateIssued('client', 'intermediate', Number.NaN);

    for (const path of ['/v1/certificates/4abc01', '/v1/certificates/ff00ee', '/nope/123', '/boom']) {
      const response = await fetch(`${base}${path}`);
      await response.arrayBuffer();
    }
    const posted = await fetch(`${base}/v1/things`, { method: 'POST' });
    await posted.arrayBuffer();

    await eventually(async () => {
      const families = parsePrometheusText((await metrics.render()).body);
      assert.equal(valueOf(families, 'trustroot_http_requests_total', { listener: 'api', method: 'POST', route: '/v1/things', status: '201' }), 1);
    });
    const { contentType, body } = await metrics.render();
    assert.equal(contentType, PROMETHEUS_CONTENT_TYPE);
    const families = parsePrometheusText(body);

    // Operations.
    assert.equal(family(families, 'trustroot_certificates_issued_total').type, 'counter');
    assert.equal(valueOf(families, 'trustroot_certificates_issued_total', { profile: 'server', issuer: 'intermediate' }), 2);
    assert.equal(valueOf(families, 'trustroot_certificates_issued_total', { profile: 'client', issuer: 'intermediate' }), 2);
    assert.equal(valueOf(families, 'trustroot_certificates_renewed_total', { profile: 'server' }), 1);
    assert.deepEqual(labelSets(families, 'trustroot_certificates_revoked_total'), [{ reason: 'keyCompromise' }, { reason: 'superseded' }]);
    assert.equal(valueOf(families, 'trustroot_certificates_revoked_total', { reason: 'keyCompromise' }), 3);
    assert.equal(valueOf(families, 'trustroot_certificates_revoked_total', { reason: 'superseded' }), 0);
    assert.equal(valueOf(families, 'trustroot_issuance_refused_total', { kind: 'policy_violation' }), 2);
    assert.equal(valueOf(families, 'trustroot_issuance_refused_total', { kind: 'invalid_csr' }), 1);

    // Issuance latency: two issuances and the renewal of `server`; the NaN timing was not observed.
    const issuance = 'trustroot_issuance_duration_seconds';
    assert.equal(family(families, issuance).type, 'histogram');
    assert.equal(valueOf(families, issuance, { profile: 'server' }, `${issuance}_count`), 3);
    assert.ok(Math.abs(valueOf(families, issuance, { profile: 'server' }, `${issuance}_sum`) - 0.7) < 1e-9);
    assert.equal(valueOf(families, issuance, { profile: 'server', le: '0.1' }, `${issuance}_bucket`), 0);
    assert.equal(valueOf(families, issuance, { profile: 'server', le: '0.25' }, `${issuance}_bucket`), 2);
    assert.equal(valueOf(families, issuance, { profile: 'server', le: '0.5' }, `${issuance}_bucket`), 3);
    assert.equal(valueOf(families, issuance, { profile: 'client' }, `${issuance}_count`), 1);

    // Jobs: every outcome counted; the skipped tick's time is not a run's time.
    assert.equal(valueOf(families, 'trustroot_job_runs_total', { job: 'expiry-scan', outcome: 'succeeded' }), 1);
    assert.equal(valueOf(families, 'trustroot_job_runs_total', { job: 'expiry-scan', outcome: 'failed' }), 1);
    assert.equal(valueOf(families, 'trustroot_job_runs_total', { job: 'expiry-scan', outcome: 'skipped' }), 1);
    assert.equal(valueOf(families, 'trustroot_job_duration_seconds', { job: 'expiry-scan' }, 'trustroot_job_duration_seconds_count'), 2);
    assert.equal(valueOf(families, 'trustroot_job_duration_seconds', { job: 'expiry-scan' }, 'trustroot_job_duration_seconds_sum'), 3.5);
    assert.equal(valueOf(families, 'trustroot_job_items_total', { job: 'expiry-scan' }), 7);

    // HTTP: route patterns, never URLs; anything unrouted is one `unmatched` series.
    const requests = 'trustroot_http_requests_total';
    assert.equal(valueOf(families, requests, { listener: 'api', method: 'GET', route: '/v1/certificates/:serial', status: '200' }), 2);
    assert.equal(valueOf(families, requests, { listener: 'api', method: 'GET', route: 'unmatched', status: '404' }), 1);
    assert.equal(valueOf(families, requests, { listener: 'api', method: 'GET', route: '/boom', status: '403' }), 1);
    const routes = new Set(family(families, requests).samples.map((sample) => sample.labels.route));
    assert.deepEqual([...routes].sort(), ['/boom', '/v1/certificates/:serial', '/v1/things', 'unmatched']);
    assert.ok(!body.includes('4abc01') && !body.includes('ff00ee') && !body.includes('/nope'), 'no raw URL leaks into a label');
    const latency = 'trustroot_http_request_duration_seconds';
    assert.equal(family(families, latency).type, 'histogram');
    assert.equal(valueOf(families, latency, { listener: 'api', method: 'GET', route: '/v1/certificates/:serial' }, `${latency}_count`), 2);
    assert.equal(valueOf(families, latency, { listener: 'api', method: 'GET', route: 'unmatched' }, `${latency}_count`), 1);

    // Inventory gauges, read at the injected clock's instant.
    assert.equal(family(families, 'trustroot_certificates').type, 'gauge');
    assert.equal(valueOf(families, 'trustroot_certificates', { status: 'active', issuer: 'intermediate' }), 12);
    assert.equal(valueOf(families, 'trustroot_certificates', { status: 'expired', issuer: 'intermediate' }), 3);
    assert.equal(valueOf(families, 'trustroot_certificates', { status: 'revoked', issuer: 'intermediate' }), 0);
    assert.equal(valueOf(families, 'trustroot_certificates', { status: 'active', issuer: 'root' }), 1);
    assert.equal(family(families, 'trustroot_certificates').samples.length, 4);
    assert.equal(valueOf(families, 'trustroot_certificate_soonest_expiry_seconds', { service: 'payments' }), 3600.5);
    assert.equal(valueOf(families, 'trustroot_certificate_soonest_expiry_seconds', { service: 'ledger' }), 86_400);
    assert.equal(valueOf(families, 'trustroot_alerts_open', { threshold: '7d' }), 2);
    assert.equal(valueOf(families, 'trustroot_notifications', { status: 'pending' }), 4);
    assert.equal(valueOf(families, 'trustroot_notifications', { status: 'delivered' }), 40);
    assert.equal(valueOf(families, 'trustroot_notifications', { status: 'dead' }), 0);
    assert.ok(inventory.nows.every((now) => now.getTime() === NOW.getTime()));
    assert.equal(valueOf(families, 'trustroot_metrics_scrape_errors_total', {}), 0);

    // Node.js process metrics, from this instance's own registry.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(families.has(name), `${name} is exposed`);
    }
  });

  it('reads the inventory once per scrape, however many gauges it fills', async () => {
    const before = { ...inventory.calls };
    await metrics.render();
    for (const [query, count] of Object.entries(inventory.calls)) {
      assert.equal(count, before[query as keyof typeof before] + 1, query);
    }
  });

  it('gauges reflect the database at each scrape, not a cached value', async () => {
    const changing = new FakeInventory();
    let pending = 1;
    changing.notificationsByStatus = async () => [{ status: 'pending', count: pending++ }];
    const own = new PrometheusMetrics({ inventory: changing, clock });
    assert.equal(valueOf(parsePrometheusText((await own.render()).body), 'trustroot_notifications', { status: 'pending' }), 1);
    assert.equal(valueOf(parsePrometheusText((await own.render()).body), 'trustroot_notifications', { status: 'pending' }), 2);
  });

  it('several instances live side by side, each with its own registry', async () => {
    const a = new PrometheusMetrics({ inventory: new FakeInventory(), clock });
    const b = new PrometheusMetrics({ inventory: new FakeInventory(), clock });
    a.issuanceRefused('conflict');
    const inA = parsePrometheusText((await a.render()).body);
    const inB = parsePrometheusText((await b.render()).body);
    assert.equal(valueOf(inA, 'trustroot_issuance_refused_total', { kind: 'conflict' }), 1);
    assert.deepEqual(family(inB, 'trustroot_issuance_refused_total').samples, []);
  });
});

describe('PrometheusMetrics while the database is down', () => {
  it('still renders the in-process metrics, leaves the inventory gauges out and counts the failures', async () => {
    const reported: string[] = [];
    const metrics = new PrometheusMetrics({
      inventory: new UnreachableInventory(),
      clock,
      onScrapeError: (_error, gauge) => {
        reported.push(gauge);
      },
    });
    metrics.certificateIssued('server', 'intermediate', 0.1);

    const first = await metrics.render();
    assert.equal(first.contentType, PROMETHEUS_CONTENT_TYPE);
    const families = parsePrometheusText(first.body);
    for (const gauge of ['trustroot_certificates', 'trustroot_certificate_soonest_expiry_seconds', 'trustroot_alerts_open', 'trustroot_notifications']) {
      assert.deepEqual(families.get(gauge)?.samples ?? [], [], `${gauge} has no samples`);
    }
    // Counted in the very scrape that failed, one per failed query.
    assert.equal(valueOf(families, 'trustroot_metrics_scrape_errors_total', {}), 4);
    assert.deepEqual(reported.sort(), ['trustroot_alerts_open', 'trustroot_certificate_soonest_expiry_seconds', 'trustroot_certificates', 'trustroot_notifications']);
    assert.equal(valueOf(families, 'trustroot_certificates_issued_total', { profile: 'server', issuer: 'intermediate' }), 1);
    assert.ok(families.has('process_cpu_user_seconds_total'));

    const second = parsePrometheusText((await metrics.render()).body);
    assert.equal(valueOf(second, 'trustroot_metrics_scrape_errors_total', {}), 8);
  });

  it('a gauge whose query failed is left out while the others are reported, and comes back when the query does', async () => {
    const inventory = new FakeInventory();
    let alertsDown = true;
    const working = inventory.openAlertsByThreshold.bind(inventory);
    inventory.openAlertsByThreshold = () => (alertsDown ? Promise.reject(new Error('canceling statement due to statement timeout')) : working());
    const metrics = new PrometheusMetrics({
      inventory,
      clock,
      onScrapeError: () => {
        throw new Error('a broken logger does not break the scrape');
      },
    });
    const during = parsePrometheusText((await metrics.render()).body);
    assert.deepEqual(family(during, 'trustroot_alerts_open').samples, []);
    assert.equal(valueOf(during, 'trustroot_certificates', { status: 'active', issuer: 'intermediate' }), 12);
    assert.equal(valueOf(during, 'trustroot_notifications', { status: 'pending' }), 4);
    assert.equal(valueOf(during, 'trustroot_metrics_scrape_errors_total', {}), 1);

    alertsDown = false;
    const afterwards = parsePrometheusText((await metrics.render()).body);
    assert.equal(valueOf(afterwards, 'trustroot_alerts_open', { threshold: '7d' }), 2);
    assert.equal(valueOf(afterwards, 'trustroot_metrics_scrape_errors_total', {}), 1);
  });
});

describe('GET /metrics', () => {
  const metrics = new PrometheusMetrics({ inventory: new FakeInventory(), clock });
  let server: Server;
  let base: string;

  before(async () => {
    const app = express();
    // Stands in for `authentication`: the test header names the caller's role.
    app.use((req: Request, res: Response, next: NextFunction) => {
      const role = req.get('x-test-role') as ApiRole | undefined;
      const context: RequestContext = {
        principal: role ? { kind: 'api-token', tokenId: 't1', name: 'scraper', role } : undefined,
        requestId: 'r1',
        sourceAddress: undefined,
      };
      res.locals.context = context;
      next();
    });
    app.use(metricsRoutes(metrics));
    app.use(errorHandler(pino({ enabled: false })));
    ({ server, base } = await listen(app));
  });
  after(() => close(server));

  for (const role of ['admin', 'auditor'] as const) {
    it(`answers an ${role} token with the exposition`, async () => {
      const response = await fetch(`${base}/metrics`, { headers: { 'x-test-role': role } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
      const families = parsePrometheusText(await response.text());
      assert.equal(valueOf(families, 'trustroot_certificates', { status: 'active', issuer: 'root' }), 1);
    });
  }

  it('refuses anonymous callers (401) and other roles (403)', async () => {
    const anonymous = await fetch(`${base}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.ok(!(await anonymous.text()).includes('trustroot_'));
    for (const role of ['ci', 'security']) {
      const refused = await fetch(`${base}/metrics`, { headers: { 'x-test-role': role } });
      assert.equal(refused.status, 403, role);
      assert.ok(!(await refused.text()).includes('trustroot_'));
    }
  });
});
