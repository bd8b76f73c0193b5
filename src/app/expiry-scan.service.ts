import type { Clock } from '../domain/clock.ts';
import { EXPIRED_THRESHOLD, nextThresholdAt, thresholdMoments } from '../domain/lifecycle/expiry-thresholds.ts';
import type { CertificateFlags, LifecycleStore, NewFlag, ServiceGraph } from '../domain/ports.ts';
import type { ProfileCatalog } from '../domain/profile-catalog.ts';
import { flagNotifications } from './lifecycle-events.ts';

/** Certificates handled per read: a few hundred due at once cost one read and one write of each writer. */
const BATCH = 500;

/**
 * Transactions that write one read's flags side by side, each on its own connection. Writing
 * the flags is PostgreSQL's CPU (the alerts, their outbox rows with their indexes and foreign
 * keys, the schedule): two writers use two cores, and a few hundred due certificates take ~60 %
 * of the time one transaction takes (BENCHMARKS.md, change 20). Each certificate's flags,
 * notifications and next flag time stay in one transaction; a writer that fails leaves its
 * certificates due for the next scan, and a flag is never raised twice.
 */
const FLAG_WRITERS = 2;

/**
 * The lifecycle scans. `scan` flags every active service certificate that crossed an expiry
 * threshold — once per (certificate, threshold), with notifications to its service and every
 * service relying on it in the same transaction. `markExpired` moves certificates past
 * notAfter to expired and raises the loudest flag. Both only touch what is due.
 */
export class ExpiryScanService {
  constructor(
    private readonly store: LifecycleStore,
    private readonly graph: ServiceGraph,
    private readonly profiles: ProfileCatalog,
    private readonly clock: Clock,
  ) {}

  /** @returns the number of new flags. */
  async scan(): Promise<number> {
    const now = this.clock.now();
    const dependents = this.dependentsCache();
    let flagged = 0;
    for (;;) {
      const due = await this.store.dueForFlagging(now, BATCH);
      const batch: CertificateFlags[] = [];
      for (const certificate of due) {
        const moments = thresholdMoments(certificate.notBefore, certificate.notAfter, this.profiles.thresholdsFor(certificate.profile));
        const crossed = moments.filter((m) => m.at <= now);
        const relying = crossed.length > 0 ? await dependents(certificate.serviceName) : [];
        const flags: NewFlag[] = crossed.map((moment) => ({
          threshold: moment.threshold,
          flaggedAt: now,
          notifications: flagNotifications('certificate.expiring', certificate, relying, { threshold: moment.threshold, occurredAt: now }),
        }));
        // Past the last threshold, the next look is at notAfter (markExpired takes over there).
        const next = nextThresholdAt(moments, now) ?? (certificate.notAfter > now ? certificate.notAfter : null);
        batch.push({ certificateId: certificate.id, flags, nextFlagAt: next });
      }
      flagged += await this.recordFlags(batch);
      if (due.length < BATCH) return flagged;
    }
  }

  /** @returns the number of certificates that expired without renewal. */
  async markExpired(): Promise<number> {
    const now = this.clock.now();
    const dependents = this.dependentsCache();
    let expired = 0;
    for (;;) {
      const expiredNow = await this.store.markExpired(now, BATCH);
      const batch: CertificateFlags[] = [];
      for (const certificate of expiredNow) {
        if (!certificate.serviceName) continue;
        const relying = await dependents(certificate.serviceName);
        batch.push({
          certificateId: certificate.id,
          flags: [
            {
              threshold: EXPIRED_THRESHOLD,
              flaggedAt: now,
              notifications: flagNotifications('certificate.expired', certificate, relying, { threshold: EXPIRED_THRESHOLD, occurredAt: now }),
            },
          ],
          nextFlagAt: null,
        });
      }
      await this.recordFlags(batch);
      expired += expiredNow.length;
      if (expiredNow.length < BATCH) return expired;
    }
  }

  /**
   * Writes `batch` split evenly among the writers, and returns the number of new flags once
   * every writer has finished: a scan that fails has no write still running behind it.
   */
  private async recordFlags(batch: CertificateFlags[]): Promise<number> {
    const writes = await Promise.allSettled(splitEvenly(batch, FLAG_WRITERS).map((part) => this.store.recordFlags(part)));
    let created = 0;
    for (const write of writes) {
      if (write.status === 'rejected') throw write.reason;
      created += write.value;
    }
    return created;
  }

  /** Who relies on a service, asked once per service and scan: many due certificates share a service. */
  private dependentsCache(): (serviceName: string) => Promise<string[]> {
    const known = new Map<string, Promise<string[]>>();
    return (serviceName) => {
      let dependents = known.get(serviceName);
      if (!dependents) {
        dependents = this.graph.dependentsOf(serviceName);
        known.set(serviceName, dependents);
      }
      return dependents;
    };
  }
}

/** `items` in at most `parts` consecutive runs whose lengths differ by one at most; none empty. */
export function splitEvenly<T>(items: readonly T[], parts: number): T[][] {
  const count = Math.min(parts, items.length);
  const runs: T[][] = [];
  let start = 0;
  for (let index = 0; index < count; index += 1) {
    const end = start + Math.ceil((items.length - start) / (count - index));
    runs.push(items.slice(start, end));
    start = end;
  }
  return runs;
}
