import type { FlagNotification, NewNotification } from '../domain/ports.ts';
import {
  certificateEventId,
  certificateEventPayload,
  type CertificateEventDetails,
  type CertificateEventSubject,
  type CertificateEventType,
} from '../domain/lifecycle/certificate-event.ts';

/** The owning service first, then every service that relies on it. */
function recipientsOf(subject: CertificateEventSubject, dependents: string[]): string[] {
  return [subject.serviceName, ...dependents.filter((d) => d !== subject.serviceName)];
}

/**
 * One outbox row per recipient for an expiry flag, without the event itself: the outbox builds
 * it from the alert when it is read (`certificateEventPayload`), so a scan writes only the row.
 */
export function flagNotifications(
  eventType: CertificateEventType,
  subject: CertificateEventSubject,
  dependents: string[],
  details: CertificateEventDetails,
): FlagNotification[] {
  return recipientsOf(subject, dependents).map((recipient) => ({
    recipientService: recipient,
    eventType,
    idempotencyKey: certificateEventId(eventType, subject, details, recipient),
  }));
}

/** One outbox row per recipient with its event, for an event that has no alert (a revocation). */
export function certificateEventNotifications(
  eventType: CertificateEventType,
  subject: CertificateEventSubject,
  dependents: string[],
  details: CertificateEventDetails,
): NewNotification[] {
  return recipientsOf(subject, dependents).map((recipient) => {
    const payload = certificateEventPayload(eventType, subject, details, recipient);
    return { recipientService: recipient, eventType, idempotencyKey: payload.id, payload };
  });
}
