import type { IssuerName } from '../domain/ca-hierarchy.ts';
import type { CrlEntry } from '../domain/crl/crl-builder.ts';
import type { RevocationReasonName } from '../domain/crl/revocation-reason.ts';
import type { AuditEntry, CrlStore, RevocationStatusReader, StoredCrl } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { sqlPoolOf } from './prisma-client.ts';
import { pooledSession, sqlStatement, type SqlSession } from './sql-session.ts';
import { guardStorage } from './storage-error.ts';

// Every OCSP request asks this: a prepared statement on the pg pool.
const STATUS_OF = sqlStatement(
  'ocsp_status_of',
  `SELECT c.revoked_at AS "revokedAt", c.revocation_reason::text AS reason, c.not_after AS "notAfter"
   FROM certificates c JOIN issuers i ON i.id = c.issuer_id
   WHERE i.name = $1 AND c.serial_hex = $2
   LIMIT 1`,
);

/** Base of the per-issuer advisory lock keys taken while a CRL number is chosen. */
const CRL_LOCK_BASE = 7_301_100;

interface EntryRow {
  serial_hex: string;
  revoked_at: Date;
  revocation_reason: RevocationReasonName | null;
  invalidity_date: Date | null;
}

/** Published CRLs and the revocation status OCSP reports. */
export class PrismaCrlRepository implements CrlStore, RevocationStatusReader {
  private readonly sql: SqlSession;

  constructor(private readonly prisma: PrismaClient) {
    this.sql = pooledSession(sqlPoolOf(prisma));
  }

  publish(
    issuerName: IssuerName,
    thisUpdateAfterLock: () => Date,
    build: (crlNumber: bigint, entries: CrlEntry[], thisUpdate: Date) => Promise<{ der: Uint8Array; nextUpdate: Date }>,
    audit: (crl: StoredCrl) => AuditEntry,
  ): Promise<StoredCrl> {
    return guardStorage(() =>
      this.prisma.$transaction(
        async (tx) => {
          const issuer = await tx.issuer.findUniqueOrThrow({ where: { name: issuerName }, select: { id: true } });
          // One CRL number at a time per issuer, across every replica sharing the database.
          await tx.$queryRaw`SELECT pg_advisory_xact_lock(${CRL_LOCK_BASE}::int, hashtext(${issuer.id}))::text AS locked`;
          // Read before the entries: every revocation counted in this version committed before the
          // entries are read below, so this CRL includes at least that version.
          const { revocationVersion } = await tx.issuer.findUniqueOrThrow({ where: { id: issuer.id }, select: { revocationVersion: true } });
          const last = await tx.crl.findFirst({ where: { issuerId: issuer.id }, orderBy: { crlNumber: 'desc' }, select: { crlNumber: true } });
          const crlNumber = (last?.crlNumber ?? 0n) + 1n;
          const thisUpdate = thisUpdateAfterLock();
          // Raw SQL for the hot read: only the four columns a CRL entry needs, however many rows.
          const rows = await tx.$queryRaw<EntryRow[]>`
            SELECT serial_hex, revoked_at, revocation_reason::text AS revocation_reason, invalidity_date
            FROM certificates
            WHERE issuer_id = ${issuer.id}::uuid AND revoked_at IS NOT NULL AND not_after >= ${thisUpdate}`;
          const entries: CrlEntry[] = rows.map((row) => ({
            serialHex: row.serial_hex,
            revokedAt: row.revoked_at,
            reason: row.revocation_reason ?? 'unspecified',
            ...(row.invalidity_date ? { invalidityDate: row.invalidity_date } : {}),
          }));
          const { der, nextUpdate } = await build(crlNumber, entries, thisUpdate);
          await tx.crl.create({
            data: { issuerId: issuer.id, crlNumber, thisUpdate, nextUpdate, entryCount: entries.length, der: Buffer.from(der) },
          });
          await tx.$executeRaw`UPDATE issuers SET crl_version = GREATEST(crl_version, ${revocationVersion}) WHERE id = ${issuer.id}::uuid`;
          const stored: StoredCrl = { issuerName, crlNumber, thisUpdate, nextUpdate, entryCount: entries.length, der };
          await appendAuditEntries(tx, [audit(stored)]);
          return stored;
        },
        { timeout: 120_000 },
      ),
    );
  }

  isStale(issuerName: IssuerName): Promise<boolean> {
    return guardStorage(async () => {
      const issuer = await this.prisma.issuer.findUnique({ where: { name: issuerName }, select: { revocationVersion: true, crlVersion: true } });
      return issuer !== null && issuer.revocationVersion > issuer.crlVersion;
    });
  }

  latest(issuerName: IssuerName): Promise<StoredCrl | undefined> {
    return guardStorage(async () => {
      const row = await this.prisma.crl.findFirst({
        where: { issuer: { name: issuerName } },
        orderBy: { crlNumber: 'desc' },
      });
      if (!row) return undefined;
      return {
        issuerName,
        crlNumber: row.crlNumber,
        thisUpdate: row.thisUpdate,
        nextUpdate: row.nextUpdate,
        entryCount: row.entryCount,
        der: new Uint8Array(row.der),
      };
    });
  }

  statusOf(issuerName: IssuerName, serialHex: string) {
    return guardStorage(async () => {
      const [row] = await this.sql.rows<{ revokedAt: Date | null; reason: string | null; notAfter: Date }>(STATUS_OF, [issuerName, serialHex]);
      if (!row) return { known: false as const };
      return {
        known: true as const,
        revokedAt: row.revokedAt ?? undefined,
        reason: (row.reason ?? undefined) as RevocationReasonName | undefined,
        notAfter: row.notAfter,
      };
    });
  }
}
