import type { InventoryMetricsReader } from '../domain/metrics-port.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { guardStorage } from './storage-error.ts';

/** PostgreSQL's COUNT(*) is a bigint; the driver hands it over as one. */
interface CountRow {
  count: bigint;
}

/**
 * The inventory gauges of a scrape, each one aggregate query (GROUP BY in the database, a few
 * rows back): no certificate row ever crosses the wire, however large the inventory.
 * Enum-valued dimensions come from `enum_range`, so every status is reported, with 0 when
 * nothing has it, and a status added to the schema shows up without a code change.
 */
export class PrismaMetricsRepository implements InventoryMetricsReader {
  constructor(private readonly prisma: PrismaClient) {}

  certificatesByStatus(now: Date): Promise<{ status: string; issuer: string; count: number }[]> {
    return guardStorage(async () => {
      // Aggregate first, then join the few issuers: the join never sees certificate rows.
      // A stored `active` past notAfter is `expired` (the scheduler may not have marked it yet),
      // the same rule the inventory's status filter applies.
      const rows = await this.prisma.$queryRaw<(CountRow & { status: string; issuer: string })[]>`
        WITH counts AS (
          SELECT issuer_id,
                 CASE WHEN status = 'active' AND not_after <= ${now} THEN 'expired' ELSE status::text END AS status,
                 COUNT(*) AS count
          FROM certificates
          GROUP BY 1, 2
        )
        SELECT s.status, i.name AS issuer, COALESCE(c.count, 0)::bigint AS count
        FROM issuers i
        CROSS JOIN unnest(enum_range(NULL::"CertificateStatus")::text[]) AS s(status)
        LEFT JOIN counts c ON c.issuer_id = i.id AND c.status = s.status
        ORDER BY i.name, s.status`;
      return rows.map((row) => ({ status: row.status, issuer: row.issuer, count: Number(row.count) }));
    });
  }

  soonestExpiryByService(now: Date): Promise<{ service: string; secondsLeft: number }[]> {
    return guardStorage(async () => {
      // The (status, not_after) index serves the filter; only one row per service comes back.
      const rows = await this.prisma.$queryRaw<{ service: string; soonest: Date }[]>`
        SELECT s.name AS service, c.soonest
        FROM (
          SELECT service_id, MIN(not_after) AS soonest
          FROM certificates
          WHERE status = 'active' AND not_after > ${now} AND service_id IS NOT NULL
          GROUP BY service_id
        ) c
        JOIN services s ON s.id = c.service_id
        ORDER BY s.name`;
      return rows.map((row) => ({ service: row.service, secondsLeft: (row.soonest.getTime() - now.getTime()) / 1000 }));
    });
  }

  openAlertsByThreshold(): Promise<{ threshold: string; count: number }[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.$queryRaw<(CountRow & { threshold: string })[]>`
        SELECT threshold, COUNT(*) AS count
        FROM alerts
        WHERE state = 'open'
        GROUP BY threshold
        ORDER BY threshold`;
      return rows.map((row) => ({ threshold: row.threshold, count: Number(row.count) }));
    });
  }

  notificationsByStatus(): Promise<{ status: string; count: number }[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.$queryRaw<(CountRow & { status: string })[]>`
        SELECT s.status, COALESCE(n.count, 0)::bigint AS count
        FROM unnest(enum_range(NULL::"NotificationStatus")::text[]) AS s(status)
        LEFT JOIN (
          SELECT status::text AS status, COUNT(*) AS count
          FROM notifications
          GROUP BY status
        ) n ON n.status = s.status
        ORDER BY s.status`;
      return rows.map((row) => ({ status: row.status, count: Number(row.count) }));
    });
  }
}
