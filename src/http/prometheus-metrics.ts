import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../domain/clock.ts';
import type { InventoryMetricsReader, OperationMetrics } from '../domain/metrics-port.ts';

export interface PrometheusMetricsDependencies {
  /** Source of the inventory gauges, queried once per scrape. */
  inventory: InventoryMetricsReader;
  /** The instant inventory statuses are derived at. */
  clock: Clock;
  /**
   * Told about each inventory query that failed during a scrape (to log it); the scrape itself
   * still answers, without that query's gauge. Never throws into the scrape.
   */
  onScrapeError?: (error: unknown, gauge: string) => void;
}

/** Route label of requests no route matched: one series, whatever URL was asked for. */
const UNMATCHED_ROUTE = 'unmatched';

/** Methods labelled as themselves; anything else is `other`, so callers cannot add series. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Seconds. Issuance is milliseconds with a CSR, seconds when the server generates an RSA key. */
const ISSUANCE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds. Jobs range from an empty expiry scan to a long notification backlog. */
const JOB_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600];
/** Seconds. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Settled<T> = { ok: true; value: T } | { ok: false };

/** One scrape's reading of the database; a failed query leaves its part `ok: false`. */
interface InventorySnapshot {
  certificates: Settled<{ status: string; issuer: string; count: number }[]>;
  soonestExpiry: Settled<{ service: string; secondsLeft: number }[]>;
  openAlerts: Settled<{ threshold: string; count: number }[]>;
  notifications: Settled<{ status: string; count: number }[]>;
}

/** prom-client throws on negative or non-finite amounts; a metric must never fail a use case. */
function isAmount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

/** The express route pattern that served the request (`/v1/certificates/:serial`), never the URL. */
function routeLabel(req: Request): string {
  // Routers are mounted at the root (src/http/apps.ts), so the route's own path is the whole pattern.
  const route: unknown = req.route;
  if (typeof route !== 'object' || route === null || !('path' in route)) return UNMATCHED_ROUTE;
  const { path } = route;
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(String).join('|');
  return UNMATCHED_ROUTE;
}

/**
 * The Prometheus metrics of one Trustroot process, in a registry of its own (never prom-client's
 * global one, so that several instances can coexist, e.g. in tests):
 *
 * - what the use cases report through `OperationMetrics` (issuance, renewal, revocation,
 *   refusals, scheduled jobs);
 * - HTTP requests per listener, method, route pattern and status (`httpMiddleware`);
 * - Node.js process metrics (prom-client's defaults);
 * - inventory gauges read from the database at scrape time through `InventoryMetricsReader`.
 *
 * If an inventory query fails during a scrape (database down, timeout), that gauge has no
 * samples in this scrape and `trustroot_metrics_scrape_errors_total` counts the failure; the
 * rest of the scrape is still rendered, so a database outage never hides the process metrics.
 */
export class PrometheusMetrics implements OperationMetrics {
  private readonly registry = new Registry();
  private readonly issued: Counter<'profile' | 'issuer'>;
  private readonly issuanceDuration: Histogram<'profile'>;
  private readonly renewed: Counter<'profile'>;
  private readonly revoked: Counter<'reason'>;
  private readonly refused: Counter<'kind'>;
  private readonly jobRuns: Counter<'job' | 'outcome'>;
  private readonly jobDuration: Histogram<'job'>;
  private readonly jobItems: Counter<'job'>;
  private readonly httpRequests: Counter<'listener' | 'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'listener' | 'method' | 'route'>;
  private readonly scrapeErrors: Counter;
  /** The inventory reading in flight, shared by every gauge of the scrape (and of overlapping scrapes). */
  private pendingSnapshot: Promise<InventorySnapshot> | undefined;

  constructor(private readonly deps: PrometheusMetricsDependencies) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.issued = new Counter({
      name: 'trustroot_certificates_issued_total',
      help: 'Certificates issued (first issuance; renewals are counted apart), by profile and issuer.',
      labelNames: ['profile', 'issuer'],
      registers,
    });
    this.issuanceDuration = new Histogram({
      name: 'trustroot_issuance_duration_seconds',
      help: 'Wall time of an issuance or renewal, from request to committed certificate, in seconds.',
      labelNames: ['profile'],
      buckets: ISSUANCE_BUCKETS,
      registers,
    });
    this.renewed = new Counter({
      name: 'trustroot_certificates_renewed_total',
      help: 'Certificates renewed, by profile.',
      labelNames: ['profile'],
      registers,
    });
    this.revoked = new Counter({
      name: 'trustroot_certificates_revoked_total',
      help: 'Certificates revoked, by RFC 5280 reason.',
      labelNames: ['reason'],
      registers,
    });
    this.refused = new Counter({
      name: 'trustroot_issuance_refused_total',
      help: 'Issuance and renewal requests refused, by error kind.',
      labelNames: ['kind'],
      registers,
    });
    this.jobRuns = new Counter({
      name: 'trustroot_job_runs_total',
      help: 'Scheduled job ticks, by job and outcome (skipped: another replica ran the tick).',
      labelNames: ['job', 'outcome'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'trustroot_job_duration_seconds',
      help: 'Wall time of scheduled job runs that ran (succeeded or failed), in seconds.',
      labelNames: ['job'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.jobItems = new Counter({
      name: 'trustroot_job_items_total',
      help: 'Items processed by scheduled job runs, by job.',
      labelNames: ['job'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'trustroot_http_requests_total',
      help: 'HTTP requests answered, by listener, method, route pattern (or "unmatched") and status.',
      labelNames: ['listener', 'method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'trustroot_http_request_duration_seconds',
      help: 'Time from request to the last byte of the response handed to the OS, in seconds.',
      labelNames: ['listener', 'method', 'route'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.scrapeErrors = new Counter({
      name: 'trustroot_metrics_scrape_errors_total',
      help: 'Inventory queries that failed during a scrape (their gauges were left out of it).',
      registers,
      // Waits for this scrape's inventory reading, so that its failures are counted in the same scrape.
      collect: async () => {
        await this.inventorySnapshot();
      },
    });
    this.inventoryGauge(
      'trustroot_certificates',
      'Certificates in the inventory by derived status (active past notAfter counts as expired) and issuer.',
      ['status', 'issuer'],
      (snapshot) => snapshot.certificates,
      (row) => [{ status: row.status, issuer: row.issuer }, row.count],
    );
    this.inventoryGauge(
      'trustroot_certificate_soonest_expiry_seconds',
      "Seconds until the soonest notAfter among each service's active, unexpired certificates.",
      ['service'],
      (snapshot) => snapshot.soonestExpiry,
      (row) => [{ service: row.service }, row.secondsLeft],
    );
    this.inventoryGauge(
      'trustroot_alerts_open',
      'Open expiry alerts, by threshold.',
      ['threshold'],
      (snapshot) => snapshot.openAlerts,
      (row) => [{ threshold: row.threshold }, row.count],
    );
    this.inventoryGauge(
      'trustroot_notifications',
      'Webhook notifications in the outbox, by status.',
      ['status'],
      (snapshot) => snapshot.notifications,
      (row) => [{ status: row.status }, row.count],
    );
  }

  certificateIssued(profile: string, issuer: string, seconds: number): void {
    this.issued.inc({ profile, issuer });
    if (isAmount(seconds)) this.issuanceDuration.observe({ profile }, seconds);
  }

  certificateRenewed(profile: string, seconds: number): void {
    this.renewed.inc({ profile });
    if (isAmount(seconds)) this.issuanceDuration.observe({ profile }, seconds);
  }

  certificateRevoked(reason: string, count: number): void {
    if (isAmount(count)) this.revoked.inc({ reason }, count);
  }

  issuanceRefused(kind: string): void {
    this.refused.inc({ kind });
  }

  jobRun(job: string, outcome: 'succeeded' | 'failed' | 'skipped', seconds: number, items: number): void {
    this.jobRuns.inc({ job, outcome });
    // A skipped tick did no work; its near-zero time would only drag the histogram down.
    if (outcome !== 'skipped' && isAmount(seconds)) this.jobDuration.observe({ job }, seconds);
    // Incremented by 0 too, so that the series exists from the job's first run.
    if (isAmount(items)) this.jobItems.inc({ job }, items);
  }

  /**
   * Express middleware counting and timing every request of `listener` when its response
   * finishes. Mount it first, so that refusals by later middleware are counted too. Requests
   * that end before a route matched (unknown paths, some refusals) are labelled `unmatched`.
   */
  httpMiddleware(listener: 'api' | 'public'): RequestHandler {
    return (req: Request, res: Response, next: NextFunction): void => {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const method = KNOWN_METHODS.has(req.method) ? req.method : 'other';
        const route = routeLabel(req);
        this.httpRequests.inc({ listener, method, route, status: String(res.statusCode) });
        this.httpDuration.observe({ listener, method, route }, seconds);
      });
      next();
    };
  }

  /** The exposition of every metric, in Prometheus text format 0.0.4, with its Content-Type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * A gauge refilled at each scrape from the scrape's inventory snapshot: cleared, then set
   * from the rows, in one synchronous step so that overlapping scrapes never mix their rows.
   */
  private inventoryGauge<L extends string, Row>(
    name: string,
    help: string,
    labelNames: L[],
    pick: (snapshot: InventorySnapshot) => Settled<Row[]>,
    sample: (row: Row) => [Partial<Record<L, string>>, number],
  ): void {
    const gauge: Gauge<L> = new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect: async () => {
        const result = pick(await this.inventorySnapshot());
        gauge.reset();
        if (!result.ok) return;
        for (const row of result.value) {
          const [labels, value] = sample(row);
          gauge.set(labels, value);
        }
      },
    });
  }

  /**
   * This scrape's reading of the database. prom-client starts every collect() of a scrape
   * before any of them resumes, so they all join the one reading started by the first; it is
   * forgotten once settled, so the next scrape reads afresh.
   */
  private inventorySnapshot(): Promise<InventorySnapshot> {
    if (!this.pendingSnapshot) {
      const reading = this.readInventory();
      this.pendingSnapshot = reading;
      const forget = (): void => {
        if (this.pendingSnapshot === reading) this.pendingSnapshot = undefined;
      };
      // Both paths handled here, so that a failed reading is never an unhandled rejection.
      reading.then(forget, forget);
    }
    return this.pendingSnapshot;
  }

  private async readInventory(): Promise<InventorySnapshot> {
    const { inventory } = this.deps;
    const now = this.deps.clock.now();
    // The four queries run concurrently; each failure is contained to its own gauge.
    const [certificates, soonestExpiry, openAlerts, notifications] = await Promise.all([
      this.settle('trustroot_certificates', () => inventory.certificatesByStatus(now)),
      this.settle('trustroot_certificate_soonest_expiry_seconds', () => inventory.soonestExpiryByService(now)),
      this.settle('trustroot_alerts_open', () => inventory.openAlertsByThreshold()),
      this.settle('trustroot_notifications', () => inventory.notificationsByStatus()),
    ]);
    return { certificates, soonestExpiry, openAlerts, notifications };
  }

  private async settle<T>(gauge: string, read: () => Promise<T>): Promise<Settled<T>> {
    try {
      return { ok: true, value: await read() };
    } catch (error) {
      this.scrapeErrors.inc();
      try {
        this.deps.onScrapeError?.(error, gauge);
      } catch {
        // A failing error reporter must not turn a partial scrape into a failed one.
      }
      return { ok: false };
    }
  }
}
