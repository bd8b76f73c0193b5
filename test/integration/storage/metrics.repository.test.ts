import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DomainError } from '../../../src/domain/errors.ts';
import { PrismaMetricsRepository } from '../../../src/storage/metrics.repository.ts';
import { createPrismaClient, type PrismaClient } from '../../../src/storage/prisma-client.ts';
import { createMigratedTestDatabase } from '../../support/migrated-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

const NOW = new Date('2026-11-28T12:00:00Z');
const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);

type Status = 'active' | 'superseded' | 'revoked' | 'expired';

const byKey = <T>(key: (row: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

describe('PrismaMetricsRepository on real PostgreSQL', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  let repository: PrismaMetricsRepository;
  const ids = { issuers: new Map<string, string>(), services: new Map<string, string>(), certificates: new Map<string, string>() };

  async function issuer(name: string, kind: 'root' | 'intermediate', environment: 'production' | 'test'): Promise<void> {
    const row = await prisma.issuer.create({
      data: {
        name,
        kind,
        environment,
        subjectDn: `CN=${name}`,
        keyAlgorithm: 'ecdsa-p256',
        keyRef: `keys/${name}`,
        fingerprintSha256: `issuer-${name}`,
        notBefore: at(-365 * DAY),
        notAfter: at(3650 * DAY),
        certificateDer: Buffer.from([0x30]),
      },
    });
    ids.issuers.set(name, row.id);
  }

  async function service(name: string): Promise<void> {
    const row = await prisma.service.create({ data: { name, owner: 'team', dnsNames: [], ipAddresses: [], uris: [], profiles: ['server'] } });
    ids.services.set(name, row.id);
  }

  async function certificate(serialHex: string, issuerName: string, serviceName: string | undefined, status: Status, notAfter: Date): Promise<void> {
    const issuerId = ids.issuers.get(issuerName);
    assert.ok(issuerId);
    const row = await prisma.certificate.create({
      data: {
        issuerId,
        serviceId: serviceName ? (ids.services.get(serviceName) ?? null) : null,
        serialHex,
        profile: serviceName ? 'server' : 'root-ca',
        subjectDn: '',
        dnsNames: [],
        ipAddresses: [],
        uris: [],
        keyAlgorithm: 'ecdsa-p256',
        spkiSha256: serialHex.padEnd(64, '0'),
        fingerprintSha256: `fp-${serialHex}`,
        notBefore: at(-30 * DAY),
        notAfter,
        status,
        der: Buffer.from([0x30]),
        ...(status === 'revoked' ? { revokedAt: at(-DAY), revocationReason: 'keyCompromise' as const } : {}),
        ...(status === 'superseded' ? { supersededAt: at(-DAY) } : {}),
      },
    });
    ids.certificates.set(serialHex, row.id);
  }

  async function alert(serialHex: string, threshold: string, state: 'open' | 'acknowledged' | 'resolved'): Promise<void> {
    const certificateId = ids.certificates.get(serialHex);
    assert.ok(certificateId);
    await prisma.alert.create({ data: { certificateId, threshold, state, flaggedAt: at(-HOUR) } });
  }

  async function notification(key: string, status: 'pending' | 'delivered' | 'dead'): Promise<void> {
    const recipientId = ids.services.get('alpha');
    assert.ok(recipientId);
    await prisma.notification.create({
      data: {
        recipientId,
        eventType: 'certificate.expiring',
        idempotencyKey: key,
        payload: { key },
        status,
        nextAttemptAt: NOW,
        ...(status === 'delivered' ? { deliveredAt: NOW } : {}),
      },
    });
  }

  before(async () => {
    database = await createMigratedTestDatabase();
    prisma = createPrismaClient(database.url, { queryTimeoutSeconds: 5 });
    repository = new PrismaMetricsRepository(prisma);

    await issuer('root', 'root', 'production');
    await issuer('intermediate', 'intermediate', 'production');
    // An issuer that signed nothing still gets its zero rows.
    await issuer('test-root', 'root', 'test');
    for (const name of ['alpha', 'beta', 'gamma', 'delta']) await service(name);

    await certificate('a1', 'intermediate', 'alpha', 'active', at(10 * DAY));
    await certificate('a2', 'intermediate', 'alpha', 'active', at(3 * DAY)); // alpha's soonest
    await certificate('a3', 'intermediate', 'alpha', 'active', at(-HOUR)); // stored active, derived expired
    await certificate('b1', 'intermediate', 'beta', 'active', at(30 * DAY)); // beta's soonest (the rest do not count)
    await certificate('b2', 'intermediate', 'beta', 'superseded', at(20 * DAY));
    await certificate('b3', 'intermediate', 'beta', 'revoked', at(DAY));
    await certificate('c1', 'intermediate', 'gamma', 'expired', at(-5 * DAY));
    await certificate('c2', 'intermediate', 'gamma', 'active', NOW); // notAfter == now: expired, so gamma has no soonest
    await certificate('ca', 'root', undefined, 'active', at(3650 * DAY)); // a CA certificate: no service

    await alert('a2', '7d', 'open');
    await alert('a2', '14d', 'open');
    await alert('a3', '7d', 'open');
    await alert('a3', '1d', 'open');
    await alert('b1', '14d', 'acknowledged');
    await alert('a1', '30d', 'resolved');

    await notification('n1', 'pending');
    await notification('n2', 'pending');
    await notification('n3', 'dead');
  });
  after(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  it('counts certificates per derived status and issuer, zeros included, an active one past notAfter as expired', async () => {
    const rows = await repository.certificatesByStatus(NOW);
    const expected = [
      { issuer: 'intermediate', status: 'active', count: 3 }, // a1, a2, b1
      { issuer: 'intermediate', status: 'expired', count: 3 }, // a3 (active past notAfter), c1, c2 (notAfter == now)
      { issuer: 'intermediate', status: 'revoked', count: 1 },
      { issuer: 'intermediate', status: 'superseded', count: 1 },
      { issuer: 'root', status: 'active', count: 1 },
      { issuer: 'root', status: 'expired', count: 0 },
      { issuer: 'root', status: 'revoked', count: 0 },
      { issuer: 'root', status: 'superseded', count: 0 },
      { issuer: 'test-root', status: 'active', count: 0 },
      { issuer: 'test-root', status: 'expired', count: 0 },
      { issuer: 'test-root', status: 'revoked', count: 0 },
      { issuer: 'test-root', status: 'superseded', count: 0 },
    ];
    const key = (row: { issuer: string; status: string }): string => `${row.issuer}/${row.status}`;
    assert.deepEqual([...rows].sort(byKey(key)), expected.sort(byKey(key)));
    for (const row of rows) assert.equal(typeof row.count, 'number');
  });

  it('derives statuses at the instant asked for', async () => {
    // Eleven days on, alpha's a1 and a2 have lapsed too; nothing is re-read from a cache.
    const rows = await repository.certificatesByStatus(at(11 * DAY));
    const intermediate = Object.fromEntries(rows.filter((row) => row.issuer === 'intermediate').map((row) => [row.status, row.count]));
    assert.deepEqual(intermediate, { active: 1, expired: 5, revoked: 1, superseded: 1 });
  });

  it('reports each service’s soonest expiry among its active, unexpired certificates', async () => {
    const rows = await repository.soonestExpiryByService(NOW);
    assert.deepEqual(
      [...rows].sort(byKey((row) => row.service)),
      [
        { service: 'alpha', secondsLeft: 3 * 86_400 },
        { service: 'beta', secondsLeft: 30 * 86_400 },
      ],
    );
  });

  it('counts open alerts per threshold, ignoring acknowledged and resolved ones', async () => {
    const rows = await repository.openAlertsByThreshold();
    assert.deepEqual(
      [...rows].sort(byKey((row) => row.threshold)),
      [
        { threshold: '14d', count: 1 },
        { threshold: '1d', count: 1 },
        { threshold: '7d', count: 2 },
      ],
    );
  });

  it('counts notifications per status, every status present', async () => {
    const rows = await repository.notificationsByStatus();
    assert.deepEqual(
      [...rows].sort(byKey((row) => row.status)),
      [
        { status: 'dead', count: 1 },
        { status: 'delivered', count: 0 },
        { status: 'pending', count: 2 },
      ],
    );
  });

  it('turns an unreachable database into DomainError unavailable', async () => {
    const unreachable = createPrismaClient('postgresql://postgres@127.0.0.1:1/nothing', { queryTimeoutSeconds: 2 });
    try {
      const down = new PrismaMetricsRepository(unreachable);
      for (const query of [
        () => down.certificatesByStatus(NOW),
        () => down.soonestExpiryByService(NOW),
        () => down.openAlertsByThreshold(),
        () => down.notificationsByStatus(),
      ]) {
        await assert.rejects(query(), (error: unknown) => error instanceof DomainError && error.kind === 'unavailable');
      }
    } finally {
      await unreachable.$disconnect();
    }
  });
});
