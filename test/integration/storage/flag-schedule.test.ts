import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateCaHierarchy } from '../../../src/app/ca-hierarchy.service.ts';
import { ExpiryScanService } from '../../../src/app/expiry-scan.service.ts';
import { certificateEventNotifications } from '../../../src/app/lifecycle-events.ts';
import { DEFAULT_PROFILES } from '../../../src/domain/default-profiles.ts';
import type { AuditEntry, CertificateFlags, LifecycleStore, NewCertificateRecord } from '../../../src/domain/ports.ts';
import { ProfileCatalog } from '../../../src/domain/profile-catalog.ts';
import type { CertificateFacts } from '../../../src/domain/x509/certificate-facts.ts';
import { PrismaCertificateRepository } from '../../../src/storage/certificate.repository.ts';
import { writeIssuanceGroup } from '../../../src/storage/issuance-group-writer.ts';
import { PrismaIssuerRepository } from '../../../src/storage/issuer.repository.ts';
import { PrismaLifecycleRepository } from '../../../src/storage/lifecycle.repository.ts';
import { createPrismaClient, sqlPoolOf, type PrismaClient } from '../../../src/storage/prisma-client.ts';
import { PrismaRevocationRepository } from '../../../src/storage/revocation.repository.ts';
import { MemoryKeyStore } from '../../support/memory-key-store.ts';
import { createMigratedTestDatabase } from '../../support/migrated-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

/*
 * The expiry scan's schedule (certificate_flag_schedule) on real PostgreSQL: written with the
 * certificate on both issuance paths, read by dueForFlagging, moved or dropped by recordFlags,
 * and dropped when the certificate is revoked or superseded, so the scan never looks at it again;
 * and the scan's writers, whose transactions run side by side; and the events of the flags'
 * notifications, which the outbox builds from their alerts.
 */

const NOW = new Date('2026-11-28T12:00:00.000Z');
const FIRST_FLAG = new Date('2026-12-20T12:00:00.000Z');
const LATER_FLAG = new Date('2027-01-10T12:00:00.000Z');
const clock = { now: () => NOW };
const random = { bytes: (n: number) => webcrypto.getRandomValues(new Uint8Array(n)) };
const SERVICE = 'schedule-svc';

function record(label: string, nextFlagAt: Date | null, notAfter = new Date('2027-02-28T12:00:00.000Z')): NewCertificateRecord {
  const facts: CertificateFacts = {
    serialHex: `5${randomBytes(15).toString('hex')}`,
    subjectDn: '',
    commonName: undefined,
    sans: { dnsNames: [`${label}.schedule.test`], ipAddresses: [], uris: [] },
    spkiSha256: randomBytes(32).toString('hex'),
    fingerprintSha256: randomBytes(32).toString('hex'),
    notBefore: NOW,
    notAfter,
    der: randomBytes(40),
  };
  return { issuerName: 'intermediate', serviceName: SERVICE, profile: 'peer', keyAlgorithm: 'ecdsa-p256', requestedBy: 'system', facts, nextFlagAt };
}

function issuedAudit(certificate: NewCertificateRecord): AuditEntry {
  return { occurredAt: NOW, actor: 'system', action: 'certificate.issued', targetType: 'certificate', targetId: certificate.facts.serialHex, details: {} };
}

describe('the expiry flag schedule on real PostgreSQL', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  let certificates: PrismaCertificateRepository;
  let lifecycle: PrismaLifecycleRepository;

  async function idOf(certificate: NewCertificateRecord): Promise<string> {
    const row = await prisma.certificate.findFirstOrThrow({ where: { serialHex: certificate.facts.serialHex }, select: { id: true } });
    return row.id;
  }

  async function scheduledAt(certificateId: string): Promise<Date | undefined> {
    const row = await prisma.certificateFlagSchedule.findUnique({ where: { certificateId } });
    return row?.nextFlagAt;
  }

  async function dueSerials(at: Date): Promise<string[]> {
    return (await lifecycle.dueForFlagging(at, 100)).map((due) => due.serialHex).sort();
  }

  before(async () => {
    database = await createMigratedTestDatabase();
    prisma = createPrismaClient(database.url, { queryTimeoutSeconds: 5 });
    await loadOrCreateCaHierarchy({ issuers: new PrismaIssuerRepository(prisma), keys: new MemoryKeyStore(), clock, random, publicHttpUrl: 'http://ca.test' });
    await prisma.service.create({ data: { name: SERVICE, owner: 'test', dnsNames: ['*.schedule.test'], ipAddresses: [], uris: [], profiles: ['peer'] } });
    certificates = new PrismaCertificateRepository(prisma);
    lifecycle = new PrismaLifecycleRepository(prisma);
  });
  after(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  it('both issuance paths schedule a watched certificate, and only a watched one; the scan reads what is due with its names', async () => {
    const grouped = record('grouped', FIRST_FLAG);
    const single = record('single', FIRST_FLAG);
    const unwatched = record('unwatched', null);
    const outcomes = await writeIssuanceGroup(sqlPoolOf(prisma), [
      { bootstrapTokenId: undefined, keySpkiSha256: undefined, now: NOW, sign: async () => grouped.facts, record: () => ({ certificate: grouped, audit: [issuedAudit(grouped)] }) },
    ]);
    assert.equal(outcomes[0]?.ok, true);
    await certificates.recordIssued(single, issuedAudit(single));
    await certificates.recordIssued(unwatched, issuedAudit(unwatched));

    assert.deepEqual(await scheduledAt(await idOf(grouped)), FIRST_FLAG);
    assert.deepEqual(await scheduledAt(await idOf(single)), FIRST_FLAG);
    assert.equal(await scheduledAt(await idOf(unwatched)), undefined);

    assert.deepEqual(await dueSerials(new Date(FIRST_FLAG.getTime() - 1)), []);
    assert.deepEqual(await dueSerials(FIRST_FLAG), [grouped.facts.serialHex, single.facts.serialHex].sort());
    const [due] = await lifecycle.dueForFlagging(FIRST_FLAG, 1);
    assert.equal(due?.issuerName, 'intermediate');
    assert.equal(due?.serviceName, SERVICE);
    assert.equal(due?.profile, 'peer');

    // A scan moves one to its next threshold and drops the other (nothing left to flag).
    await lifecycle.recordFlags([
      { certificateId: await idOf(grouped), flags: [], nextFlagAt: LATER_FLAG },
      { certificateId: await idOf(single), flags: [], nextFlagAt: null },
    ]);
    assert.deepEqual(await scheduledAt(await idOf(grouped)), LATER_FLAG);
    assert.equal(await scheduledAt(await idOf(single)), undefined);
    assert.deepEqual(await dueSerials(FIRST_FLAG), []);
    assert.deepEqual(await dueSerials(LATER_FLAG), [grouped.facts.serialHex]);
  });

  it('revoking or superseding a certificate takes it off the schedule', async () => {
    const revoked = record('revoked', FIRST_FLAG);
    const superseded = record('superseded', FIRST_FLAG);
    await certificates.recordIssued(revoked, issuedAudit(revoked));
    await certificates.recordIssued(superseded, issuedAudit(superseded));
    const revokedId = await idOf(revoked);
    const supersededId = await idOf(superseded);

    await new PrismaRevocationRepository(prisma).inTransaction((tx) => tx.markRevoked(revokedId, { revokedAt: NOW, reason: 'keyCompromise', invalidityDate: undefined }));
    assert.equal(await scheduledAt(revokedId), undefined);

    assert.equal(await certificates.inTransaction((tx) => tx.supersede(supersededId, NOW)), true);
    assert.equal(await scheduledAt(supersededId), undefined);

    assert.ok(!(await dueSerials(FIRST_FLAG)).some((serial) => serial === revoked.facts.serialHex || serial === superseded.facts.serialHex));
  });

  it('a scan writes its due certificates in two transactions side by side; a writer that fails leaves its own due, and the next scan flags them once', async () => {
    // 53 days of life: on 8 January the 14d and 75 % thresholds have been crossed (7d comes on the 13th).
    const issued = Array.from({ length: 5 }, (_, index) => record(`writer-${index}`, FIRST_FLAG, new Date('2027-01-20T12:00:00.000Z')));
    for (const certificate of issued) await certificates.recordIssued(certificate, issuedAudit(certificate));
    const ids = await Promise.all(issued.map(idOf));
    const scanAt = new Date('2027-01-08T12:00:00.000Z');

    // The real repository, watched: which certificates each write holds, how many run at once,
    // and a fault in the first write of the first scan.
    const writes: string[][] = [];
    let running = 0;
    let mostAtOnce = 0;
    let failFirstWrite = true;
    const watched: LifecycleStore = {
      dueForFlagging: (now, limit) => lifecycle.dueForFlagging(now, limit),
      markExpired: (now, limit) => lifecycle.markExpired(now, limit),
      recordFlags: async (batch: CertificateFlags[]) => {
        writes.push(batch.map((flags) => flags.certificateId));
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        try {
          if (failFirstWrite && writes.length === 1) {
            await new Promise(setImmediate); // fails while the other write is still in PostgreSQL
            throw new Error('injected: the connection of the first writer broke');
          }
          return await lifecycle.recordFlags(batch);
        } finally {
          running -= 1;
        }
      },
    };
    const profiles = ProfileCatalog.fromConfig(DEFAULT_PROFILES, () => 10 * 365 * 86_400);
    const scanner = new ExpiryScanService(watched, lifecycle, profiles, { now: () => scanAt });
    /** Each certificate's flags as `<certificate id> <threshold> <event types of its notifications>`. */
    const flagsOf = async (certificateIds: string[]) =>
      (
        await prisma.alert.findMany({
          where: { certificateId: { in: certificateIds } },
          select: { certificateId: true, threshold: true, notifications: { select: { eventType: true } } },
        })
      )
        .map((alert) => `${alert.certificateId} ${alert.threshold} ${alert.notifications.map((n) => n.eventType).join(',')}`)
        .sort();
    const expectedFlags = (certificateIds: string[]) =>
      certificateIds.flatMap((id) => [`${id} 14d certificate.expiring`, `${id} 75% certificate.expiring`]).sort();

    await assert.rejects(scanner.scan(), /injected/);
    assert.equal(mostAtOnce, 2);
    assert.equal(running, 0);
    const [failed = [], written = []] = writes;
    assert.deepEqual([...failed, ...written].sort(), [...ids].sort());
    assert.deepEqual([failed.length, written.length], [3, 2]);
    // The scan failed only once the other writer had committed: its certificates are flagged.
    assert.deepEqual(await flagsOf(written), expectedFlags(written));
    assert.deepEqual(await flagsOf(failed), []);
    assert.deepEqual((await lifecycle.dueForFlagging(scanAt, 100)).map((due) => due.id).sort(), [...failed].sort());

    failFirstWrite = false;
    assert.equal(await scanner.scan(), 2 * failed.length);
    assert.deepEqual(await flagsOf(ids), expectedFlags(ids));
    assert.deepEqual(await lifecycle.dueForFlagging(scanAt, 100), []);
  });

  it("a flag's notifications store no event; the outbox builds the one a stored event would be, and their alert cannot be deleted", async () => {
    const RELYING = 'relies-on-schedule-svc';
    const relying = await prisma.service.create({ data: { name: RELYING, owner: 'test', dnsNames: ['*.relying.test'], ipAddresses: [], uris: [], profiles: ['peer'] } });
    const owner = await prisma.service.findUniqueOrThrow({ where: { name: SERVICE } });
    await prisma.serviceDependency.create({ data: { serviceId: relying.id, reliesOnId: owner.id } });
    try {
      const certificate = record('events', FIRST_FLAG, new Date('2027-01-20T12:00:00.000Z'));
      await certificates.recordIssued(certificate, issuedAudit(certificate));
      const id = await idOf(certificate);
      const scanAt = new Date('2027-01-08T12:00:00.000Z');
      const profiles = ProfileCatalog.fromConfig(DEFAULT_PROFILES, () => 10 * 365 * 86_400);
      assert.equal(await new ExpiryScanService(lifecycle, lifecycle, profiles, { now: () => scanAt }).scan(), 2);

      const rows = await prisma.notification.findMany({ where: { alert: { certificateId: id } }, select: { payload: true } });
      assert.equal(rows.length, 4);
      assert.ok(rows.every((row) => row.payload === null));

      // The events as the webhook contract states them, written out here rather than built by the code under test.
      const event = (threshold: string, recipient: string) => ({
        type: 'certificate.expiring',
        occurredAt: '2027-01-08T12:00:00.000Z',
        service: SERVICE,
        serial: certificate.facts.serialHex,
        issuer: 'intermediate',
        profile: 'peer',
        notAfter: '2027-01-20T12:00:00.000Z',
        threshold,
        daysLeft: 12,
        recipient,
        relationship: recipient === SERVICE ? 'owner' : 'relies-on',
      });
      const expected = ['14d', '75%'].flatMap((threshold) => [event(threshold, SERVICE), event(threshold, RELYING)]);
      const withoutIds = (events: Record<string, unknown>[]) =>
        events.map(({ id: _id, ...rest }) => rest).sort((a, b) => `${String(a.threshold)} ${String(a.recipient)}`.localeCompare(`${String(b.threshold)} ${String(b.recipient)}`));
      // The ids are the idempotency keys the scan wrote, and those it would have stored before.
      const storedIds = ['14d', '75%']
        .flatMap((threshold) => certificateEventNotifications('certificate.expiring', { serialHex: certificate.facts.serialHex, serviceName: SERVICE, issuerName: 'intermediate', profile: 'peer', notAfter: certificate.facts.notAfter }, [RELYING], { threshold, occurredAt: scanAt }))
        .map((notification) => notification.idempotencyKey)
        .sort();
      const listed = (await lifecycle.listNotifications({ limit: 100 })).filter((n) => n.payload.serial === certificate.facts.serialHex);
      assert.deepEqual(withoutIds(listed.map((n) => n.payload)), withoutIds(expected));
      assert.deepEqual(listed.map((n) => n.idempotencyKey).sort(), storedIds);
      assert.deepEqual(listed.map((n) => n.payload.id).sort(), storedIds);
      const claimed = (await lifecycle.claimDue(scanAt, 100, new Date(scanAt.getTime() + 60_000))).filter((n) => n.payload.serial === certificate.facts.serialHex);
      assert.deepEqual(withoutIds(claimed.map((n) => n.payload)), withoutIds(expected));
      assert.deepEqual(claimed.map((n) => n.payload.id).sort(), storedIds);
      assert.deepEqual(claimed.map((n) => n.recipientService).sort(), [RELYING, RELYING, SERVICE, SERVICE]);

      await assert.rejects(prisma.alert.deleteMany({ where: { certificateId: id } }));
      assert.equal(await prisma.notification.count({ where: { alert: { certificateId: id } } }), 4);
    } finally {
      await prisma.serviceDependency.deleteMany({ where: { serviceId: relying.id } });
    }
  });
});
