import type { Clock } from '../domain/clock.ts';
import { DomainError } from '../domain/errors.ts';
import type { CertificateQuery, CertificateReader, CertificateRecord, StoredCertificateStatus } from '../domain/ports.ts';
import { requireRole, type Principal } from '../domain/principal.ts';
import { normalizeSerialHex } from '../domain/serial-number.ts';
import type { RequestContext } from './request-context.ts';

export type CertificateStatus = StoredCertificateStatus;

/**
 * The status a certificate has at `now`: revoked and superseded are final; otherwise a
 * certificate past its notAfter is expired whatever the stored status says.
 */
export function deriveStatus(record: Pick<CertificateRecord, 'status' | 'notAfter'>, now: Date): CertificateStatus {
  if (record.status === 'revoked' || record.status === 'superseded') return record.status;
  if (record.status === 'expired' || record.notAfter <= now) return 'expired';
  return 'active';
}

export interface InventoryFilters {
  service?: string;
  status?: CertificateStatus;
  profile?: string;
  issuer?: string;
  expiringBefore?: Date;
  /** Seconds from now. */
  expiringWithinSeconds?: number;
  nameContains?: string;
  spkiSha256?: string;
  sort?: 'notAfter' | 'issuedAt';
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
}

export interface InventoryPage {
  items: (CertificateRecord & { derivedStatus: CertificateStatus })[];
  nextCursor: string | undefined;
}

export const MAX_PAGE_SIZE = 500;

/** Read access to the inventory: everything for admin, security and auditor; its own for a service. */
export class InventoryService {
  constructor(
    private readonly certificates: CertificateReader,
    private readonly clock: Clock,
  ) {}

  /** The service a caller is limited to, or undefined for full readers. Others are refused. */
  private readerScope(context: RequestContext): string | undefined {
    const principal: Principal | undefined = context.principal;
    if (principal?.kind === 'service-certificate') return principal.serviceName;
    if (!principal && context.authenticationRefusal) throw new DomainError('unauthorized', context.authenticationRefusal);
    requireRole(principal, ['admin', 'security', 'auditor']);
    return undefined;
  }

  async list(context: RequestContext, filters: InventoryFilters): Promise<InventoryPage> {
    const scope = this.readerScope(context);
    if (scope !== undefined && filters.service !== undefined && filters.service !== scope) {
      throw new DomainError('forbidden', 'a service may only read its own certificates');
    }
    const now = this.clock.now();
    let expiringBefore = filters.expiringBefore;
    if (filters.expiringWithinSeconds !== undefined) {
      const within = new Date(now.getTime() + filters.expiringWithinSeconds * 1000);
      expiringBefore = expiringBefore && expiringBefore < within ? expiringBefore : within;
    }
    const limit = filters.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new DomainError('bad_request', `limit must be 1 to ${MAX_PAGE_SIZE}`);
    const query: CertificateQuery = {
      serviceName: scope ?? filters.service,
      status: filters.status,
      profile: filters.profile,
      issuerName: filters.issuer,
      expiringBefore,
      nameContains: filters.nameContains,
      spkiSha256: filters.spkiSha256,
      sort: filters.sort ?? 'issuedAt',
      order: filters.order ?? (filters.sort === 'notAfter' ? 'asc' : 'desc'),
      limit,
      cursor: filters.cursor,
      now,
    };
    const page = await this.certificates.listCertificates(query);
    return { items: page.items.map((item) => ({ ...item, derivedStatus: deriveStatus(item, now) })), nextCursor: page.nextCursor };
  }

  async get(context: RequestContext, serial: string): Promise<CertificateRecord & { derivedStatus: CertificateStatus }> {
    const scope = this.readerScope(context);
    const serialHex = normalizeSerialHex(serial);
    if (!serialHex) throw new DomainError('bad_request', 'serial must be hexadecimal (colons allowed)');
    const record = await this.certificates.findBySerial(serialHex);
    // A service asking for another's certificate learns nothing about it.
    if (!record || (scope !== undefined && record.serviceName !== scope)) throw new DomainError('not_found', `there is no certificate with serial ${serialHex}`);
    return { ...record, derivedStatus: deriveStatus(record, this.clock.now()) };
  }
}
