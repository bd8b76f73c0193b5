import { CA_HIERARCHY, type IssuerName } from '../domain/ca-hierarchy.ts';
import type { Clock } from '../domain/clock.ts';
import { buildCrl } from '../domain/crl/crl-builder.ts';
import { DomainError } from '../domain/errors.ts';
import type { CrlStore, StoredCrl } from '../domain/ports.ts';
import type { CaHierarchy } from './ca-hierarchy.service.ts';

export interface CrlSchedule {
  /** How long a CRL is valid (nextUpdate − thisUpdate), in seconds. */
  validitySeconds: number;
  /** A CRL older than this is rebuilt by `publishDue`, in seconds. */
  refreshSeconds: number;
}

/**
 * Builds, signs and stores CRLs. Relying parties are always served a stored CRL, never one
 * built per request; a revocation republishes its issuer's CRL at once, and `publishDue`
 * (run periodically) keeps every CRL well inside its validity.
 */
export class CrlPublisher {
  constructor(
    private readonly hierarchy: CaHierarchy,
    private readonly store: CrlStore,
    private readonly clock: Clock,
    private readonly schedule: CrlSchedule,
  ) {}

  async publish(issuerName: IssuerName, why: string): Promise<StoredCrl> {
    const issuer = this.hierarchy.get(issuerName);
    return this.store.publish(
      issuerName,
      () => this.clock.now(),
      async (crlNumber, entries, thisUpdate) => {
        let nextUpdate = new Date(thisUpdate.getTime() + this.schedule.validitySeconds * 1000);
        if (nextUpdate > issuer.signer.certificate.notAfter) nextUpdate = issuer.signer.certificate.notAfter;
        const der = await buildCrl({
          issuerCertificate: issuer.signer.certificate,
          privateKey: issuer.signer.privateKey,
          keyAlgorithm: issuer.signer.keyAlgorithm,
          crlNumber,
          thisUpdate,
          nextUpdate,
          entries,
        });
        return { der, nextUpdate };
      },
      (crl) => ({
        occurredAt: crl.thisUpdate,
        actor: 'system',
        action: 'crl.published',
        targetType: 'crl',
        targetId: `${issuerName}#${crl.crlNumber}`,
        details: { issuer: issuerName, crlNumber: crl.crlNumber.toString(), entries: crl.entryCount, nextUpdate: crl.nextUpdate.toISOString(), why },
      }),
    );
  }

  /**
   * Publishes every issuer's CRL that is missing, older than the refresh interval, or stale (a
   * revocation committed but not yet published — e.g. its republication failed or the process
   * died in between).
   */
  async publishDue(): Promise<StoredCrl[]> {
    const now = this.clock.now();
    const published: StoredCrl[] = [];
    for (const { name } of CA_HIERARCHY) {
      const latest = await this.store.latest(name);
      const age = latest ? now.getTime() - latest.thisUpdate.getTime() : Infinity;
      if (!latest) published.push(await this.publish(name, 'first'));
      else if (await this.store.isStale(name)) published.push(await this.publish(name, 'pending revocation'));
      else if (age >= this.schedule.refreshSeconds * 1000 || latest.nextUpdate <= now) published.push(await this.publish(name, 'refresh'));
    }
    return published;
  }

  /** The latest stored CRL of an issuer; `not_found` for an unknown issuer or none yet. */
  async latest(issuerName: string): Promise<StoredCrl> {
    const definition = CA_HIERARCHY.find((d) => d.name === issuerName);
    if (!definition) throw new DomainError('not_found', `there is no issuer named ${issuerName}`);
    const crl = await this.store.latest(definition.name);
    if (!crl) throw new DomainError('unavailable', `no CRL has been published for ${issuerName} yet`);
    return crl;
  }
}
