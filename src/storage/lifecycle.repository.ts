import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors.ts';
import type { IssuerName } from '../domain/ca-hierarchy.ts';
import { certificateEventPayload, type CertificateEventType } from '../domain/lifecycle/certificate-event.ts';
import type {
  AlertRecord,
  AlertStore,
  AuditEntry,
  DueCertificate,
  JobRunRecord,
  JobRunStore,
  CertificateFlags,
  LifecycleStore,
  NotificationOutbox,
  NotificationReader,
  NotificationRecord,
  PendingNotification,
  ServiceGraph,
} from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { pooledSession, sqlStatement, type SqlSession } from './sql-session.ts';
import { guardStorage, isUniqueViolation } from './storage-error.ts';

// Served by the schedule's next_flag_at index: the cost follows what is due, not the inventory size.
const DUE_FOR_FLAGGING = sqlStatement(
  'lifecycle_due_for_flagging',
  `SELECT c.id::text AS id, c.serial_hex AS "serialHex", i.name AS "issuerName", s.name AS "serviceName", c.profile,
          c.not_before AS "notBefore", c.not_after AS "notAfter"
   FROM certificate_flag_schedule f
   JOIN certificates c ON c.id = f.certificate_id
   JOIN issuers i ON i.id = c.issuer_id
   JOIN services s ON s.id = c.service_id
   WHERE f.next_flag_at <= $1 AND c.status = 'active'
   ORDER BY f.next_flag_at
   LIMIT $2`,
);

// Asked once per service by every scan: who relies on it (names, sorted by the caller).
const DEPENDENTS_OF = sqlStatement(
  'lifecycle_dependents_of',
  `SELECT dependent.name FROM service_dependencies d
   JOIN services target ON target.id = d.relies_on_id
   JOIN services dependent ON dependent.id = d.service_id
   WHERE target.name = $1`,
);

// One statement, so one atomic unit: a flag that already exists is skipped with its
// notifications (a re-run never notifies twice); the foreign keys between the new rows are
// checked at the end of the statement. The input is json, not jsonb: it is read once, so
// building jsonb's binary form of several hundred kilobytes would be wasted. The notifications
// carry no event: it is built from the alert when read (notificationEvent), which left the scan
// much less to write (BENCHMARKS.md, change 22).
const RECORD_FLAGS = sqlStatement(
  'lifecycle_record_flags',
  `WITH new_alerts AS (
     INSERT INTO alerts (id, certificate_id, threshold, flagged_at)
     SELECT a.id, a.certificate_id, a.threshold, a.flagged_at
     FROM json_to_recordset($1::json) AS a(id uuid, certificate_id uuid, threshold text, flagged_at timestamptz)
     ON CONFLICT (certificate_id, threshold) DO NOTHING
     RETURNING id
   ), new_notifications AS (
     INSERT INTO notifications (id, recipient_id, alert_id, event_type, idempotency_key, next_attempt_at)
     SELECT n.id, s.id, n.alert_id, n.event_type, n.idempotency_key, n.next_attempt_at
     FROM json_to_recordset($2::json)
       AS n(id uuid, alert_id uuid, recipient text, event_type text, idempotency_key text, next_attempt_at timestamptz)
     JOIN new_alerts a ON a.id = n.alert_id
     JOIN services s ON s.name = n.recipient
     RETURNING id
   ), next_flags AS (
     SELECT * FROM json_to_recordset($3::json) AS v(id uuid, next_flag_at timestamptz)
   ), rescheduled AS (
     UPDATE certificate_flag_schedule AS f SET next_flag_at = v.next_flag_at
     FROM next_flags v
     WHERE f.certificate_id = v.id AND v.next_flag_at IS NOT NULL
   ), unscheduled AS (
     DELETE FROM certificate_flag_schedule AS f
     USING next_flags v
     WHERE f.certificate_id = v.id AND v.next_flag_at IS NULL
   )
   SELECT (SELECT count(*) FROM new_alerts)::int AS created`,
);

const DUE_SELECT = {
  id: true,
  serialHex: true,
  notBefore: true,
  notAfter: true,
  profile: true,
  issuer: { select: { name: true } },
  service: { select: { name: true } },
} as const;

type DueRow = Prisma.CertificateGetPayload<{ select: typeof DUE_SELECT }>;

function toDue(row: DueRow): DueCertificate {
  return {
    id: row.id,
    serialHex: row.serialHex,
    issuerName: row.issuer.name as IssuerName,
    serviceName: row.service?.name ?? '',
    profile: row.profile,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
  };
}

const ALERT_INCLUDE = { certificate: { select: { serialHex: true, notAfter: true, service: { select: { name: true } } } } } as const;
type AlertRow = Prisma.AlertGetPayload<{ include: typeof ALERT_INCLUDE }>;

function toAlert(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    certificateSerial: row.certificate.serialHex,
    serviceName: row.certificate.service?.name,
    threshold: row.threshold,
    state: row.state,
    flaggedAt: row.flaggedAt,
    notAfter: row.certificate.notAfter,
    acknowledgedAt: row.acknowledgedAt ?? undefined,
    acknowledgedBy: row.acknowledgedBy ?? undefined,
    resolvedAt: row.resolvedAt ?? undefined,
  };
}

/** What the event of an expiry flag's notification is built from (see FlagNotification). */
const ALERT_EVENT = {
  select: {
    threshold: true,
    flaggedAt: true,
    certificate: { select: { serialHex: true, profile: true, notAfter: true, issuer: { select: { name: true } }, service: { select: { name: true } } } },
  },
} as const;
type AlertEventRow = Prisma.AlertGetPayload<typeof ALERT_EVENT>;

const FLAG_EVENT_TYPES: ReadonlySet<string> = new Set<CertificateEventType>(['certificate.expiring', 'certificate.expired']);

/**
 * The event a notification sends: the one stored with it (a revocation), or, for an expiry
 * flag's, the one built from its alert and the alert's certificate, exactly as the flag would
 * have stored it. Every flag's notification names its alert, which cannot be deleted under it.
 */
function notificationEvent(row: { eventType: string; payload: Prisma.JsonValue; alert: AlertEventRow | null; recipient: { name: string } }): Record<string, unknown> {
  if (row.payload !== null) return row.payload as Record<string, unknown>;
  if (row.alert === null || !FLAG_EVENT_TYPES.has(row.eventType)) throw new Error(`a ${row.eventType} notification has neither an event nor an alert to build it from`);
  const { certificate } = row.alert;
  return certificateEventPayload(
    row.eventType as CertificateEventType,
    {
      serialHex: certificate.serialHex,
      serviceName: certificate.service?.name ?? '',
      issuerName: certificate.issuer.name,
      profile: certificate.profile,
      notAfter: certificate.notAfter,
    },
    { threshold: row.alert.threshold, occurredAt: row.alert.flaggedAt },
    row.recipient.name,
  );
}

/** Arbitrary but fixed key of the advisory locks that serialise job claims (one per job). */
const JOB_CLAIM_LOCK = 7_301_200;

/**
 * The lifecycle's storage: expiry flags with their transactional outbox, the reliance graph,
 * the notification outbox, alerts, and scheduled job runs.
 */
export class PrismaLifecycleRepository implements LifecycleStore, ServiceGraph, NotificationOutbox, AlertStore, NotificationReader, JobRunStore {
  private readonly sql: SqlSession;

  constructor(private readonly prisma: PrismaClient) {
    this.sql = pooledSession(sqlPoolOf(prisma));
  }

  dueForFlagging(now: Date, limit: number): Promise<DueCertificate[]> {
    return guardStorage(async () => {
      return this.sql.rows<DueCertificate>(DUE_FOR_FLAGGING, [now, limit]);
    });
  }

  recordFlags(batch: CertificateFlags[]): Promise<number> {
    return guardStorage(async () => {
      if (batch.length === 0) return 0;
      const alerts: { id: string; certificate_id: string; threshold: string; flagged_at: string }[] = [];
      const notifications: { id: string; alert_id: string; recipient: string; event_type: string; idempotency_key: string; next_attempt_at: string }[] = [];
      for (const { certificateId, flags } of batch) {
        for (const flag of flags) {
          const alertId = randomUUID();
          alerts.push({ id: alertId, certificate_id: certificateId, threshold: flag.threshold, flagged_at: flag.flaggedAt.toISOString() });
          for (const notification of flag.notifications) {
            notifications.push({
              id: randomUUID(),
              alert_id: alertId,
              recipient: notification.recipientService,
              event_type: notification.eventType,
              idempotency_key: notification.idempotencyKey,
              next_attempt_at: flag.flaggedAt.toISOString(),
            });
          }
        }
      }
      const next = batch.map(({ certificateId, nextFlagAt }) => ({ id: certificateId, next_flag_at: nextFlagAt?.toISOString() ?? null }));
      const [result] = await this.sql.rows<{ created: number }>(RECORD_FLAGS, [JSON.stringify(alerts), JSON.stringify(notifications), JSON.stringify(next)]);
      return result?.created ?? 0;
    });
  }

  markExpired(now: Date, limit: number): Promise<DueCertificate[]> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const rows = await tx.certificate.findMany({
          where: { status: 'active', notAfter: { lte: now } },
          orderBy: { notAfter: 'asc' },
          take: limit,
          select: DUE_SELECT,
        });
        if (rows.length > 0) {
          await tx.certificate.updateMany({ where: { id: { in: rows.map((r) => r.id) }, status: 'active' }, data: { status: 'expired' } });
        }
        return rows.map(toDue);
      }),
    );
  }

  dependentsOf(serviceName: string): Promise<string[]> {
    return guardStorage(async () => {
      const rows = await this.sql.rows<{ name: string }>(DEPENDENTS_OF, [serviceName]);
      return rows.map((row) => row.name).sort();
    });
  }

  reliesOn(serviceName: string): Promise<string[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.serviceDependency.findMany({
        where: { service: { name: serviceName } },
        select: { reliesOn: { select: { name: true } } },
      });
      return rows.map((r) => r.reliesOn.name).sort();
    });
  }

  setReliesOn(serviceName: string, reliesOn: string[], audit: AuditEntry): Promise<void> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        // Lock the service row: concurrent replacements of its dependencies run one after the other.
        const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM services WHERE name = ${serviceName} FOR UPDATE`;
        const service = locked[0];
        if (!service) throw new DomainError('not_found', `there is no service named ${serviceName}`);
        const targets = await tx.service.findMany({ where: { name: { in: reliesOn } }, select: { id: true, name: true } });
        const missing = reliesOn.filter((name) => !targets.some((t) => t.name === name));
        if (missing.length > 0) throw new DomainError('not_found', `there is no service named ${missing.join(', ')}`, { services: missing });
        await tx.serviceDependency.deleteMany({ where: { serviceId: service.id } });
        if (targets.length > 0) {
          await tx.serviceDependency.createMany({ data: targets.map((t) => ({ serviceId: service.id, reliesOnId: t.id })), skipDuplicates: true });
        }
        await appendAuditEntries(tx, [audit]);
      }),
    );
  }

  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<PendingNotification[]> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        // SKIP LOCKED: concurrent claimers take disjoint rows; the lease hides them until it ends.
        const ids = await tx.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM notifications
          WHERE status = 'pending' AND next_attempt_at <= ${now}
          ORDER BY next_attempt_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED`;
        if (ids.length === 0) return [];
        await tx.notification.updateMany({ where: { id: { in: ids.map((r) => r.id) } }, data: { nextAttemptAt: leaseUntil } });
        const rows = await tx.notification.findMany({
          where: { id: { in: ids.map((r) => r.id) } },
          include: { recipient: { select: { name: true, webhookUrl: true, webhookSecretEncrypted: true } }, alert: ALERT_EVENT },
        });
        return rows.map((row) => ({
          id: row.id,
          recipientService: row.recipient.name,
          webhookUrl: row.recipient.webhookUrl ?? undefined,
          webhookSecretSealed: row.recipient.webhookSecretEncrypted ? new Uint8Array(row.recipient.webhookSecretEncrypted) : undefined,
          eventType: row.eventType,
          idempotencyKey: row.idempotencyKey,
          payload: notificationEvent(row),
          attempts: row.attempts,
        }));
      }),
    );
  }

  markDelivered(id: string, at: Date): Promise<void> {
    return guardStorage(async () => {
      await this.prisma.notification.update({ where: { id }, data: { status: 'delivered', deliveredAt: at, attempts: { increment: 1 }, lastError: null } });
    });
  }

  markFailed(id: string, error: string, attempts: number, nextAttemptAt: Date | undefined): Promise<void> {
    return guardStorage(async () => {
      await this.prisma.notification.update({
        where: { id },
        data: nextAttemptAt
          ? { attempts, lastError: error.slice(0, 500), nextAttemptAt }
          : { attempts, lastError: error.slice(0, 500), status: 'dead' },
      });
    });
  }

  listAlerts(filter: { state?: AlertRecord['state']; serviceName?: string; threshold?: string; limit: number }): Promise<AlertRecord[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.alert.findMany({
        where: {
          ...(filter.state ? { state: filter.state } : {}),
          ...(filter.threshold ? { threshold: filter.threshold } : {}),
          ...(filter.serviceName ? { certificate: { service: { name: filter.serviceName } } } : {}),
        },
        include: ALERT_INCLUDE,
        orderBy: { flaggedAt: 'desc' },
        take: filter.limit,
      });
      return rows.map(toAlert);
    });
  }

  acknowledge(id: string, at: Date, by: string, audit: AuditEntry): Promise<AlertRecord | undefined> {
    return guardStorage(() =>
      this.prisma.$transaction(async (tx) => {
        const existing = await tx.alert.findUnique({ where: { id }, include: ALERT_INCLUDE });
        if (!existing) return undefined;
        if (existing.state !== 'open') return toAlert(existing);
        const row = await tx.alert.update({ where: { id }, data: { state: 'acknowledged', acknowledgedAt: at, acknowledgedBy: by }, include: ALERT_INCLUDE });
        await appendAuditEntries(tx, [audit]);
        return toAlert(row);
      }),
    );
  }

  listNotifications(filter: { status?: NotificationRecord['status']; serviceName?: string; limit: number }): Promise<NotificationRecord[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.notification.findMany({
        where: { ...(filter.status ? { status: filter.status } : {}), ...(filter.serviceName ? { recipient: { name: filter.serviceName } } : {}) },
        include: { recipient: { select: { name: true } }, alert: ALERT_EVENT },
        orderBy: { createdAt: 'desc' },
        take: filter.limit,
      });
      return rows.map((row) => ({
        id: row.id,
        recipientService: row.recipient.name,
        eventType: row.eventType,
        status: row.status,
        attempts: row.attempts,
        nextAttemptAt: row.nextAttemptAt,
        lastError: row.lastError ?? undefined,
        deliveredAt: row.deliveredAt ?? undefined,
        createdAt: row.createdAt,
        idempotencyKey: row.idempotencyKey,
        payload: notificationEvent(row),
      }));
    });
  }

  claim(job: string, scheduledFor: Date, startedAt: Date, staleBefore: Date): Promise<string | undefined> {
    return guardStorage(async () => {
      try {
        return await this.prisma.$transaction(async (tx) => {
          await tx.$queryRaw`SELECT pg_advisory_xact_lock(${JOB_CLAIM_LOCK}::int, hashtext(${job}))::text AS locked`;
          const running = await tx.jobRun.count({ where: { job, finishedAt: null, startedAt: { gt: staleBefore } } });
          if (running > 0) return undefined;
          const row = await tx.jobRun.create({ data: { job, scheduledFor, startedAt, outcome: 'running' }, select: { id: true } });
          return row.id;
        });
      } catch (error) {
        // Another replica claimed this tick first.
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    });
  }

  finish(id: string, outcome: 'succeeded' | 'failed', finishedAt: Date, items: number, error: string | undefined): Promise<void> {
    return guardStorage(async () => {
      const run = await this.prisma.jobRun.findUniqueOrThrow({ where: { id }, select: { startedAt: true } });
      await this.prisma.jobRun.update({
        where: { id },
        data: { outcome, finishedAt, items, error: error?.slice(0, 500) ?? null, durationMs: finishedAt.getTime() - run.startedAt.getTime() },
      });
    });
  }

  recent(job: string, limit: number): Promise<JobRunRecord[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.jobRun.findMany({ where: { job }, orderBy: { startedAt: 'desc' }, take: limit });
      return rows.map((row) => ({
        id: row.id,
        job: row.job,
        scheduledFor: row.scheduledFor,
        startedAt: row.startedAt,
        finishedAt: row.finishedAt ?? undefined,
        durationMs: row.durationMs ?? undefined,
        outcome: row.outcome as JobRunRecord['outcome'],
        items: row.items,
        error: row.error ?? undefined,
      }));
    });
  }
}
