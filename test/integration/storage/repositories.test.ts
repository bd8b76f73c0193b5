import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { auditEventHash } from '../../../src/domain/audit-chain.ts';
import { loadOrCreateCaHierarchy } from '../../../src/app/ca-hierarchy.service.ts';
import type { AuditEntry } from '../../../src/domain/ports.ts';
import { PrismaCertificateRepository } from '../../../src/storage/certificate.repository.ts';
import { PrismaIssuerRepository } from '../../../src/storage/issuer.repository.ts';
import { PrismaServiceRepository } from '../../../src/storage/service.repository.ts';
import { PrismaTokenRepository } from '../../../src/storage/token.repository.ts';
import { createPrismaClient, type PrismaClient } from '../../../src/storage/prisma-client.ts';
import { MemoryKeyStore } from '../../support/memory-key-store.ts';
import { createMigratedTestDatabase } from '../../support/migrated-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

const clock = { now: () => new Date('2026-11-28T12:00:00Z') };
const random = { bytes: (n: number) => webcrypto.getRandomValues(new Uint8Array(n)) };

describe('storage repositories on real PostgreSQL', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  before(async () => {
    database = await createMigratedTestDatabase();
    prisma = createPrismaClient(database.url, { queryTimeoutSeconds: 5 });
  });
  after(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  it('two processes creating the hierarchy at once end with exactly one', async () => {
    // Both "replicas" share one key folder, as replicas of one CA must.
    const shared = new MemoryKeyStore();
    const stores = [new MemoryKeyStore(shared.keys), new MemoryKeyStore(shared.keys)];
    const results = await Promise.all(
      stores.map((keys) =>
        loadOrCreateCaHierarchy({ issuers: new PrismaIssuerRepository(prisma), keys, clock, random, publicHttpUrl: 'http://ca.test' }),
      ),
    );
    assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
    const [a, b] = results.map((r) => r.hierarchy.list().map((issuer) => issuer.record.fingerprintSha256).sort());
    assert.deepEqual(a, b);
    assert.equal(await prisma.issuer.count(), 4);
    // The loser's generated keys were discarded: only the four winning keys remain.
    assert.equal(shared.keys.size, 4);
    // CA certificates are in the inventory too.
    assert.equal(await prisma.certificate.count({ where: { profile: { in: ['root-ca', 'intermediate-ca'] } } }), 4);
  });

  it('serials are unique per issuer by constraint', async () => {
    const issuer = await prisma.issuer.findUniqueOrThrow({ where: { name: 'intermediate' } });
    const row = {
      issuerId: issuer.id,
      serialHex: '4abc',
      profile: 'peer',
      subjectDn: '',
      dnsNames: [],
      ipAddresses: [],
      uris: [],
      keyAlgorithm: 'ecdsa-p256',
      spkiSha256: 'a'.repeat(64),
      notBefore: clock.now(),
      notAfter: clock.now(),
      der: Buffer.from([1]),
    };
    await prisma.certificate.create({ data: { ...row, fingerprintSha256: 'f1' } });
    await assert.rejects(prisma.certificate.create({ data: { ...row, fingerprintSha256: 'f2' } }), (error: { code?: string }) => error.code === 'P2002');
  });

  it('the audit trail is a hash chain in commit order', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const entries: AuditEntry[] = [];
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        const entry: AuditEntry = { occurredAt: clock.now(), actor: 'system', action: 'test.event', targetType: 'test', targetId: String(n), details: { n } };
        entries.push(entry);
        await repository.recordIssued(
          {
            issuerName: 'intermediate',
            serviceName: undefined,
            profile: 'peer',
            keyAlgorithm: 'ecdsa-p256',
            requestedBy: 'system',
            facts: {
              serialHex: `5${n}`,
              subjectDn: '',
              commonName: undefined,
              sans: { dnsNames: [`s${n}.test`], ipAddresses: [], uris: [] },
              spkiSha256: 'b'.repeat(64),
              fingerprintSha256: `fp-${n}`,
              notBefore: clock.now(),
              notAfter: clock.now(),
              der: new Uint8Array([n]),
            },
          },
          entry,
        );
      }),
    );
    const events = await prisma.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    assert.ok(events.length >= 7, 'four ca.created events and three test events');
    let previous: string | null = null;
    for (const event of events) {
      assert.equal(event.prevHash, previous, `event ${event.seq} links to its predecessor`);
      const recomputed = auditEventHash(previous, {
        occurredAt: event.occurredAt,
        actor: event.actor,
        actorRole: event.actorRole ?? undefined,
        sourceAddress: event.sourceAddress ?? undefined,
        requestId: event.requestId ?? undefined,
        action: event.action,
        targetType: event.targetType,
        targetId: event.targetId ?? undefined,
        details: event.details as Record<string, unknown>,
      });
      assert.equal(event.hash, recomputed, `event ${event.seq} hash recomputes`);
      previous = event.hash;
    }
    assert.equal(await prisma.certificate.count({ where: { serialHex: { in: ['51', '52', '53'] } } }), 3);
  });

  it('a failed insert writes neither the certificate nor its audit event', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const before = await prisma.auditEvent.count();
    await assert.rejects(
      repository.recordIssued(
        {
          issuerName: 'intermediate',
          serviceName: 'no-such-service',
          profile: 'peer',
          keyAlgorithm: 'ecdsa-p256',
          requestedBy: 'system',
          facts: {
            serialHex: '77',
            subjectDn: '',
            commonName: undefined,
            sans: { dnsNames: [], ipAddresses: [], uris: [] },
            spkiSha256: 'c'.repeat(64),
            fingerprintSha256: 'fp-77',
            notBefore: clock.now(),
            notAfter: clock.now(),
            der: new Uint8Array([7]),
          },
        },
        { occurredAt: clock.now(), actor: 'system', action: 'certificate.issued', targetType: 'certificate', details: {} },
      ),
    );
    assert.equal(await prisma.auditEvent.count(), before);
    assert.equal(await prisma.certificate.count({ where: { serialHex: '77' } }), 0);
  });

  it('a bootstrap token is read with its service, as the service repository reads that service, disabled or not', async () => {
    const services = new PrismaServiceRepository(prisma);
    const tokens = new PrismaTokenRepository(prisma);
    const audit: AuditEntry = { occurredAt: clock.now(), actor: 'system', action: 'test', targetType: 'service', details: {} };
    await services.createService(
      { name: 'token-join', owner: 'kyc', contact: 'ops@kyc.internal', webhookUrl: undefined, policy: { dnsNames: ['*.kyc.internal'], ipAddresses: ['10.0.0.0/8'], uris: [] }, profiles: ['peer'] },
      audit,
    );
    const created = await tokens.createBootstrapToken(
      { serviceName: 'token-join', sans: ['a.kyc.internal'], tokenHash: 'h'.repeat(64), expiresAt: new Date('2026-11-29T12:00:00Z'), createdBy: 'system' },
      audit,
    );
    const read = await tokens.findBootstrapTokenByHash('h'.repeat(64));
    assert.ok(read);
    const { service, ...token } = read;
    assert.deepEqual(token, created);
    assert.deepEqual(service, await services.findService('token-join'));
    await services.updateService('token-join', { enabled: false, disabledAt: clock.now() }, audit);
    const afterDisabling = await tokens.findBootstrapTokenByHash('h'.repeat(64));
    assert.equal(afterDisabling?.service.enabled, false);
    assert.deepEqual(afterDisabling.service, await services.findService('token-join'));
    assert.equal(await tokens.findBootstrapTokenByHash('x'.repeat(64)), undefined);
  });

  it('lookups made at once share statements and each gets its own row, or none', async () => {
    const services = new PrismaServiceRepository(prisma);
    const tokens = new PrismaTokenRepository(prisma);
    const audit: AuditEntry = { occurredAt: clock.now(), actor: 'system', action: 'test', targetType: 'service', details: {} };
    const names = ['batch-a', 'batch-b', 'batch-c'];
    for (const name of names) {
      await services.createService(
        { name, owner: 'kyc', contact: undefined, webhookUrl: undefined, policy: { dnsNames: [`*.${name}.internal`], ipAddresses: [], uris: [] }, profiles: ['peer'] },
        audit,
      );
      await tokens.createBootstrapToken(
        { serviceName: name, sans: [], tokenHash: name.padEnd(64, '0'), expiresAt: new Date('2026-11-29T12:00:00Z'), createdBy: 'system' },
        audit,
      );
    }
    await tokens.createApiToken({ name: 'batch-admin', role: 'admin', tokenHash: 'batch-admin'.padEnd(64, '0'), expiresAt: undefined, createdBy: 'system' }, audit);
    const asked = [...names, 'batch-missing', 'batch-b'];
    const [read, bootstrap, api] = await Promise.all([
      Promise.all(asked.map((name) => services.findService(name))),
      Promise.all(asked.map((name) => tokens.findBootstrapTokenByHash(name.padEnd(64, '0')))),
      Promise.all(['batch-admin', 'batch-missing', 'batch-admin'].map((name) => tokens.findApiTokenByHash(name.padEnd(64, '0')))),
    ]);
    assert.deepEqual(read.map((service) => service?.name), ['batch-a', 'batch-b', 'batch-c', undefined, 'batch-b']);
    assert.deepEqual(bootstrap.map((token) => token?.serviceName), ['batch-a', 'batch-b', 'batch-c', undefined, 'batch-b']);
    assert.deepEqual(bootstrap.map((token) => token?.service.name), ['batch-a', 'batch-b', 'batch-c', undefined, 'batch-b']);
    assert.deepEqual(api.map((token) => token?.name), ['batch-admin', undefined, 'batch-admin']);
  });
});
