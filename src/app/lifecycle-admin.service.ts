import type { Clock } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import type { AlertRecord, AlertStore, JobRunRecord, JobRunStore, NotificationReader, NotificationRecord, ServiceGraph, ServiceReader } from '../domain/ports.ts';
import { actorOf, requireAuthenticated, requireRole } from '../domain/principal.ts';
import { JOB_NAMES, type JobName } from './job-runner.ts';
import type { RequestContext } from './request-context.ts';

export const MAX_LIST = 500;

/** The reliance graph, alerts, notifications and scheduler status, for people and services. */
export class LifecycleAdministration {
  constructor(
    private readonly graph: ServiceGraph,
    private readonly services: ServiceReader,
    private readonly alerts: AlertStore,
    private readonly notifications: NotificationReader,
    private readonly runs: JobRunStore,
    private readonly schedules: Record<JobName, string>,
    private readonly clock: Clock,
  ) {}

  /** Admin, or the service itself over mTLS, declares what it relies on. */
  async setDependencies(context: RequestContext, serviceName: string, reliesOn: string[]): Promise<{ reliesOn: string[]; reliedOnBy: string[] }> {
    const caller = requireAuthenticated(context.principal);
    const itself = caller.kind === 'service-certificate' && caller.serviceName === serviceName;
    if (!itself) requireRole(caller, ['admin']);
    const unique = [...new Set(reliesOn)];
    if (unique.includes(serviceName)) throw new DomainError('bad_request', 'a service cannot rely on itself');
    await this.graph.setReliesOn(serviceName, unique, {
      occurredAt: this.clock.now(),
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action: 'service.dependencies_set',
      targetType: 'service',
      targetId: serviceName,
      details: { reliesOn: unique },
    });
    return this.dependencies(context, serviceName);
  }

  async dependencies(context: RequestContext, serviceName: string): Promise<{ reliesOn: string[]; reliedOnBy: string[] }> {
    const caller = requireAuthenticated(context.principal);
    const itself = caller.kind === 'service-certificate' && caller.serviceName === serviceName;
    if (!itself) requireRole(caller, ['admin', 'security', 'auditor']);
    if (!(await this.services.findService(serviceName))) throw new DomainError('not_found', `there is no service named ${serviceName}`);
    const [reliesOn, reliedOnBy] = await Promise.all([this.graph.reliesOn(serviceName), this.graph.dependentsOf(serviceName)]);
    return { reliesOn, reliedOnBy };
  }

  async listAlerts(context: RequestContext, filter: { state?: AlertRecord['state']; service?: string; threshold?: string; limit?: number }): Promise<AlertRecord[]> {
    requireRole(context.principal, ['admin', 'security', 'auditor']);
    return this.alerts.listAlerts({ state: filter.state, serviceName: filter.service, threshold: filter.threshold, limit: filter.limit ?? 100 });
  }

  async acknowledgeAlert(context: RequestContext, id: string): Promise<AlertRecord> {
    const caller = requireRole(context.principal, ['admin', 'security']);
    const now = this.clock.now();
    const alert = await this.alerts.acknowledge(id, now, actorOf(caller).actor, {
      occurredAt: now,
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action: 'alert.acknowledged',
      targetType: 'alert',
      targetId: id,
      details: {},
    });
    if (!alert) throw new DomainError('not_found', `there is no alert ${id}`);
    return alert;
  }

  async listNotifications(context: RequestContext, filter: { status?: NotificationRecord['status']; service?: string; limit?: number }): Promise<NotificationRecord[]> {
    requireRole(context.principal, ['admin', 'security', 'auditor']);
    return this.notifications.listNotifications({ status: filter.status, serviceName: filter.service, limit: filter.limit ?? 100 });
  }

  async schedulerStatus(context: RequestContext): Promise<{ job: JobName; schedule: string; recentRuns: JobRunRecord[] }[]> {
    requireRole(context.principal, ['admin', 'security', 'auditor']);
    return Promise.all(JOB_NAMES.map(async (job) => ({ job, schedule: this.schedules[job], recentRuns: await this.runs.recent(job, 10) })));
  }
}
