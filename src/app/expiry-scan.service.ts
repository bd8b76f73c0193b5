import type { Clock } from '../domain/clock.ts';
import { EXPIRED_THRESHOLD, nextThresholdAt, thresholdMoments } from '../domain/lifecycle/expiry-thresholds.ts';
import type { LifecycleStore, NewFlag, ServiceGraph } from '../domain/ports.ts';
import type { ProfileCatalog } from '../domain/profile-catalog.ts';
import { certificateEventNotifications } from './lifecycle-events.ts';

/** Certificates handled per database round trip. */
const BATCH = 200;

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
    let flagged = 0;
    for (;;) {
      const due = await this.store.dueForFlagging(now, BATCH);
      for (const certificate of due) {
        const moments = thresholdMoments(certificate.notBefore, certificate.notAfter, this.profiles.thresholdsFor(certificate.profile));
        const crossed = moments.filter((m) => m.at <= now);
        const dependents = crossed.length > 0 ? await this.graph.dependentsOf(certificate.serviceName) : [];
        const flags: NewFlag[] = crossed.map((moment) => ({
          threshold: moment.threshold,
          flaggedAt: now,
          notifications: certificateEventNotifications('certificate.expiring', certificate, dependents, { threshold: moment.threshold, occurredAt: now }),
        }));
        // Past the last threshold, the next look is at notAfter (markExpired takes over there).
        const next = nextThresholdAt(moments, now) ?? (certificate.notAfter > now ? certificate.notAfter : null);
        flagged += await this.store.recordFlags(certificate.id, flags, next);
      }
      if (due.length < BATCH) return flagged;
    }
  }

  /** @returns the number of certificates that expired without renewal. */
  async markExpired(): Promise<number> {
    const now = this.clock.now();
    let expired = 0;
    for (;;) {
      const batch = await this.store.markExpired(now, BATCH);
      for (const certificate of batch) {
        if (!certificate.serviceName) continue;
        const dependents = await this.graph.dependentsOf(certificate.serviceName);
        await this.store.recordFlags(
          certificate.id,
          [
            {
              threshold: EXPIRED_THRESHOLD,
              flaggedAt: now,
              notifications: certificateEventNotifications('certificate.expired', certificate, dependents, { threshold: EXPIRED_THRESHOLD, occurredAt: now }),
            },
          ],
          null,
        );
      }
      expired += batch.length;
      if (batch.length < BATCH) return expired;
    }
  }
}
