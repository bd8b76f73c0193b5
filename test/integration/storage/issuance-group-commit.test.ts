import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateCaHierarchy } from '../../../src/app/ca-hierarchy.service.ts';
import { AuditService } from '../../../src/app/audit.service.ts';
import type { AuditEntry, IssuanceCommitOutcome, PendingIssuance } from '../../../src/domain/ports.ts';
import type { CertificateFacts } from '../../../src/domain/x509/certificate-facts.ts';
import { PrismaAuditRepository } from '../../../src/storage/audit.repository.ts';
import { PrismaCertificateRepository } from '../../../src/storage/certificate.repository.ts';
import { openLoneIssuance, writeIssuanceGroup } from '../../../src/storage/issuance-group-writer.ts';
import { PrismaIssuerRepository } from '../../../src/storage/issuer.repository.ts';
import { PrismaRevocationRepository } from '../../../src/storage/revocation.repository.ts';
import { createPrismaClient, sqlPoolOf, type PrismaClient } from '../../../src/storage/prisma-client.ts';
import { MemoryKeyStore } from '../../support/memory-key-store.ts';
import { createMigratedTestDatabase } from '../../support/migrated-database.ts';
import type { TestDatabase } from '../../support/test-database.ts';

/*
 * Group commit of issuances on real PostgreSQL: several requests' tokens, certificates and audit
 * entries in one transaction, with each request keeping its own answer.
 */

const NOW = new Date('2026-11-28T12:00:00.000Z');
const clock = { now: () => NOW };
const random = { bytes: (n: number) => webcrypto.getRandomValues(new Uint8Array(n)) };

/** A stand-in certificate: the storage layer only stores what the domain signed. */
function factsFor(label: string): CertificateFacts {
  const serialHex = `7${randomBytes(15).toString('hex')}`;
  return {
    serialHex,
    subjectDn: '',
    commonName: undefined,
    sans: { dnsNames: [`${label}.group.test`], ipAddresses: ['10.0.0.1'], uris: [] },
    spkiSha256: randomBytes(32).toString('hex'),
    fingerprintSha256: randomBytes(32).toString('hex'),
    notBefore: NOW,
    notAfter: new Date(NOW.getTime() + 86_400_000),
    der: randomBytes(40),
  };
}

interface Probe {
  pending: PendingIssuance;
  signed: number;
  /** Each `whileCommitting` call: its facts, and whether the probe's outcome had settled by then (`settled`, set by the test). */
  told: { facts: CertificateFacts; afterTheOutcome: boolean }[];
  settled: boolean;
}

/** `outcome`, marking `probe` settled as it settles. */
function settling<T>(probe: Probe, outcome: Promise<T>): Promise<T> {
  return outcome.finally(() => {
    probe.settled = true;
  });
}

function pendingIssuance(
  label: string,
  bootstrapTokenId: string | undefined,
  options: { serviceName?: string; failSigning?: boolean; keySpkiSha256?: string; throwWhileCommitting?: boolean } = {},
): Probe {
  const probe: Probe = {
    signed: 0,
    told: [],
    settled: false,
    pending: {
      bootstrapTokenId,
      now: NOW,
      keySpkiSha256: options.keySpkiSha256,
      sign: async () => {
        probe.signed += 1;
        if (options.failSigning) throw new Error(`signing ${label} failed`);
        return factsFor(label);
      },
      record: (facts) => ({
        certificate: { issuerName: 'intermediate', serviceName: options.serviceName ?? 'group-svc', profile: 'peer', keyAlgorithm: 'ecdsa-p256', requestedBy: 'system', facts, nextFlagAt: facts.notAfter },
        audit: [{ occurredAt: NOW, actor: 'system', action: 'certificate.issued', targetType: 'certificate', targetId: facts.serialHex, details: { label } } satisfies AuditEntry],
      }),
      whileCommitting: (facts) => {
        probe.told.push({ facts, afterTheOutcome: probe.settled });
        if (options.throwWhileCommitting) throw new Error(`preparing ${label} failed`);
      },
    },
  };
  return probe;
}

describe('group commit of issuances on real PostgreSQL', () => {
  let database: TestDatabase;
  let prisma: PrismaClient;
  let serviceId: string;

  async function token(expiresAt = new Date(NOW.getTime() + 600_000)): Promise<string> {
    const row = await prisma.bootstrapToken.create({ data: { serviceId, tokenHash: randomBytes(32).toString('hex'), sans: [], expiresAt } });
    return row.id;
  }

  before(async () => {
    database = await createMigratedTestDatabase();
    prisma = createPrismaClient(database.url, { queryTimeoutSeconds: 5 });
    await loadOrCreateCaHierarchy({ issuers: new PrismaIssuerRepository(prisma), keys: new MemoryKeyStore(), clock, random, publicHttpUrl: 'http://ca.test' });
    const service = await prisma.service.create({ data: { name: 'group-svc', owner: 'test', dnsNames: ['*.group.test'], ipAddresses: [], uris: [], profiles: ['peer'] } });
    serviceId = service.id;
  });
  after(async () => {
    await prisma.$disconnect();
    await database.drop();
  });

  it('one transaction: usable tokens commit, a duplicate, a used and an expired token get "unusable" and nothing is signed for them', async () => {
    const shared = await token();
    const used = await token();
    await prisma.bootstrapToken.update({ where: { id: used }, data: { usedAt: NOW } });
    const expired = await token(new Date(NOW.getTime() - 1));
    const fresh = await token();
    const probes = [
      pendingIssuance('a', shared),
      pendingIssuance('b', shared),
      pendingIssuance('c', used),
      pendingIssuance('d', expired),
      pendingIssuance('e', undefined),
      pendingIssuance('f', fresh),
    ];
    const outcomes = await writeIssuanceGroup(
      sqlPoolOf(prisma),
      probes.map((p) => p.pending),
    );
    const committed = outcomes.map((outcome) => (outcome.ok ? outcome.value.committed : 'error'));
    assert.deepEqual(committed, [true, false, false, false, true, true]);
    assert.deepEqual(
      probes.map((p) => p.signed),
      [1, 0, 0, 0, 1, 1],
      'only requests whose token was consumed are signed',
    );
    const serials = outcomes.flatMap((outcome) => (outcome.ok && outcome.value.committed ? [outcome.value.facts.serialHex] : []));
    const rows = await prisma.certificate.findMany({ where: { serialHex: { in: serials } }, include: { bootstrapToken: true, service: true } });
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.service?.name, 'group-svc');
      assert.deepEqual(row.ipAddresses, ['10.0.0.1']);
      assert.equal(row.der.length, 40);
      assert.equal(row.status, 'active');
    }
    const linked = await prisma.bootstrapToken.findMany({ where: { id: { in: [shared, fresh] } } });
    assert.ok(linked.every((t) => t.usedAt?.getTime() === NOW.getTime() && t.certificateId !== null), 'consumed tokens point at their certificate');
    assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: expired } })).usedAt, null, 'an expired token stays unused');
    const audited = await prisma.auditEvent.findMany({ where: { targetId: { in: serials } } });
    assert.equal(audited.length, 3);
    assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
  });

  it('a failure in a group rolls it back; the queue then writes each issuance alone, so only the bad one fails', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const tokens = await Promise.all([token(), token(), token(), token()]);
    const probes = tokens.map((id, index) => pendingIssuance(`g${index}`, id, { failSigning: index === 2 }));
    // Submitted together: the first goes alone at once, the other three wait and form one group.
    const results = await Promise.allSettled(probes.map((p) => repository.commitIssuance(p.pending)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok(results.every((r) => r.status === 'rejected' || (r.value as IssuanceCommitOutcome).committed));
    const rows = await prisma.bootstrapToken.findMany({ where: { id: { in: tokens } }, orderBy: { createdAt: 'asc' } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    assert.equal(byId.get(tokens[2] ?? '')?.usedAt, null, "the failed request's token was not consumed");
    for (const index of [0, 1, 3]) assert.notEqual(byId.get(tokens[index] ?? '')?.certificateId ?? null, null);
    assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
  });

  it('whileCommitting: each signed issuance hears its facts once, before its outcome; a refused one hears nothing; a throw changes nothing', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const [first, second, third] = await Promise.all([token(), token(), token()]);
    const used = await token();
    await prisma.bootstrapToken.update({ where: { id: used }, data: { usedAt: NOW } });
    const probes = [
      pendingIssuance('w0', first),
      pendingIssuance('w1', second, { throwWhileCommitting: true }),
      pendingIssuance('w2', used),
      pendingIssuance('w3', third),
    ];
    // The first goes alone at once, the other three wait and form one group.
    const outcomes = await Promise.all(probes.map((probe) => settling(probe, repository.commitIssuance(probe.pending))));
    assert.deepEqual(
      outcomes.map((o) => o.committed),
      [true, true, false, true],
    );
    assert.deepEqual(probes[2]?.told, [], 'refused before signing: nothing to prepare');
    for (const index of [0, 1, 3]) {
      const outcome = outcomes[index];
      assert.equal(probes[index]?.told.length, 1);
      assert.equal(probes[index]?.told[0]?.afterTheOutcome, false, 'told while the outcome was still pending');
      assert.equal(probes[index]?.told[0]?.facts, outcome?.committed ? outcome.facts : undefined, 'told the facts that committed');
    }
    const stored = await prisma.certificate.findMany({ where: { serialHex: { in: outcomes.flatMap((o) => (o.committed ? [o.facts.serialHex] : [])) } } });
    assert.equal(stored.length, 3, 'the throw of w1 changed nothing');
    assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
  });

  it('whileCommitting in a group that fails after sending its records: told again when retried alone, with the facts that commit', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const [first, second, third] = await Promise.all([token(), token(), token()]);
    const probes = [pendingIssuance('r0', first), pendingIssuance('r1', second), pendingIssuance('r2', third, { serviceName: 'no-such-service' })];
    // r0 goes alone; r1 and r2 form a group whose INSERT fails on r2's unknown service.
    const results = await Promise.allSettled(probes.map((probe) => settling(probe, repository.commitIssuance(probe.pending))));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
    const retried = probes[1];
    const outcome = results[1]?.status === 'fulfilled' ? results[1].value : undefined;
    assert.ok(outcome?.committed);
    assert.equal(retried?.told.length, 2, 'told in the failed group, then alone');
    assert.notEqual(retried.told[0]?.facts, retried.told[1]?.facts);
    assert.equal(retried.told[1]?.facts, outcome.facts, 'the last facts told are the ones that committed');
    assert.ok(retried.told.every((t) => !t.afterTheOutcome));
  });

  it('a blocked key is refused in the group: its token stays unused and nothing is signed, while the same token with another key commits', async () => {
    const blockedKey = randomBytes(32).toString('hex');
    await prisma.blockedKey.create({ data: { spkiSha256: blockedKey, reason: 'keyCompromise', blockedAt: NOW, blockedBy: 'test' } });
    const kept = await token();
    const shared = await token();
    const probes = [
      pendingIssuance('k1', kept, { keySpkiSha256: blockedKey }),
      pendingIssuance('k2', shared, { keySpkiSha256: blockedKey }),
      pendingIssuance('k3', shared, { keySpkiSha256: randomBytes(32).toString('hex') }),
      pendingIssuance('k4', undefined, { keySpkiSha256: blockedKey }),
      pendingIssuance('k5', undefined, { keySpkiSha256: randomBytes(32).toString('hex') }),
    ];
    const outcomes = await writeIssuanceGroup(
      sqlPoolOf(prisma),
      probes.map((p) => p.pending),
    );
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.ok ? (outcome.value.committed ? 'committed' : outcome.value.reason) : 'error')),
      ['key-blocked', 'key-blocked', 'committed', 'key-blocked', 'committed'],
    );
    assert.deepEqual(
      probes.map((p) => p.signed),
      [0, 0, 1, 0, 1],
    );
    assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept } })).usedAt, null, 'a refused request keeps its token');
    assert.notEqual((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: shared } })).certificateId, null);
  });

  it('an unknown service fails the group, and alone it is a not_found', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const before = await prisma.certificate.count();
    // COMMIT is sent with the insert: the insert itself must fail, or the valid half would commit.
    const good = await token();
    const group = [pendingIssuance('u1', good), pendingIssuance('u2', undefined, { serviceName: 'no-such-service' })];
    await assert.rejects(
      writeIssuanceGroup(
        sqlPoolOf(prisma),
        group.map((p) => p.pending),
      ),
      (error: { kind?: string; message?: string }) => error.kind === 'not_found' && /no service named group-svc, no-such-service/.test(error.message ?? ''),
    );
    assert.equal(await prisma.certificate.count(), before, 'nothing of the group was committed');
    assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: good } })).usedAt, null, 'its token was not consumed');
    await assert.rejects(repository.commitIssuance(pendingIssuance('x', undefined, { serviceName: 'no-such-service' }).pending), (error: { kind?: string }) => error.kind === 'not_found');
    assert.equal(await prisma.certificate.count(), before);
  });

  it('two hundred concurrent issuances: every one committed exactly once and the chain verifies', async () => {
    const repository = new PrismaCertificateRepository(prisma);
    const tokens = await Promise.all(Array.from({ length: 200 }, () => token()));
    const auditBefore = await prisma.auditEvent.count();
    const outcomes = await Promise.all(tokens.map((id, index) => repository.commitIssuance(pendingIssuance(`c${index}`, id).pending)));
    assert.ok(outcomes.every((o) => o.committed));
    assert.equal(await prisma.bootstrapToken.count({ where: { id: { in: tokens }, certificateId: { not: null } } }), 200);
    assert.equal(await prisma.auditEvent.count(), auditBefore + 200);
    assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
  });
  it('a service disabled while a group consumes one of its tokens: both finish, no deadlock (tokens are locked before the audit chain, as revocation does)', async () => {
    await prisma.service.create({ data: { name: 'dl-svc', owner: 'test', dnsNames: ['*.group.test'], ipAddresses: [], uris: [], profiles: ['peer'] } });
    const dlService = await prisma.service.findUniqueOrThrow({ where: { name: 'dl-svc' } });
    const tokenId = (await prisma.bootstrapToken.create({ data: { serviceId: dlService.id, tokenHash: randomBytes(32).toString('hex'), sans: [], expiresAt: new Date(NOW.getTime() + 600_000) } })).id;
    let group: Promise<unknown> | undefined;
    // The revocation locks the service's unused tokens, then, while the group is waiting on a lock,
    // appends to the audit chain: the order in which a group taking the chain's lock first deadlocks.
    await new PrismaRevocationRepository(prisma).inTransaction(async (unit) => {
      assert.equal(await unit.disableService('dl-svc', NOW), true);
      assert.equal(await unit.revokeBootstrapTokens('dl-svc', NOW), 1);
      group = writeIssuanceGroup(sqlPoolOf(prisma), [pendingIssuance('dl', tokenId, { serviceName: 'dl-svc' }).pending]);
      await waitForABackendWaitingOnALock();
      await unit.audit([{ occurredAt: NOW, actor: 'security', action: 'service.disabled', targetType: 'service', targetId: 'dl-svc', details: {} }]);
    });
    const outcomes = (await group) as { ok: boolean; value?: IssuanceCommitOutcome }[];
    assert.deepEqual(
      outcomes.map((outcome) => outcome.ok && outcome.value),
      [{ committed: false, reason: 'bootstrap-token-unusable' }],
      'the token was revoked first: the group consumes nothing',
    );
    assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: tokenId } })).usedAt, null);
    assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
  });

  describe('an issuance opened ahead of its authentication (openIssuance)', () => {
    /** A bootstrap token, with the hash a request presenting it claims. */
    async function claimedToken(): Promise<{ id: string; hash: string }> {
      const hash = randomBytes(32).toString('hex');
      const row = await prisma.bootstrapToken.create({ data: { serviceId, tokenHash: hash, sans: [], expiresAt: new Date(NOW.getTime() + 600_000) } });
      return { id: row.id, hash };
    }

    /** An issuance of `token` and the claim its request makes ahead (same key, the token's hash). */
    function claimed(label: string, token: { id: string; hash: string } | undefined, options: { keySpkiSha256?: string; failSigning?: boolean } = {}) {
      const keySpkiSha256 = options.keySpkiSha256 ?? randomBytes(32).toString('hex');
      const probe = pendingIssuance(label, token?.id, { keySpkiSha256, failSigning: options.failSigning });
      return { probe, claim: { bootstrapTokenHash: token?.hash, now: NOW, keySpkiSha256 } };
    }

    it('commits what it signs; meanwhile no other issuance opens, and one submitted waits for it, then commits', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const first = await claimedToken();
      const second = await token();
      const { probe, claim } = claimed('o1', first);
      const opened = repository.openIssuance(claim);
      assert.ok(opened, 'the store was idle');
      assert.equal(repository.openIssuance(claimed('o2', undefined).claim), undefined, 'one issuance in flight: no other opens');
      let secondSettled = false;
      const submitted = repository.commitIssuance(pendingIssuance('o3', second).pending).finally(() => {
        secondSettled = true;
      });
      await prisma.certificate.count();
      assert.equal(secondSettled, false, 'the submitted issuance waits for the opened one');
      const outcome = await opened.commit(probe.pending);
      assert.equal(outcome?.committed, true);
      assert.equal(probe.signed, 1);
      assert.equal((await submitted).committed, true);
      const tokens = await prisma.bootstrapToken.findMany({ where: { id: { in: [first.id, second] } } });
      assert.ok(tokens.every((t) => t.usedAt !== null && t.certificateId !== null));
      await opened.abandon();
      assert.notEqual((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: first.id } })).certificateId, null, 'abandoning after the commit undoes nothing');
      assert.equal((await new AuditService(new PrismaAuditRepository(prisma)).verify()).ok, true);
    });

    it('abandoned: its token stays unused, nothing is signed or written, and the audit chain and the queue are free again', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const kept = await claimedToken();
      const { probe, claim } = claimed('a1', kept);
      const certificates = await prisma.certificate.count();
      const opened = repository.openIssuance(claim);
      assert.ok(opened);
      await waitForABackend("state = 'idle in transaction'");
      await opened.abandon();
      assert.equal(probe.signed, 0);
      assert.equal(await prisma.certificate.count(), certificates);
      assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept.id } })).usedAt, null, 'the token was given back');
      await assert.rejects(opened.commit(probe.pending), /after it was abandoned/);
      // The chain's lock was released: another writer appends at once.
      await new PrismaRevocationRepository(prisma).inTransaction((unit) =>
        unit.audit([{ occurredAt: NOW, actor: 'security', action: 'test.after_abandon', targetType: 'service', targetId: 'group-svc', details: {} }]),
      );
      const again = repository.openIssuance(claim);
      assert.ok(again, 'the queue is idle again');
      assert.equal((await again.commit(probe.pending))?.committed, true, 'the same token is still good');
    });

    it('holds its token: a group consuming the same token waits, and finds it used once the opened one commits', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const shared = await claimedToken();
      const { probe, claim } = claimed('h1', shared);
      const opened = repository.openIssuance(claim);
      assert.ok(opened);
      // Its first round trip done: the token's row and the chain's lock are held.
      await waitForABackend("state = 'idle in transaction'");
      const rival = pendingIssuance('h2', shared.id);
      const group = writeIssuanceGroup(sqlPoolOf(prisma), [rival.pending]);
      await waitForABackendWaitingOnALock();
      assert.equal((await opened.commit(probe.pending))?.committed, true);
      const [rivalOutcome] = await group;
      assert.deepEqual(rivalOutcome, { ok: true, value: { committed: false, reason: 'bootstrap-token-unusable' } });
      assert.equal(rival.signed, 0, 'the second use is never signed');
    });

    it('an unusable or unknown token, or a blocked key, is told by commit: nothing is signed or consumed', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const used = await claimedToken();
      await prisma.bootstrapToken.update({ where: { id: used.id }, data: { usedAt: NOW } });
      const unknown = { id: used.id, hash: randomBytes(32).toString('hex') };
      for (const [label, presented] of [['r1', used], ['r2', unknown]] as const) {
        const { probe, claim } = claimed(label, presented);
        const opened = repository.openIssuance(claim);
        assert.ok(opened);
        assert.deepEqual(await opened.commit(probe.pending), { committed: false, reason: 'bootstrap-token-unusable' }, label);
        assert.equal(probe.signed, 0);
      }

      const blockedKey = randomBytes(32).toString('hex');
      await prisma.blockedKey.create({ data: { spkiSha256: blockedKey, reason: 'keyCompromise', blockedAt: NOW, blockedBy: 'test' } });
      const kept = await claimedToken();
      for (const [label, presented] of [['r3', kept], ['r4', undefined]] as const) {
        const { probe, claim } = claimed(label, presented, { keySpkiSha256: blockedKey });
        const opened = repository.openIssuance(claim);
        assert.ok(opened);
        assert.deepEqual(await opened.commit(probe.pending), { committed: false, reason: 'key-blocked' }, label);
        assert.equal(probe.signed, 0);
      }
      assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept.id } })).usedAt, null, 'a refused key keeps its token');
    });

    it('an issuance that is not the claimed one is refused as a bug, and rolls back', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const kept = await claimedToken();
      const { claim } = claimed('m1', kept);
      const opened = repository.openIssuance(claim);
      assert.ok(opened);
      const otherKey = pendingIssuance('m2', kept.id, { keySpkiSha256: randomBytes(32).toString('hex') });
      await assert.rejects(opened.commit(otherKey.pending), /not the one its transaction was opened for/);
      assert.equal(otherKey.signed, 0);
      assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept.id } })).usedAt, null);
    });

    it('held past its limit without a decision, it is given up: rolled back, and commit then says so and signs nothing', async () => {
      const kept = await claimedToken();
      const { probe, claim } = claimed('g1', kept);
      const { opened, finished } = openLoneIssuance(sqlPoolOf(prisma), claim, 0);
      await finished;
      assert.equal(await opened.commit(probe.pending), undefined);
      assert.equal(probe.signed, 0);
      assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept.id } })).usedAt, null, 'the token was given back');
      const [outcome] = await writeIssuanceGroup(sqlPoolOf(prisma), [probe.pending]);
      assert.deepEqual(outcome?.ok && outcome.value.committed, true, 'and the caller commits it through a group');
    });

    it('tells whileCommitting the facts it committed, before the outcome', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const { probe, claim } = claimed('t1', await claimedToken());
      const opened = repository.openIssuance(claim);
      assert.ok(opened);
      const outcome = await settling(probe, opened.commit(probe.pending));
      assert.ok(outcome?.committed);
      assert.deepEqual(probe.told, [{ facts: outcome.facts, afterTheOutcome: false }]);
    });

    it('a failure while committing rolls everything back and reaches the caller', async () => {
      const repository = new PrismaCertificateRepository(prisma);
      const kept = await claimedToken();
      const { probe, claim } = claimed('f1', kept, { failSigning: true });
      const opened = repository.openIssuance(claim);
      assert.ok(opened);
      await assert.rejects(opened.commit(probe.pending), /signing f1 failed/);
      assert.equal((await prisma.bootstrapToken.findUniqueOrThrow({ where: { id: kept.id } })).usedAt, null);
      const again = repository.openIssuance(claim);
      assert.ok(again, 'the queue is idle again');
      await again.abandon();
    });
  });

  /** Polls PostgreSQL until some backend of this database waits for a lock (the group, blocked by the revocation). */
  function waitForABackendWaitingOnALock(): Promise<void> {
    return waitForABackend("wait_event_type = 'Lock'");
  }

  /** Polls PostgreSQL until some backend of this database is in the state `condition` says. */
  async function waitForABackend(condition: string): Promise<void> {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const [row] = await prisma.$queryRawUnsafe<{ found: number }[]>(
        `SELECT count(*)::int AS found FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${condition}`,
      );
      if ((row?.found ?? 0) > 0) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`no backend came to ${condition}`);
  }
});
