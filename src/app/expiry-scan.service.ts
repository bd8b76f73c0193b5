import type { Clock } from '../domain/clock.ts';
import { EXPIRED_THRESHOLD, nextThresholdAt, thresholdMoments } from '../domain/lifecycle/expiry-thresholds.ts';
import type { CertificateFlags, LifecycleStore, NewFlag, ServiceGraph } from '../domain/ports.ts';
import type { ProfileCatalog } from '../domain/profile-catalog.ts';
import { certificateEventNotifications } from './lifecycle-events.ts';

/** Certificates handled per read and per write statement: a few hundred due at once cost two round trips. */
const BATCH = 500;

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
          notifications: certificateEventNotifications('certificate.expiring', certificate, relying, { threshold: moment.threshold, occurredAt: now }),
        }));
        // Past the last threshold, the next look is at notAfter (markExpired takes over there).
        const next = nextThresholdAt(moments, now) ?? (certificate.notAfter > now ? certificate.notAfter : null);
        batch.push({ certificateId: certificate.id, flags, nextFlagAt: next });
      }
      if (batch.length > 0) flagged += await this.store.recordFlags(batch);
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
              notifications: certificateEventNotifications('certificate.expired', certificate, relying, { threshold: EXPIRED_THRESHOLD, occurredAt: now }),
            },
          ],
          nextFlagAt: null,
        });
      }
      if (batch.length > 0) await this.store.recordFlags(batch);
      expired += expiredNow.length;
      if (expiredNow.length < BATCH) return expired;
    }
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
