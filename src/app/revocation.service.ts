import type { IssuerName } from '../domain/ca-hierarchy.ts';
import type { Clock } from '../domain/clock.ts';
import { isRevocationReasonName, type RevocationReasonName } from '../domain/crl/revocation-reason.ts';
import { DomainError } from '../domain/errors.ts';
import type { AuditEntry, CertificateRecord, RevocationStore, RevocationTransaction, ServiceGraph } from '../domain/ports.ts';
import { certificateEventNotifications } from './lifecycle-events.ts';
import type { OperationMetrics } from '../domain/metrics-port.ts';
import { actorOf, requireAuthenticated, requireRole, type Principal } from '../domain/principal.ts';
import { normalizeSerialHex } from '../domain/serial-number.ts';
import type { CrlPublisher } from './crl-publisher.service.ts';
import type { RequestContext } from './request-context.ts';

export interface RevocationRequest {
  reason: string;
  /** When the key is known or suspected to have been compromised (RFC 5280 invalidityDate). */
  invalidityDate?: string;
}

export interface RevocationOutcome {
  /** Certificates revoked (or re-reasoned) by this call. */
  revoked: CertificateRecord[];
  /** Certificates that were already revoked and left as they were. */
  unchanged: CertificateRecord[];
}

export interface RevocationLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Revocation takes effect at once: the certificates are marked revoked in one transaction
 * (with the audit trail), then the issuers' CRLs are republished before the call returns, and
 * OCSP, which reads the inventory on every request, reports the new status immediately.
 */
export class RevocationService {
  constructor(
    private readonly store: RevocationStore,
    private readonly crls: CrlPublisher,
    private readonly clock: Clock,
    private readonly log: RevocationLog,
    private readonly graph: Pick<ServiceGraph, 'dependentsOf'>,
    private readonly metrics?: Pick<OperationMetrics, 'certificateRevoked'>,
  ) {}

  /** Tells each revoked certificate's service, and the services relying on it (outbox, same transaction). */
  private async notify(tx: RevocationTransaction, revoked: CertificateRecord[], reason: RevocationReasonName, now: Date): Promise<void> {
    for (const certificate of revoked) {
      if (!certificate.serviceName) continue;
      const dependents = await this.graph.dependentsOf(certificate.serviceName);
      await tx.enqueueNotifications(
        certificateEventNotifications(
          'certificate.revoked',
          { serialHex: certificate.serialHex, serviceName: certificate.serviceName, issuerName: certificate.issuerName, profile: certificate.profile, notAfter: certificate.notAfter },
          dependents,
          { reason, occurredAt: now },
        ),
        now,
      );
    }
  }

  /** Admin or security, or the certificate's own service over mTLS. Idempotent. */
  async revokeCertificate(context: RequestContext, serial: string, request: RevocationRequest): Promise<CertificateRecord> {
    const caller = this.authenticated(context);
    const serialHex = normalizeSerialHex(serial);
    if (!serialHex) throw new DomainError('bad_request', 'serial must be hexadecimal (colons allowed)');
    const { reason, invalidityDate } = this.parse(request);
    if (caller.kind !== 'service-certificate') requireRole(caller, ['admin', 'security']);
    const now = this.clock.now();
    const outcome = await this.store.inTransaction(async (tx) => {
      const certificate = await tx.lockCertificate(serialHex);
      if (!certificate || certificate.profile === 'root-ca' || certificate.profile === 'intermediate-ca') {
        throw new DomainError('not_found', `there is no certificate with serial ${serialHex}`);
      }
      if (caller.kind === 'service-certificate' && certificate.serviceName !== caller.serviceName) {
        throw new DomainError('forbidden', 'a service may only revoke its own certificates');
      }
      const result = await this.revokeEach(tx, [certificate], reason, invalidityDate, now);
      await this.notify(tx, result.revoked, reason, now);
      await tx.audit(result.revoked.map((c) => this.auditEntry(context, caller, 'certificate.revoked', 'certificate', c.serialHex, { reason, service: c.serviceName ?? null, invalidityDate: invalidityDate?.toISOString() ?? null })));
      return result;
    });
    await this.republish(outcome.revoked);
    const record = outcome.revoked[0] ?? outcome.unchanged[0];
    if (!record) throw new Error('revocation returned no certificate');
    return record;
  }

  /**
   * Admin or security: every unexpired certificate of the service, the service disabled and
   * its unused bootstrap tokens revoked, all in one transaction.
   */
  async revokeService(context: RequestContext, serviceName: string, request: RevocationRequest): Promise<RevocationOutcome & { bootstrapTokensRevoked: number }> {
    const caller = requireRole(this.authenticated(context), ['admin', 'security']);
    const { reason, invalidityDate } = this.parse(request);
    const now = this.clock.now();
    const outcome = await this.store.inTransaction(async (tx) => {
      if (!(await tx.disableService(serviceName, now))) throw new DomainError('not_found', `there is no service named ${serviceName}`);
      const certificates = await tx.lockUnexpiredCertificatesOfService(serviceName, now);
      // Earlier revocations of the identity stand as they are (unless this one is for key compromise).
      const result = await this.revokeEach(tx, certificates, reason, invalidityDate, now, 'keep');
      await this.notify(tx, result.revoked, reason, now);
      const bootstrapTokensRevoked = await tx.revokeBootstrapTokens(serviceName, now);
      await tx.audit([
        this.auditEntry(context, caller, 'service.revoked', 'service', serviceName, {
          reason,
          certificates: result.revoked.map((c) => c.serialHex),
          bootstrapTokensRevoked,
        }),
        ...result.revoked.map((c) => this.auditEntry(context, caller, 'certificate.revoked', 'certificate', c.serialHex, { reason, service: serviceName, via: 'service.revoked' })),
      ]);
      return { ...result, bootstrapTokensRevoked };
    });
    await this.republish(outcome.revoked);
    return outcome;
  }

  /** Admin or security: every certificate with this public key, for key compromise; the key is blocked for good. */
  async revokeKey(context: RequestContext, spkiSha256: string, request: Partial<RevocationRequest>): Promise<RevocationOutcome> {
    const caller = requireRole(this.authenticated(context), ['admin', 'security']);
    const spki = spkiSha256.toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(spki)) throw new DomainError('bad_request', 'the key fingerprint must be 64 hex digits (SHA-256 of the SubjectPublicKeyInfo)');
    const { invalidityDate } = this.parse({ reason: 'keyCompromise', invalidityDate: request.invalidityDate });
    const now = this.clock.now();
    const outcome = await this.store.inTransaction(async (tx) => {
      const certificates = await tx.lockUnexpiredCertificatesWithKey(spki, now);
      const result = await this.revokeEach(tx, certificates, 'keyCompromise', invalidityDate, now);
      await this.notify(tx, result.revoked, 'keyCompromise', now);
      await tx.blockKey(spki, 'keyCompromise', now, actorOf(caller).actor);
      await tx.audit([
        this.auditEntry(context, caller, 'key.revoked', 'key', spki, { certificates: result.revoked.map((c) => c.serialHex) }),
        ...result.revoked.map((c) => this.auditEntry(context, caller, 'certificate.revoked', 'certificate', c.serialHex, { reason: 'keyCompromise', service: c.serviceName ?? null, via: 'key.revoked' })),
      ]);
      return result;
    });
    await this.republish(outcome.revoked);
    return outcome;
  }

  private authenticated(context: RequestContext): Principal {
    if (!context.principal && context.authenticationRefusal) throw new DomainError('unauthorized', context.authenticationRefusal);
    return requireAuthenticated(context.principal);
  }

  private parse(request: { reason: string; invalidityDate?: string }): { reason: RevocationReasonName; invalidityDate: Date | undefined } {
    if (!isRevocationReasonName(request.reason)) {
      throw new DomainError('bad_request', 'reason must be one of unspecified, keyCompromise, caCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn');
    }
    let invalidityDate: Date | undefined;
    if (request.invalidityDate !== undefined) {
      invalidityDate = new Date(request.invalidityDate);
      if (Number.isNaN(invalidityDate.getTime())) throw new DomainError('bad_request', 'invalidityDate must be an RFC 3339 date-time');
      if (invalidityDate > this.clock.now()) throw new DomainError('bad_request', 'invalidityDate cannot be in the future');
    }
    return { reason: request.reason, invalidityDate };
  }

  /**
   * Revokes each certificate. An already revoked one is left alone, except that its reason
   * may be raised to keyCompromise (RFC 5280 lets a CA learn of a compromise later); any other
   * change of reason is a conflict.
   */
  private async revokeEach(
    tx: RevocationTransaction,
    certificates: CertificateRecord[],
    reason: RevocationReasonName,
    invalidityDate: Date | undefined,
    now: Date,
    onOtherReason: 'conflict' | 'keep' = 'conflict',
  ): Promise<RevocationOutcome> {
    const outcome: RevocationOutcome = { revoked: [], unchanged: [] };
    for (const certificate of certificates) {
      if (certificate.revokedAt) {
        if (certificate.revocationReason === reason) {
          outcome.unchanged.push(certificate);
          continue;
        }
        if (reason !== 'keyCompromise') {
          if (onOtherReason === 'keep') {
            outcome.unchanged.push(certificate);
            continue;
          }
          throw new DomainError('conflict', `certificate ${certificate.serialHex} is already revoked (${certificate.revocationReason ?? 'unspecified'}); its reason can only be changed to keyCompromise`);
        }
        await tx.markRevoked(certificate.id, { revokedAt: certificate.revokedAt, reason, invalidityDate });
        outcome.revoked.push({ ...certificate, status: 'revoked', revocationReason: reason });
        continue;
      }
      await tx.markRevoked(certificate.id, { revokedAt: now, reason, invalidityDate });
      outcome.revoked.push({ ...certificate, status: 'revoked', revokedAt: now, revocationReason: reason });
    }
    return outcome;
  }

  /** New CRLs for the issuers touched; a failure here is retried by the periodic refresh. */
  private async republish(revoked: CertificateRecord[]): Promise<void> {
    for (const certificate of revoked) this.metrics?.certificateRevoked(certificate.revocationReason ?? 'unspecified', 1);
    const issuers = new Set<IssuerName>(revoked.map((c) => c.issuerName));
    for (const issuer of issuers) {
      try {
        await this.crls.publish(issuer, 'revocation');
      } catch (error) {
        this.log.warn({ issuer, reason: error instanceof Error ? error.message : String(error) }, 'CRL republication after a revocation failed; the periodic refresh will retry');
      }
    }
  }

  private auditEntry(context: RequestContext, caller: Principal, action: string, targetType: string, targetId: string, details: Record<string, unknown>): AuditEntry {
    return {
      occurredAt: this.clock.now(),
      ...actorOf(caller),
      sourceAddress: context.sourceAddress,
      requestId: context.requestId,
      action,
      targetType,
      targetId,
      details,
    };
  }
}
