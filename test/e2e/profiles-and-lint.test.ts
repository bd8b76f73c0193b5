import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DEFAULT_PROFILES } from '../../src/domain/default-profiles.ts';
import { httpsRequest } from '../support/https-request.ts';
import { openssl } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/** A profile a careless operator could write: keyEncipherment makes no sense for EC keys. */
const LEGACY_PROFILE = {
  name: 'legacy',
  issuer: 'intermediate',
  defaultTtlSeconds: 3600,
  maxTtlSeconds: 7200,
  keyUsages: ['digitalSignature', 'keyEncipherment'],
  extendedKeyUsages: ['serverAuth'],
  allowedKeyAlgorithms: ['ecdsa-p256'],
  serverSideKeyGeneration: false,
};

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe('profiles from TRUSTROOT_PROFILES_FILE, and pre-issuance lint', () => {
  let trustroot: TestTrustroot;
  let dir: string;
  let rootPem: string;
  let admin: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trustroot-profiles-'));
    const file = path.join(dir, 'profiles.json');
    await writeFile(file, JSON.stringify([...DEFAULT_PROFILES, LEGACY_PROFILE]));
    trustroot = await startTestTrustroot({ env: { TRUSTROOT_PROFILES_FILE: file } });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    admin = trustroot.instance.initialAdminToken ?? '';
    assert.match(admin, /^trt_/);
  });
  after(async () => {
    await trustroot.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('a certificate that fails lint is refused with lint_failed, audited, and never signed', async () => {
    const json = (body: unknown, token: string) => ({
      method: 'POST',
      ca: rootPem,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const created = await httpsRequest(`${trustroot.apiUrl}/v1/services`, json({ name: 'legacy-app', owner: 'ops', dnsNames: ['legacy.svc'], profiles: ['legacy'] }, admin));
    assert.equal(created.status, 201, created.text);
    const keyDir = await mkdtemp(path.join(tmpdir(), 'trustroot-lint-'));
    try {
      const req = await openssl([
        'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', path.join(keyDir, 'key.pem'), '-subj', '/CN=legacy.svc',
        '-addext', 'subjectAltName=DNS:legacy.svc', '-out', path.join(keyDir, 'req.csr'),
      ]);
      assert.equal(req.code, 0, req.stderr);
      const csr = await readFile(path.join(keyDir, 'req.csr'), 'utf8');
      const certificatesBefore = await count(trustroot.database.url, 'SELECT count(*) AS n FROM certificates');
      const response = await httpsRequest(`${trustroot.apiUrl}/v1/certificates`, json({ csr, profile: 'legacy', service: 'legacy-app' }, admin));
      assert.equal(response.status, 500);
      assert.match(String(response.headers['content-type']), /application\/problem\+json/);
      const problem = JSON.parse(response.text) as { type: string; detail: string };
      assert.equal(problem.type, 'urn:trustroot:problem:lint_failed');
      assert.match(problem.detail, /key-usage-matches-key/);
      assert.equal(await count(trustroot.database.url, 'SELECT count(*) AS n FROM certificates'), certificatesBefore, 'no certificate exists');
      assert.equal(await count(trustroot.database.url, "SELECT count(*) AS n FROM audit_events WHERE action = 'certificate.lint_failed'"), 1);
    } finally {
      await rm(keyDir, { recursive: true, force: true });
    }
  });

  it('start-up refuses an invalid profiles file with a message naming the problem', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify([{ ...LEGACY_PROFILE, name: 'long', maxTtlSeconds: 20 * 365 * 86400 }]));
    await assert.rejects(
      startTestTrustroot({ env: { TRUSTROOT_PROFILES_FILE: file }, database: trustroot.database, dataDir: trustroot.dataDir }),
      /profile long: maxTtlSeconds outlives its issuer intermediate/,
    );
    await writeFile(file, JSON.stringify([{ ...LEGACY_PROFILE, issuer: 'root' }]));
    await assert.rejects(
      startTestTrustroot({ env: { TRUSTROOT_PROFILES_FILE: file }, database: trustroot.database, dataDir: trustroot.dataDir }),
      /profile legacy: issuer must be one of the issuing CAs/,
    );
  });
});
