import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadOrCreateCaHierarchy, type CaHierarchy } from '../../../src/app/ca-hierarchy.service.ts';
import {
  issueTlsServerCertificate,
  NOT_BEFORE_BACKDATE_MS,
  renewalDue,
  TlsCertificateRotation,
  type TlsServerCredentials,
} from '../../../src/app/tls-server-certificate.service.ts';
import { certificatePem } from '../../../src/domain/x509/certificate-facts.ts';
import { x509 } from '../../../src/domain/x509/crypto-provider.ts';
import { openssl, pemFiles } from '../../support/openssl.ts';
import { FakeClock, InMemoryCertificates, InMemoryIssuers, InMemoryKeyStore, nodeRandom } from './in-memory-ports.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

describe('renewalDue', () => {
  const cases: { name: string; notBefore: string; notAfter: string; due: string }[] = [
    { name: '24h certificate', notBefore: '2030-01-01T00:00:00Z', notAfter: '2030-01-02T00:00:00Z', due: '2030-01-01T16:00:00Z' },
    { name: '90-day certificate', notBefore: '2030-01-01T00:00:00Z', notAfter: '2030-04-01T00:00:00Z', due: '2030-03-02T00:00:00Z' },
    { name: '3 seconds', notBefore: '2030-01-01T00:00:00Z', notAfter: '2030-01-01T00:00:03Z', due: '2030-01-01T00:00:02Z' },
    // 1000 ms * 2 / 3 = 666.67 ms: rounded down, never later than two thirds.
    { name: 'one second', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:00:01.000Z', due: '2030-01-01T00:00:00.666Z' },
    { name: 'backdated 1 minute, 24h', notBefore: '2029-12-31T23:59:00Z', notAfter: '2030-01-02T00:00:00Z', due: '2030-01-01T15:59:40Z' },
  ];
  for (const { name, notBefore, notAfter, due } of cases) {
    it(`${name}: due at ${due}`, () => {
      assert.equal(renewalDue(new Date(notBefore), new Date(notAfter)).toISOString(), new Date(due).toISOString());
    });
  }
});

function credentials(serialHex: string, notBefore: Date, lifetimeMs: number): TlsServerCredentials {
  return {
    privateKeyPem: `key ${serialHex}`,
    certificatePem: `certificate ${serialHex}`,
    chainPem: `chain ${serialHex}`,
    serialHex,
    notBefore,
    notAfter: new Date(notBefore.getTime() + lifetimeMs),
  };
}

describe('TlsCertificateRotation', () => {
  const START = new Date('2030-01-01T00:00:00Z');

  /** A rotation whose issuer hands out 24h credentials starting at the fake clock's time. */
  function setup() {
    const clock = new FakeClock(START);
    const installed: TlsServerCredentials[] = [];
    let issued = 0;
    const issue = async () => {
      issued += 1;
      return credentials(`4${issued}`, clock.now(), DAY_MS);
    };
    const rotation = new TlsCertificateRotation(issue, (c) => installed.push(c), clock);
    return { clock, installed, rotation, issuedCount: () => issued };
  }

  it('start() issues and installs exactly once', async () => {
    const { installed, rotation, issuedCount } = setup();
    assert.equal(rotation.credentials, undefined);
    const first = await rotation.start();
    assert.equal(issuedCount(), 1);
    assert.deepEqual(installed, [first]);
    assert.equal(rotation.credentials, first);
  });

  const notYet = [0, HOUR_MS, 16 * HOUR_MS - 1];
  for (const elapsed of notYet) {
    it(`rotateIfDue() does nothing ${elapsed} ms into a 24h certificate`, async () => {
      const { clock, installed, rotation, issuedCount } = setup();
      const first = await rotation.start();
      clock.advance(elapsed);
      assert.equal(await rotation.rotateIfDue(), false);
      assert.equal(issuedCount(), 1);
      assert.deepEqual(installed, [first]);
      assert.equal(rotation.credentials, first);
    });
  }

  const due = [16 * HOUR_MS, 16 * HOUR_MS + 1, 23 * HOUR_MS, 2 * DAY_MS];
  for (const elapsed of due) {
    it(`rotateIfDue() installs new credentials ${elapsed} ms into a 24h certificate`, async () => {
      const { clock, installed, rotation, issuedCount } = setup();
      const first = await rotation.start();
      clock.advance(elapsed);
      assert.equal(await rotation.rotateIfDue(), true);
      assert.equal(issuedCount(), 2);
      assert.equal(installed.length, 2);
      const second = installed[1];
      assert.ok(second);
      assert.notEqual(second.serialHex, first.serialHex);
      assert.equal(rotation.credentials, second);
    });
  }

  it('measures the next rotation from the new certificate', async () => {
    const { clock, installed, rotation } = setup();
    await rotation.start();
    clock.advance(17 * HOUR_MS);
    assert.equal(await rotation.rotateIfDue(), true);
    clock.advance(15 * HOUR_MS); // 15h into the second certificate: not yet
    assert.equal(await rotation.rotateIfDue(), false);
    clock.advance(HOUR_MS + 1);
    assert.equal(await rotation.rotateIfDue(), true);
    assert.deepEqual(installed.map((c) => c.serialHex), ['41', '42', '43']);
  });

  it('rotateIfDue() before start() issues the first certificate', async () => {
    const { installed, rotation } = setup();
    assert.equal(await rotation.rotateIfDue(), true);
    assert.equal(installed.length, 1);
  });

  it('keeps the current credentials when issuing fails', async () => {
    const clock = new FakeClock(START);
    const installed: TlsServerCredentials[] = [];
    let fail = false;
    const rotation = new TlsCertificateRotation(
      async () => {
        if (fail) throw new Error('issuer unavailable');
        return credentials('41', clock.now(), DAY_MS);
      },
      (c) => installed.push(c),
      clock,
    );
    const first = await rotation.start();
    fail = true;
    clock.advance(20 * HOUR_MS);
    await assert.rejects(rotation.rotateIfDue(), /issuer unavailable/);
    assert.deepEqual(installed, [first]);
    assert.equal(rotation.credentials, first);
  });
});

describe('issueTlsServerCertificate', () => {
  const NOW = new Date('2030-06-01T08:00:00Z');
  const PUBLIC_URL = 'http://ca.internal:8080';
  const clock = new FakeClock(NOW);
  const certificates = new InMemoryCertificates();
  let hierarchy: CaHierarchy;
  let issued: TlsServerCredentials;
  let files: Awaited<ReturnType<typeof pemFiles>>;

  before(async () => {
    ({ hierarchy } = await loadOrCreateCaHierarchy({
      issuers: new InMemoryIssuers(),
      keys: new InMemoryKeyStore(),
      clock,
      random: nodeRandom,
      publicHttpUrl: PUBLIC_URL,
    }));
    issued = await issueTlsServerCertificate(
      { hierarchy, certificates, clock, random: nodeRandom, publicHttpUrl: PUBLIC_URL },
      ['ca.internal', '127.0.0.1', 'localhost', '::1'],
      86_400,
    );
    files = await pemFiles({
      'root.pem': certificatePem(hierarchy.get('root').signer.certificate),
      'chain.pem': issued.chainPem,
      'leaf.pem': issued.certificatePem,
    });
  });
  after(async () => {
    await files.cleanup();
  });

  it('backdates by one minute and lasts the requested TTL', () => {
    assert.equal(issued.notBefore.getTime(), NOW.getTime() - NOT_BEFORE_BACKDATE_MS);
    assert.equal(issued.notAfter.getTime(), NOW.getTime() + DAY_MS);
    const certificate = new x509.X509Certificate(issued.certificatePem);
    assert.equal(certificate.notBefore.getTime(), issued.notBefore.getTime());
    assert.equal(certificate.notAfter.getTime(), issued.notAfter.getTime());
    assert.equal(certificate.serialNumber.toLowerCase(), issued.serialHex);
  });

  it('puts host names in DNS SANs and addresses in IP SANs, the first name as CN', () => {
    const certificate = new x509.X509Certificate(issued.certificatePem);
    const names = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
    assert.deepEqual(
      names.map((name) => `${name.type}:${name.value}`),
      ['dns:ca.internal', 'dns:localhost', 'ip:127.0.0.1', 'ip:::1'],
    );
    assert.deepEqual(certificate.subjectName.getField('CN'), ['ca.internal']);
    const eku = certificate.getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...(eku?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
  });

  it('records the certificate in the inventory with its audit entry', () => {
    assert.equal(certificates.issued.length, 1);
    const [entry] = certificates.issued;
    assert.ok(entry);
    assert.equal(entry.certificate.issuerName, 'intermediate');
    assert.equal(entry.certificate.profile, 'trustroot-api');
    assert.equal(entry.certificate.facts.serialHex, issued.serialHex);
    assert.equal(entry.audit.action, 'certificate.issued');
    assert.equal(entry.audit.targetId, issued.serialHex);
    assert.equal(entry.audit.occurredAt.getTime(), NOW.getTime());
  });

  it('returns a private key that belongs to the certificate', () => {
    const certificate = new NodeX509Certificate(issued.certificatePem);
    assert.equal(certificate.checkPrivateKey(createPrivateKey(issued.privateKeyPem)), true);
    assert.equal(createPublicKey(issued.privateKeyPem).asymmetricKeyType, 'ec');
  });

  it('returns the leaf then the intermediate, without the root', () => {
    const chain = issued.chainPem.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    assert.equal(chain.length, 2);
    assert.ok(issued.chainPem.startsWith(issued.certificatePem));
    assert.ok(issued.chainPem.endsWith(certificatePem(hierarchy.get('intermediate').signer.certificate)));
  });

  it('verifies with OpenSSL as a TLS server certificate for its names', async () => {
    const attime = String(NOW.getTime() / 1000 + 3600);
    for (const check of [['-verify_hostname', 'ca.internal'], ['-verify_ip', '127.0.0.1'], ['-verify_ip', '::1']]) {
      const result = await openssl([
        'verify', '-x509_strict', '-attime', attime, '-purpose', 'sslserver', ...check,
        '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'), files.path('leaf.pem'),
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    }
  });

  it('never outlives the issuing intermediate', async () => {
    const longLived = await issueTlsServerCertificate(
      { hierarchy, certificates: new InMemoryCertificates(), clock, random: nodeRandom, publicHttpUrl: PUBLIC_URL },
      ['ca.internal'],
      100 * 365 * 86_400,
    );
    assert.equal(longLived.notAfter.getTime(), hierarchy.get('intermediate').signer.certificate.notAfter.getTime());
  });
});
