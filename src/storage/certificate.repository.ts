import type { IssuerName } from '../domain/ca-hierarchy.ts';
import type pg from 'pg';
import { DomainError } from '../domain/errors.ts';
import type {
  AuditEntry,
  CertificateQuery,
  CertificateReader,
  CertificateRecord,
  CertificateWriter,
  IssuanceAheadClaim,
  IssuanceCommitOutcome,
  IssuanceStore,
  IssuanceTransaction,
  NewCertificateRecord,
  OpenedIssuance,
  PendingIssuance,
} from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import { nameText } from './certificate-name-text.ts';
import type { Prisma, PrismaClient } from './generated/prisma/client.ts';
import { GroupCommitQueue } from './group-commit-queue.ts';
import { openLoneIssuance, writeIssuanceGroup } from './issuance-group-writer.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { guardStorage, isDatabaseUnreachable } from './storage-error.ts';

export const CERTIFICATE_INCLUDE = {
  issuer: { select: { name: true } },
  service: { select: { name: true } },
  renewedFrom: { select: { serialHex: true } },
  renewedBy: { select: { serialHex: true } },
} as const;

type CertificateRow = Prisma.CertificateGetPayload<{ include: typeof CERTIFICATE_INCLUDE }>;

export function toCertificateRecord(row: CertificateRow): CertificateRecord {
  return {
    id: row.id,
    issuerName: row.issuer.name as IssuerName,
    serialHex: row.serialHex,
    serviceName: row.service?.name,
    profile: row.profile,
    subjectDn: row.subjectDn,
    commonName: row.commonName ?? undefined,
    sans: { dnsNames: row.dnsNames, ipAddresses: row.ipAddresses, uris: row.uris },
    keyAlgorithm: row.keyAlgorithm,
    spkiSha256: row.spkiSha256,
    fingerprintSha256: row.fingerprintSha256,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    status: row.status,
    issuedAt: row.issuedAt,
    requestedBy: row.requestedBy ?? undefined,
    renewedFromSerial: row.renewedFrom?.serialHex,
    renewedBySerial: row.renewedBy?.serialHex,
    supersededAt: row.supersededAt ?? undefined,
    revokedAt: row.revokedAt ?? undefined,
    revocationReason: row.revocationReason ?? undefined,
    der: new Uint8Array(row.der),
  };
}

async function insertCertificate(
  tx: Prisma.TransactionClient,
  certificate: NewCertificateRecord & { renewedFromId?: string },
): Promise<{ id: string }> {
  const issuer = await tx.issuer.findUniqueOrThrow({ where: { name: certificate.issuerName }, select: { id: true } });
  const service = certificate.serviceName
    ? await tx.service.findUnique({ where: { name: certificate.serviceName }, select: { id: true } })
    : undefined;
  if (certificate.serviceName && !service) throw new DomainError('not_found', `there is no service named ${certificate.serviceName}`);
  const { facts } = certificate;
  return tx.certificate.create({
    select: { id: true },
    data: {
      issuerId: issuer.id,
      serviceId: service?.id ?? null,
      serialHex: facts.serialHex,
      profile: certificate.profile,
      subjectDn: facts.subjectDn,
      commonName: facts.commonName ?? null,
      dnsNames: facts.sans.dnsNames,
      ipAddresses: facts.sans.ipAddresses,
      uris: facts.sans.uris,
      nameText: nameText(certificate),
      keyAlgorithm: certificate.keyAlgorithm,
      spkiSha256: facts.spkiSha256,
      fingerprintSha256: facts.fingerprintSha256,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
      der: Buffer.from(facts.der),
      requestedBy: certificate.requestedBy,
      renewedFromId: certificate.renewedFromId ?? null,
      flagSchedule: certificate.nextFlagAt ? { create: { nextFlagAt: certificate.nextFlagAt } } : undefined,
    },
  });
}

/** Where clause of a derived status at `now` (see CertificateQuery.status). */
function statusFilter(status: CertificateQuery['status'], now: Date): Prisma.CertificateWhereInput {
  switch (status) {
    case undefined:
      return {};
    case 'active':
      return { status: 'active', notAfter: { gt: now } };
    case 'expired':
      return { OR: [{ status: 'expired' }, { status: 'active', notAfter: { lte: now } }] };
    default:
      return { status };
  }
}

interface Cursor {
  value: string;
  id: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.value, cursor.id])).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && !Number.isNaN(Date.parse(parsed[0]))) {
      return { value: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the refusal below
  }
  throw new DomainError('bad_request', 'cursor is not one this server returned');
}

/**
 * Issuances per transaction, and transactions at once. Groups form only under load (a lone
 * request is written at once). One group in flight: a group is two round trips, and the chain's
 * lock is taken in the first, so a second group in flight would only wait on that lock while it
 * took requests the next group would have shared its statements with (measured, BENCHMARKS.md
 * change 17). The rest of the pool is left to everything else.
 */
const ISSUANCE_GROUP = {
  maxGroupSize: 64,
  maxConcurrentGroups: 1,
  // A lost database fails every item alike: answer them all at once (503), not one by one.
  worthRetryingAlone: (error: unknown) => !isDatabaseUnreachable(error),
};

export class PrismaCertificateRepository implements CertificateWriter, CertificateReader, IssuanceStore {
  private readonly issuanceQueue: GroupCommitQueue<PendingIssuance, IssuanceCommitOutcome>;

  private readonly pool: pg.Pool;

  constructor(private readonly prisma: PrismaClient) {
    this.pool = sqlPoolOf(prisma);
    this.issuanceQueue = new GroupCommitQueue((group) => writeIssuanceGroup(this.pool, group), ISSUANCE_GROUP);
  }

  commitIssuance(pending: PendingIssuance): Promise<IssuanceCommitOutcome> {
    return guardStorage(() => this.issuanceQueue.submit(pending));
  }

  openIssuance(claim: IssuanceAheadClaim): OpenedIssuance | undefined {
    let opened: OpenedIssuance | undefined;
    this.issuanceQueue.writeAloneIfIdle(() => {
      const lone = openLoneIssuance(this.pool, claim);
      opened = lone.opened;
      return lone.finished;
    });
    if (opened === undefined) return undefined;
    const { commit, abandon } = opened;
    return { commit: (pending) => guardStorage(() => commit(pending)), abandon };
  }

  recordIssued(certificate: NewCertificateRecord, audit: AuditEntry): Promise<void> {
    return guardStorage(async () => {
      await this.prisma.$transaction(async (tx) => {
        await insertCertificate(tx, certificate);
        await appendAuditEntries(tx, [audit]);
      });
    });
  }

  inTransaction<T>(work: (tx: IssuanceTransaction) => Promise<T>): Promise<T> {
    return guardStorage(() =>
      this.prisma.$transaction(
        async (tx) => {
          const unit: IssuanceTransaction = {
            recordCertificate: (certificate) => insertCertificate(tx, certificate),
            supersede: async (certificateId, at) => {
              const updated = await tx.certificate.updateMany({
                where: { id: certificateId, status: 'active' },
                data: { status: 'superseded', supersededAt: at },
              });
              await tx.certificateFlagSchedule.deleteMany({ where: { certificateId } });
              // A renewal answers the expiry flags of the certificate it replaces.
              await tx.alert.updateMany({
                where: { certificateId, state: { in: ['open', 'acknowledged'] } },
                data: { state: 'resolved', resolvedAt: at },
              });
              return updated.count === 1;
            },
            audit: (entries) => appendAuditEntries(tx, entries),
          };
          return work(unit);
        },
        // A boot storm queues many issuances for the pool: wait for a connection rather than fail.
        { timeout: 15_000, maxWait: 10_000 },
      ),
    );
  }

  findByFingerprint(fingerprintSha256: string): Promise<CertificateRecord | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.certificate.findUnique({ where: { fingerprintSha256 }, include: CERTIFICATE_INCLUDE });
      return row ? toCertificateRecord(row) : undefined;
    });
  }

  findBySerial(serialHex: string): Promise<CertificateRecord | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.certificate.findFirst({ where: { serialHex }, include: CERTIFICATE_INCLUDE, orderBy: { issuedAt: 'desc' } });
      return row ? toCertificateRecord(row) : undefined;
    });
  }

  listCertificates(query: CertificateQuery): Promise<{ items: CertificateRecord[]; nextCursor: string | undefined }> {
    return guardStorage(async () => {
      const sortField = query.sort;
      const comparison = query.order === 'asc' ? 'gt' : 'lt';
      const filters: Prisma.CertificateWhereInput[] = [statusFilter(query.status, query.now)];
      if (query.serviceName) filters.push({ service: { name: query.serviceName } });
      if (query.profile) filters.push({ profile: query.profile });
      if (query.issuerName) filters.push({ issuer: { name: query.issuerName } });
      if (query.expiringBefore) filters.push({ notAfter: { lt: query.expiringBefore } });
      if (query.nameContains) filters.push({ nameText: { contains: query.nameContains.toLowerCase() } });
      if (query.spkiSha256) filters.push({ spkiSha256: query.spkiSha256.toLowerCase() });
      if (query.cursor) {
        const cursor = decodeCursor(query.cursor);
        const value = new Date(cursor.value);
        filters.push({ OR: [{ [sortField]: { [comparison]: value } }, { [sortField]: value, id: { [comparison]: cursor.id } }] });
      }
      const rows = await this.prisma.certificate.findMany({
        where: { AND: filters },
        include: CERTIFICATE_INCLUDE,
        orderBy: [{ [sortField]: query.order }, { id: query.order }],
        take: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      const nextCursor = rows.length > query.limit && last ? encodeCursor({ value: last[sortField].toISOString(), id: last.id }) : undefined;
      return { items: page.map(toCertificateRecord), nextCursor };
    });
  }
}
