import { createHash } from 'node:crypto';
import { daysLeft } from './expiry-thresholds.ts';

export type CertificateEventType = 'certificate.expiring' | 'certificate.expired' | 'certificate.revoked';

/** What a webhook event says about its certificate; none of it changes once the certificate is issued. */
export interface CertificateEventSubject {
  serialHex: string;
  /** The service the certificate belongs to: its `owner` recipient. */
  serviceName: string;
  issuerName: string;
  profile: string;
  notAfter: Date;
}

export interface CertificateEventDetails {
  /** The expiry threshold crossed (`certificate.expiring`, `certificate.expired`). */
  threshold?: string;
  /** The revocation reason (`certificate.revoked`). */
  reason?: string;
  occurredAt: Date;
}

/** The JSON event POSTed to a recipient's webhook. */
export type CertificateEvent = {
  id: string;
  type: CertificateEventType;
  occurredAt: string;
  service: string;
  serial: string;
  issuer: string;
  profile: string;
  notAfter: string;
  threshold?: string;
  reason?: string;
  daysLeft: number;
  recipient: string;
  relationship: 'owner' | 'relies-on';
};

/**
 * The event's id, which is also its Idempotency-Key: derived from what happened and to whom, so
 * the same event is never enqueued twice and receivers can drop redeliveries.
 */
export function certificateEventId(eventType: CertificateEventType, subject: CertificateEventSubject, details: CertificateEventDetails, recipient: string): string {
  const digest = createHash('sha256')
    .update([eventType, subject.issuerName, subject.serialHex, details.threshold ?? details.reason ?? '', recipient].join('\n'))
    .digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/**
 * The event for `recipient`. The one definition of its shape: the outbox
 * stores it for a revocation, and builds it again from the alert and its certificate for an
 * expiry flag (the alert holds the threshold and the moment, the certificate the rest).
 */
export function certificateEventPayload(
  eventType: CertificateEventType,
  subject: CertificateEventSubject,
  details: CertificateEventDetails,
  recipient: string,
): CertificateEvent {
  return {
    id: certificateEventId(eventType, subject, details, recipient),
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
    recipient,
    relationship: recipient === subject.serviceName ? 'owner' : 'relies-on',
  };
}
