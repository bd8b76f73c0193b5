import { createHash } from 'node:crypto';
import type { NewNotification } from '../domain/ports.ts';
import { daysLeft } from '../domain/lifecycle/expiry-thresholds.ts';

export interface CertificateEventSubject {
  serialHex: string;
  serviceName: string;
  issuerName: string;
  profile: string;
  notAfter: Date;
}

/**
 * One notification per recipient: the owning service, and every service that relies on it.
 * The event id doubles as the idempotency key and is derived from what happened, so the
 * same event is never enqueued twice and receivers can drop redeliveries.
 */
export function certificateEventNotifications(
  eventType: NewNotification['eventType'],
  subject: CertificateEventSubject,
  dependents: string[],
  details: { threshold?: string; reason?: string; occurredAt: Date },
): NewNotification[] {
  const recipients: { service: string; relationship: 'owner' | 'relies-on' }[] = [
    { service: subject.serviceName, relationship: 'owner' },
    ...dependents.filter((d) => d !== subject.serviceName).map((service) => ({ service, relationship: 'relies-on' as const })),
  ];
  return recipients.map(({ service, relationship }) => {
    const eventId = `evt_${createHash('sha256')
      .update([eventType, subject.issuerName, subject.serialHex, details.threshold ?? details.reason ?? '', service].join('\n'))
      .digest('hex')
      .slice(0, 32)}`;
    return {
      recipientService: service,
      eventType,
      idempotencyKey: eventId,
      payload: {
        id: eventId,
        type: eventType,
        occurredAt: details.occurredAt.toISOString(),
        service: subject.serviceName,
        serial: subject.serialHex,
        issuer: subject.issuerName,
        profile: subject.profile,
        notAfter: subject.notAfter.toISOString(),
        ...(details.threshold ? { threshold: details.threshold } : {}),
        ...(details.reason ? { reason: details.reason } : {}),
        daysLeft: daysLeft(subject.notAfter, details.occurredAt),
        recipient: service,
        relationship,
      },
    };
  });
}
