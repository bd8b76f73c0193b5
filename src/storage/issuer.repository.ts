import type { IssuerName } from '../domain/ca-hierarchy.ts';
import { isKeyAlgorithmName } from '../domain/key-algorithm.ts';
import type { AuditEntry, IssuerReader, IssuerRecord, IssuerWriter, NewIssuerRecord } from '../domain/ports.ts';
import { appendAuditEntries } from './audit-appender.ts';
import type { PrismaClient } from './generated/prisma/client.ts';
import { guardStorage, isUniqueViolation } from './storage-error.ts';

type IssuerRow = Awaited<ReturnType<PrismaClient['issuer']['findMany']>>[number] & { parent: { name: string } | null };

function toIssuerRecord(row: IssuerRow): IssuerRecord {
  if (!isKeyAlgorithmName(row.keyAlgorithm)) {
    throw new Error(`issuer ${row.name} has an unknown key algorithm ${row.keyAlgorithm}`);
  }
  return {
    id: row.id,
    name: row.name as IssuerName,
    kind: row.kind,
    environment: row.environment,
    parentName: (row.parent?.name as IssuerName | undefined) ?? undefined,
    subjectDn: row.subjectDn,
    keyAlgorithm: row.keyAlgorithm,
    keyRef: row.keyRef,
    fingerprintSha256: row.fingerprintSha256,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    certificateDer: new Uint8Array(row.certificateDer),
  };
}

/** Arbitrary but fixed key of the advisory lock held while a hierarchy is created. */
const HIERARCHY_CREATION_LOCK = 7_301_002;

export class PrismaIssuerRepository implements IssuerReader, IssuerWriter {
  constructor(private readonly prisma: PrismaClient) {}

  listIssuers(): Promise<IssuerRecord[]> {
    return guardStorage(async () => {
      const rows = await this.prisma.issuer.findMany({
        include: { parent: { select: { name: true } } },
        orderBy: { createdAt: 'asc' },
      });
      // Parents first: roots, then the rest.
      return rows.map(toIssuerRecord).sort((a, b) => Number(a.kind !== 'root') - Number(b.kind !== 'root'));
    });
  }

  createHierarchy(issuers: NewIssuerRecord[], audit: AuditEntry[]): Promise<'created' | 'exists'> {
    return guardStorage(async () => {
      try {
        return await this.prisma.$transaction(async (tx) => {
          await tx.$queryRaw`SELECT pg_advisory_xact_lock(${HIERARCHY_CREATION_LOCK}::bigint)::text AS locked`;
          if ((await tx.issuer.count()) > 0) return 'exists' as const;
          const idsByName = new Map<string, string>();
          for (const issuer of issuers) {
            const parentId = issuer.parentName ? idsByName.get(issuer.parentName) : undefined;
            if (issuer.parentName && !parentId) throw new Error(`parent ${issuer.parentName} must precede ${issuer.name}`);
            const row = await tx.issuer.create({
              data: {
                name: issuer.name,
                kind: issuer.kind,
                environment: issuer.environment,
                parentId: parentId ?? null,
                subjectDn: issuer.subjectDn,
                keyAlgorithm: issuer.keyAlgorithm,
                keyRef: issuer.keyRef,
                fingerprintSha256: issuer.fingerprintSha256,
                notBefore: issuer.notBefore,
                notAfter: issuer.notAfter,
                certificateDer: Buffer.from(issuer.certificateDer),
              },
            });
            idsByName.set(issuer.name, row.id);
            // A CA certificate is in the inventory too, filed under the issuer that signed it.
            await tx.certificate.create({
              data: {
                issuerId: parentId ?? row.id,
                serialHex: issuer.facts.serialHex,
                profile: issuer.kind === 'root' ? 'root-ca' : 'intermediate-ca',
                subjectDn: issuer.facts.subjectDn,
                commonName: issuer.facts.commonName ?? null,
                dnsNames: [],
                ipAddresses: [],
                uris: [],
                keyAlgorithm: issuer.keyAlgorithm,
                spkiSha256: issuer.facts.spkiSha256,
                fingerprintSha256: issuer.facts.fingerprintSha256,
                notBefore: issuer.facts.notBefore,
                notAfter: issuer.facts.notAfter,
                der: Buffer.from(issuer.facts.der),
                requestedBy: 'system',
              },
            });
          }
          await appendAuditEntries(tx, audit);
          return 'created' as const;
        });
      } catch (error) {
        if (isUniqueViolation(error)) return 'exists';
        throw error;
      }
    });
  }
}
