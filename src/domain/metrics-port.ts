/**
 * Ports of the metrics the service exposes. The use cases report what they did through
 * `OperationMetrics`; the scrape reads inventory facts through `InventoryMetricsReader`.
 * Both are implemented outside the domain (prom-client in `http/`, SQL in `storage/`).
 */

/**
 * Counters and timings the use cases report; implemented with prom-client in http/.
 *
 * Every label value passed here must come from a closed or configured set (profile names,
 * issuer names, revocation reasons, `DomainError` kinds, job names), never from a caller's
 * input, so that the number of series stays bounded. Implementations never throw: a metric
 * must not fail the operation it describes.
 */
export interface OperationMetrics {
  /**
   * A certificate was signed and committed for a first issuance.
   * @param seconds wall time of the whole issuance (parse, policy, sign, commit), in seconds.
   */
  certificateIssued(profile: string, issuer: string, seconds: number): void;
  /**
   * A certificate was renewed (its predecessor superseded). Reported instead of, not in
   * addition to, `certificateIssued`.
   * @param seconds wall time of the whole renewal, in seconds.
   */
  certificateRenewed(profile: string, seconds: number): void;
  /**
   * Certificates were revoked for `reason` (an RFC 5280 reason name) in one operation.
   * @param count how many certificates changed state (0 for an idempotent repeat).
   */
  certificateRevoked(reason: string, count: number): void;
  /** An issuance or renewal was refused; `kind` is the `DomainError` kind. */
  issuanceRefused(kind: string): void;
  /**
   * One tick of a scheduled job ended.
   * @param seconds wall time of the run, in seconds.
   * @param items how many things the run processed (certificates flagged, notifications sent…).
   */
  jobRun(job: string, outcome: 'succeeded' | 'failed' | 'skipped', seconds: number, items: number): void;
}

/** Gauges read from the database at scrape time. */
export interface InventoryMetricsReader {
  /**
   * Certificates per derived status and issuer: `active`, `expired` (stored `expired`, or
   * stored `active` with notAfter at or before `now`), `superseded`, `revoked`. Every
   * (status, issuer) pair of every known issuer is present, with 0 when nothing matches.
   */
  certificatesByStatus(now: Date): Promise<{ status: string; issuer: string; count: number }[]>;
  /**
   * Per service, the seconds from `now` to the notAfter of its soonest-expiring certificate
   * that is active and not yet expired. Services without such a certificate are absent.
   */
  soonestExpiryByService(now: Date): Promise<{ service: string; secondsLeft: number }[]>;
  /** Alerts in state `open`, per threshold (only thresholds with at least one open alert). */
  openAlertsByThreshold(): Promise<{ threshold: string; count: number }[]>;
  /** Outbox notifications per status: `pending`, `delivered`, `dead`, each present (0 when none). */
  notificationsByStatus(): Promise<{ status: string; count: number }[]>;
}
