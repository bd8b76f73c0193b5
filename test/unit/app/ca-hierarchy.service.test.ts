import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CaHierarchy, loadOrCreateCaHierarchy, type CaHierarchyDependencies } from '../../../src/app/ca-hierarchy.service.ts';
import { CA_HIERARCHY, type IssuerName } from '../../../src/domain/ca-hierarchy.ts';
import type { KeyAlgorithmName } from '../../../src/domain/key-algorithm.ts';
import type { AuditEntry, IssuerRecord, NewIssuerRecord } from '../../../src/domain/ports.ts';
import { certificatePem } from '../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../support/openssl.ts';
import { FakeClock, InMemoryIssuers, InMemoryKeyStore, nodeRandom } from './in-memory-ports.ts';

const NOW = new Date('2030-06-01T08:00:00Z');
const DAY_MS = 86_400_000;
const PUBLIC_URL = 'http://pki.example.org:8080';
const NAMES = CA_HIERARCHY.map((definition) => definition.name);

function deps(overrides: Partial<CaHierarchyDependencies> = {}): CaHierarchyDependencies {
  return {
    issuers: new InMemoryIssuers(),
    keys: new InMemoryKeyStore(),
    clock: new FakeClock(NOW),
    random: nodeRandom,
    publicHttpUrl: PUBLIC_URL,
    ...overrides,
  };
}

function fingerprints(hierarchy: CaHierarchy): Record<string, string> {
  return Object.fromEntries(hierarchy.list().map((issuer) => [issuer.record.name, issuer.record.fingerprintSha256]));
}

describe('loadOrCreateCaHierarchy on first start, then on restart', () => {
  const issuers = new InMemoryIssuers();
  const keys = new InMemoryKeyStore();
  const clock = new FakeClock(NOW);
  let first: { hierarchy: CaHierarchy; created: boolean };
  let second: { hierarchy: CaHierarchy; created: boolean };
  let files: Awaited<ReturnType<typeof pemFiles>>;

  before(async () => {
    first = await loadOrCreateCaHierarchy({ issuers, keys, clock, random: nodeRandom, publicHttpUrl: PUBLIC_URL });
    clock.advance(3 * DAY_MS);
    second = await loadOrCreateCaHierarchy({ issuers, keys, clock, random: nodeRandom, publicHttpUrl: PUBLIC_URL });
    const pem = (name: IssuerName) => certificatePem(first.hierarchy.get(name).signer.certificate);
    files = await pemFiles(Object.fromEntries(NAMES.map((name) => [`${name}.pem`, pem(name)])));
  });
  after(async () => {
    await files.cleanup();
  });

  function record(name: IssuerName): IssuerRecord {
    const found = issuers.records.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no record for ${name}`);
    return found;
  }

  it('creates the four issuers, parents first, in one call', () => {
    assert.equal(first.created, true);
    assert.equal(issuers.createCalls, 1);
    assert.deepEqual(
      issuers.records.map((r) => [r.name, r.kind, r.environment, r.parentName, r.keyAlgorithm]),
      [
        ['root', 'root', 'production', undefined, 'ecdsa-p384'],
        ['intermediate', 'intermediate', 'production', 'root', 'ecdsa-p256'],
        ['test-root', 'root', 'test', undefined, 'ecdsa-p384'],
        ['test-intermediate', 'intermediate', 'test', 'test-root', 'ecdsa-p256'],
      ],
    );
    assert.deepEqual(first.hierarchy.list().map((issuer) => issuer.record.name).sort(), [...NAMES].sort());
  });

  it('writes one ca.created audit entry per issuer at the clock’s time', () => {
    assert.equal(issuers.audit.length, 4);
    assert.deepEqual(
      issuers.audit.map((entry: AuditEntry) => [entry.action, entry.actor, entry.targetType, entry.targetId, entry.occurredAt.getTime()]),
      NAMES.map((name) => ['ca.created', 'system', 'issuer', name, NOW.getTime()]),
    );
    for (const entry of issuers.audit) {
      const stored = record(entry.targetId as IssuerName);
      assert.equal(entry.details.fingerprintSha256, stored.fingerprintSha256);
      assert.equal(entry.details.keyAlgorithm, stored.keyAlgorithm);
    }
  });

  it('stores one distinct key per issuer under a <name>-<random hex> reference', () => {
    assert.deepEqual(keys.generated, issuers.records.map((r) => r.keyRef));
    for (const stored of issuers.records) {
      assert.match(stored.keyRef, new RegExp(`^${stored.name}-[0-9a-f]{12}$`));
    }
    assert.equal(new Set(keys.generated).size, 4);
    assert.deepEqual(keys.discarded, []);
  });

  it('records the fingerprint and validity of the stored certificate', () => {
    for (const stored of issuers.records) {
      assert.equal(stored.fingerprintSha256, createHash('sha256').update(stored.certificateDer).digest('hex'));
      const certificate = new x509.X509Certificate(new Uint8Array(stored.certificateDer));
      assert.equal(stored.notBefore.getTime(), certificate.notBefore.getTime());
      assert.equal(stored.notAfter.getTime(), certificate.notAfter.getTime());
      assert.equal(stored.subjectDn, certificate.subject);
      assert.match(certificate.serialNumber, /^[4-7][0-9A-Fa-f]{31}$/);
    }
  });

  it('backdates CA certificates by five minutes and limits intermediates to their root', () => {
    const backdated = NOW.getTime() - 5 * 60_000;
    for (const name of NAMES) assert.equal(record(name).notBefore.getTime(), backdated, name);
    assert.equal(record('root').notAfter.getTime(), NOW.getTime() + 3652 * DAY_MS);
    assert.equal(record('intermediate').notAfter.getTime(), NOW.getTime() + 1826 * DAY_MS);
    assert.ok(record('intermediate').notAfter <= record('root').notAfter);
  });

  it('points intermediates at their parent’s public CRL and certificate URLs', () => {
    for (const [name, parent] of [['intermediate', 'root'], ['test-intermediate', 'test-root']] as const) {
      const certificate = first.hierarchy.get(name).signer.certificate;
      const crl = certificate.getExtension(x509.CRLDistributionPointsExtension);
      const urls = Array.from(crl?.distributionPoints ?? []).flatMap((point) =>
        (point.distributionPoint?.fullName ?? []).map((general) => general.uniformResourceIdentifier),
      );
      assert.deepEqual(urls, [`${PUBLIC_URL}/crl/${parent}.crl`]);
      const aia = certificate.getExtension(x509.AuthorityInfoAccessExtension);
      assert.deepEqual(aia?.caIssuers.map((general) => general.value), [`${PUBLIC_URL}/ca/${parent}.crt`]);
    }
  });

  it('loads the same hierarchy on restart without creating anything', () => {
    assert.equal(second.created, false);
    assert.equal(issuers.createCalls, 1);
    assert.equal(issuers.audit.length, 4);
    assert.equal(keys.generated.length, 4);
    assert.deepEqual(fingerprints(second.hierarchy), fingerprints(first.hierarchy));
    assert.deepEqual(Object.keys(fingerprints(second.hierarchy)).sort(), [...NAMES].sort());
  });

  it('hands out private keys that sign for each issuer’s certificate', async () => {
    for (const issuer of second.hierarchy.list()) {
      const { signer } = issuer;
      const signingParams = signer.keyAlgorithm === 'ecdsa-p384' ? { name: 'ECDSA', hash: 'SHA-384' } : { name: 'ECDSA', hash: 'SHA-256' };
      const data = new Uint8Array([1, 2, 3]);
      const signature = await webcrypto.subtle.sign(signingParams, signer.privateKey, data);
      const publicKey = await signer.certificate.publicKey.export(
        { name: 'ECDSA', namedCurve: signer.keyAlgorithm === 'ecdsa-p384' ? 'P-384' : 'P-256' },
        ['verify'],
        webcrypto as unknown as Crypto,
      );
      assert.equal(await webcrypto.subtle.verify(signingParams, publicKey, signature, data), true, issuer.record.name);
    }
  });

  it('chains each issuer to its own root', () => {
    const names = (chain: x509.X509Certificate[]) => chain.map((certificate) => certificate.subject);
    const subject = (name: IssuerName) => first.hierarchy.get(name).signer.certificate.subject;
    assert.deepEqual(names(first.hierarchy.chain('intermediate')), [subject('intermediate'), subject('root')]);
    assert.deepEqual(names(first.hierarchy.chain('test-intermediate')), [subject('test-intermediate'), subject('test-root')]);
    assert.deepEqual(names(first.hierarchy.chain('root')), [subject('root')]);
    const chain = first.hierarchy.chain('intermediate');
    assert.ok(chain[0]?.equal(first.hierarchy.get('intermediate').signer.certificate));
    assert.ok(chain[1]?.equal(first.hierarchy.get('root').signer.certificate));
  });

  it('refuses to look up an issuer that is not loaded', () => {
    assert.throws(() => new CaHierarchy([]).get('root'), /issuer root is not loaded/);
  });

  const attime = String(NOW.getTime() / 1000 + DAY_MS / 1000);
  const verifications: { certificate: IssuerName; anchor: IssuerName; ok: boolean }[] = [
    { certificate: 'intermediate', anchor: 'root', ok: true },
    { certificate: 'test-intermediate', anchor: 'test-root', ok: true },
    { certificate: 'test-intermediate', anchor: 'root', ok: false },
    { certificate: 'intermediate', anchor: 'test-root', ok: false },
  ];
  for (const { certificate, anchor, ok } of verifications) {
    it(`OpenSSL ${ok ? 'accepts' : 'rejects'} ${certificate} under ${anchor}`, async () => {
      const result = await openssl([
        'verify', '-x509_strict', '-attime', attime, '-CAfile', files.path(`${anchor}.pem`), files.path(`${certificate}.pem`),
      ]);
      assert.equal(result.code === 0, ok, result.stdout + result.stderr);
    });
  }
});

/** Lists nothing until `createHierarchy` is attempted, then shows a hierarchy another replica stored. */
class LosingRaceIssuers extends InMemoryIssuers {
  attempted: NewIssuerRecord[] = [];
  constructor(private readonly winner: InMemoryIssuers) {
    super();
  }
  override async listIssuers(): Promise<IssuerRecord[]> {
    return this.attempted.length === 0 ? [] : this.winner.listIssuers();
  }
  override async createHierarchy(issuers: NewIssuerRecord[]): Promise<'created' | 'exists'> {
    this.createCalls += 1;
    this.attempted = issuers;
    return 'exists';
  }
}

describe('loadOrCreateCaHierarchy when creation does not go through', () => {
  it('discards its keys and loads the winner’s hierarchy when another replica created it first', async () => {
    const keys = new InMemoryKeyStore();
    const winnerIssuers = new InMemoryIssuers();
    const winner = await loadOrCreateCaHierarchy(deps({ issuers: winnerIssuers, keys }));
    const winnerKeys = [...keys.generated];
    const racing = new LosingRaceIssuers(winnerIssuers);

    const loser = await loadOrCreateCaHierarchy(deps({ issuers: racing, keys }));

    assert.equal(loser.created, false);
    assert.equal(racing.createCalls, 1);
    const loserKeys = racing.attempted.map((record) => record.keyRef);
    assert.equal(loserKeys.length, 4);
    assert.deepEqual([...keys.discarded].sort(), [...loserKeys].sort());
    assert.deepEqual([...keys.pairs.keys()].sort(), [...winnerKeys].sort());
    assert.deepEqual(fingerprints(loser.hierarchy), fingerprints(winner.hierarchy));
  });

  it('discards its keys and rethrows when storing the hierarchy fails', async () => {
    const keys = new InMemoryKeyStore();
    const failure = new Error('database went away');
    const issuers = new InMemoryIssuers();
    issuers.createHierarchy = async () => {
      throw failure;
    };
    await assert.rejects(loadOrCreateCaHierarchy(deps({ issuers, keys })), (error: unknown) => error === failure);
    assert.equal(keys.generated.length, 4);
    assert.deepEqual([...keys.discarded].sort(), [...keys.generated].sort());
    assert.equal(keys.pairs.size, 0);
  });

  it('refuses to start on an incomplete hierarchy, naming what is missing', async () => {
    const keys = new InMemoryKeyStore();
    const issuers = new InMemoryIssuers();
    await loadOrCreateCaHierarchy(deps({ issuers, keys }));
    issuers.records.splice(issuers.records.findIndex((r) => r.name === 'test-intermediate'), 1);
    await assert.rejects(loadOrCreateCaHierarchy(deps({ issuers, keys })), /incomplete CA hierarchy \(missing: test-intermediate\)/);
  });
});

/** Hands out another key pair's private key for one issuer, as if a key file had been swapped. */
class SwappedKeyStore extends InMemoryKeyStore {
  constructor(private readonly swappedPrefix: string, private readonly impostor: CryptoKey) {
    super();
  }
  override async load(keyRef: string, algorithm: KeyAlgorithmName): Promise<CryptoKey> {
    const genuine = await super.load(keyRef, algorithm);
    return keyRef.startsWith(this.swappedPrefix) ? this.impostor : genuine;
  }
}

describe('loadOrCreateCaHierarchy with a key that does not match its certificate', () => {
  it('names exactly the issuer whose key was swapped', async () => {
    const impostor = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const issuers = new InMemoryIssuers();
    const genuine = new InMemoryKeyStore();
    await loadOrCreateCaHierarchy(deps({ issuers, keys: genuine }));
    const keys = new SwappedKeyStore('intermediate-', impostor.privateKey);
    for (const [keyRef, stored] of genuine.pairs) keys.pairs.set(keyRef, stored);
    await assert.rejects(loadOrCreateCaHierarchy(deps({ issuers, keys })), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /the key stored for issuer intermediate does not match its certificate/);
      return true;
    });
    // The genuine keys still load.
    const loaded = await loadOrCreateCaHierarchy(deps({ issuers, keys: genuine }));
    assert.equal(loaded.created, false);
  });
});
