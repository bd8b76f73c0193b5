import { Router } from 'express';
import type { LifecycleAdministration } from '../../app/lifecycle-admin.service.ts';
import type { AlertRecord, JobRunRecord, NotificationRecord } from '../../domain/ports.ts';
import { requestContextOf } from '../authentication.ts';
import { queryParam } from '../query-param.ts';

const iso = (date: Date | undefined) => date?.toISOString();

function alertDto(alert: AlertRecord) {
  return {
    id: alert.id,
    serial: alert.certificateSerial,
    ...(alert.serviceName ? { service: alert.serviceName } : {}),
    threshold: alert.threshold,
    state: alert.state,
    flaggedAt: alert.flaggedAt.toISOString(),
    notAfter: alert.notAfter.toISOString(),
    ...(alert.acknowledgedAt ? { acknowledgedAt: iso(alert.acknowledgedAt), acknowledgedBy: alert.acknowledgedBy } : {}),
    ...(alert.resolvedAt ? { resolvedAt: iso(alert.resolvedAt) } : {}),
  };
}

function notificationDto(n: NotificationRecord) {
  return {
    id: n.id,
    service: n.recipientService,
    eventType: n.eventType,
    eventId: n.idempotencyKey,
    status: n.status,
    attempts: n.attempts,
    nextAttemptAt: n.nextAttemptAt.toISOString(),
    ...(n.lastError ? { lastError: n.lastError } : {}),
    ...(n.deliveredAt ? { deliveredAt: iso(n.deliveredAt) } : {}),
    createdAt: n.createdAt.toISOString(),
    payload: n.payload,
  };
}

function runDto(run: JobRunRecord) {
  return {
    scheduledFor: run.scheduledFor.toISOString(),
    startedAt: run.startedAt.toISOString(),
    ...(run.finishedAt ? { finishedAt: iso(run.finishedAt) } : {}),
    ...(run.durationMs !== undefined ? { durationMs: run.durationMs } : {}),
    outcome: run.outcome,
    items: run.items,
    ...(run.error ? { error: run.error } : {}),
  };
}

/** The reliance graph, alerts, notifications and the scheduler's recent runs. */
export function lifecycleRoutes(lifecycle: LifecycleAdministration): Router {
  const router = Router();
  router.put('/v1/services/:name/dependencies', async (req, res) => {
    const body = req.body as { reliesOn: string[] };
    res.json(await lifecycle.setDependencies(requestContextOf(res), req.params.name, body.reliesOn));
  });
  router.get('/v1/services/:name/dependencies', async (req, res) => {
    res.json(await lifecycle.dependencies(requestContextOf(res), req.params.name));
  });
  router.get('/v1/alerts', async (req, res) => {
    const limit = queryParam(req, 'limit');
    const alerts = await lifecycle.listAlerts(requestContextOf(res), {
      state: queryParam(req, 'state') as AlertRecord['state'] | undefined,
      service: queryParam(req, 'service'),
      threshold: queryParam(req, 'threshold'),
      limit: limit ? Number(limit) : undefined,
    });
    res.json({ alerts: alerts.map(alertDto) });
  });
  router.post('/v1/alerts/:id/acknowledge', async (req, res) => {
    res.json(alertDto(await lifecycle.acknowledgeAlert(requestContextOf(res), req.params.id)));
  });
  router.get('/v1/notifications', async (req, res) => {
    const limit = queryParam(req, 'limit');
    const notifications = await lifecycle.listNotifications(requestContextOf(res), {
      status: queryParam(req, 'status') as NotificationRecord['status'] | undefined,
      service: queryParam(req, 'service'),
      limit: limit ? Number(limit) : undefined,
    });
    res.json({ notifications: notifications.map(notificationDto) });
  });
  router.get('/v1/scheduler', async (_req, res) => {
    const jobs = await lifecycle.schedulerStatus(requestContextOf(res));
    res.json({ jobs: jobs.map((j) => ({ job: j.job, schedule: j.schedule, recentRuns: j.recentRuns.map(runDto) })) });
  });
  return router;
}
