/** Wire types of the lifecycle routes (alerts, notifications, dependencies, scheduler), as `openapi.yaml` defines them. */

export type AlertStateDto = 'open' | 'acknowledged' | 'resolved';

export interface AlertDto {
  id: string;
  serial: string;
  service?: string;
  /** e.g. `30d`, `75%`, `expired`. */
  threshold: string;
  state: AlertStateDto;
  flaggedAt: string;
  notAfter: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
}

export interface AlertListDto {
  alerts: AlertDto[];
}

/** Query of `GET /v1/alerts`. */
export interface AlertQueryDto {
  state?: AlertStateDto;
  service?: string;
  threshold?: string;
  /** 1..500, default 100. */
  limit?: number;
}

export type NotificationStatusDto = 'pending' | 'delivered' | 'dead';

export interface NotificationDto {
  id: string;
  /** The recipient service. */
  service: string;
  eventType: 'certificate.expiring' | 'certificate.expired' | 'certificate.revoked';
  /** Also the Idempotency-Key header of every delivery attempt. */
  eventId: string;
  status: NotificationStatusDto;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  deliveredAt?: string;
  createdAt: string;
  /** The JSON event as POSTed to the webhook. */
  payload: Record<string, unknown>;
}

export interface NotificationListDto {
  notifications: NotificationDto[];
}

/** Query of `GET /v1/notifications`. */
export interface NotificationQueryDto {
  status?: NotificationStatusDto;
  service?: string;
  limit?: number;
}

/** The reliance graph around one service. */
export interface DependenciesDto {
  reliesOn: string[];
  reliedOnBy: string[];
}

export interface JobRunDto {
  scheduledFor: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  outcome: 'running' | 'succeeded' | 'failed';
  items: number;
  error?: string;
}

export interface SchedulerJobDto {
  job: 'expiry-scan' | 'mark-expired' | 'crl-refresh' | 'deliver-notifications';
  schedule: string;
  recentRuns: JobRunDto[];
}

export interface SchedulerDto {
  jobs: SchedulerJobDto[];
}
