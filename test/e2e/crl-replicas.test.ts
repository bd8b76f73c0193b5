import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { CertificateDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import { parseJson } from '../support/http-assertions.ts';
import { httpsRequest } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Two Trustroot replicas on one PostgreSQL database and one data directory (the same CA keys):
 * revocations through either API republish the issuer's CRL, and the CRL numbers they choose
 * must stay unique and strictly increasing even when the replicas publish at the same moment.
 * Relying parties fetching the CRL, or asking OCSP, from either replica see every revocation.
 */

const REASONS = ['keyCompromise', 'cessationOfOperation', 'affiliationChanged', 'superseded', 'privilegeWithdrawn', 'unspecified'] as const;

interface Leaf {
  serial: string;
  certificateFile: string;
}

/** A plain GET over node:http (curl-like, no added headers). */
function httpGet(url: string): Promise<{ status: number; contentType: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'], body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** Serials listed in `openssl crl -text` output, canonical (lower case, no leading zeros). */
function crlSerials(text: string): Set<string> {
  return new Set([...text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => (m[1] ?? '').toLowerCase().replace(/^0+(?=.)/, '')));
}

describe('CRL publication across two replicas sharing one database', () => {
  let first: TestTrustroot;
  let second: TestTrustroot | undefined;
  let replicas: [TestTrustroot, TestTrustroot];
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let db: pg.Client;
  let rootPem: string;
  let adminToken: string;
  const leaves: Leaf[] = [];
  /** Which replica (0 or 1) revoked each leaf. */
  const revokedThrough = new Map<string, 0 | 1>();

  before(async () => {
    first = await startTestTrustroot();
    second = await startTestTrustroot({ database: first.database, dataDir: first.dataDir });
    replicas = [first, second];
    const initial = first.instance.initialAdminToken;
    assert.ok(initial);
    assert.equal(second.instance.initialAdminToken, undefined, 'the second replica finds the admin token already there');
    adminToken = initial;
    rootPem = await (await fetch(`${first.publicUrl}/ca/root.pem`)).text();
    const intermediatePem = await (await fetch(`${first.publicUrl}/ca/intermediate.pem`)).text();
    assert.equal(await (await fetch(`${second.publicUrl}/ca/root.pem`)).text(), rootPem, 'both replicas serve the same CA');
    files = await pemFiles({ 'root.pem': rootPem, 'intermediate.pem': intermediatePem, 'chain.pem': intermediatePem + rootPem });
    db = new pg.Client({ connectionString: first.database.url });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await files?.cleanup();
    await second?.stop();
    if (first !== undefined) await first.destroy();
  });

  const call = (replica: 0 | 1, method: string, path: string, body?: unknown) =>
    httpsRequest(`${replicas[replica].apiUrl}${path}`, {
      ca: rootPem,
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  async function latestCrlText(replica: 0 | 1, label: string): Promise<{ der: Buffer; text: string; crlNumber: bigint }> {
    const response = await httpGet(`${replicas[replica].publicUrl}/crl/intermediate.crl`);
    assert.equal(response.status, 200);
    assert.equal(response.contentType, 'application/pkix-crl');
    const file = files.path(`${label}.crl`);
    await writeFile(file, response.body);
    const verified = await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', files.path('chain.pem'), '-noout']);
    assert.match(verified.stdout + verified.stderr, /verify OK/);
    const text = await openssl(['crl', '-inform', 'DER', '-in', file, '-text', '-noout']);
    assert.equal(text.code, 0, text.stderr);
    const number = /X509v3 CRL Number:\s*\n\s*(\S+)/.exec(text.stdout)?.[1];
    assert.ok(number, text.stdout);
    return { der: response.body, text: text.stdout, crlNumber: BigInt(number) };
  }

  async function intermediateCrlRows(): Promise<{ crl_number: string; created_at: Date }[]> {
    const result = await db.query<{ crl_number: string; created_at: Date }>(
      `SELECT crl_number::text AS crl_number, created_at FROM crls
       WHERE issuer_id = (SELECT id FROM issuers WHERE name = 'intermediate')
       ORDER BY created_at, crl_number`,
    );
    return result.rows;
  }

  it('a service gets twelve certificates, issued alternately through both replicas', async () => {
    parseJson<ServiceDto>(await call(0, 'POST', '/v1/services', { name: 'replica', owner: 'platform', dnsNames: ['replica.svc'], profiles: ['peer'] }), 201);
    const csrs = await Promise.all(
      Array.from({ length: 12 }, async (_, index) => {
        const made = await openssl([
          'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
          '-keyout', files.path(`leaf-${index}.key`), '-out', files.path(`leaf-${index}.csr`),
          '-subj', '/CN=replica.svc', '-addext', 'subjectAltName=DNS:replica.svc',
        ]);
        assert.equal(made.code, 0, made.stderr);
        return readFile(files.path(`leaf-${index}.csr`), 'utf8');
      }),
    );
    for (const [index, csr] of csrs.entries()) {
      const issued = parseJson<IssuedCertificateDto>(await call((index % 2) as 0 | 1, 'POST', '/v1/certificates', { csr, profile: 'peer', service: 'replica' }), 201);
      const certificateFile = files.path(`leaf-${index}.pem`);
      await writeFile(certificateFile, issued.certificate);
      leaves.push({ serial: issued.serial, certificateFile });
    }
    assert.equal(new Set(leaves.map((leaf) => leaf.serial)).size, 12);
  });

  it('six revocations one after another, alternating replicas, each raise the CRL number', async () => {
    let previous = (await latestCrlText(0, 'start')).crlNumber;
    for (const [index, leaf] of leaves.slice(0, 6).entries()) {
      const replica = (index % 2) as 0 | 1;
      const revoked = parseJson<CertificateDto>(await call(replica, 'POST', `/v1/certificates/${leaf.serial}/revoke`, { reason: REASONS[index] }), 200);
      assert.equal(revoked.status, 'revoked');
      revokedThrough.set(leaf.serial, replica);
      // Read from the other replica: the CRL is shared through the database.
      const crl = await latestCrlText(replica === 0 ? 1 : 0, `sequential-${index}`);
      assert.ok(crl.crlNumber > previous, `${crl.crlNumber} after ${previous}`);
      assert.ok(crlSerials(crl.text).has(leaf.serial), crl.text);
      previous = crl.crlNumber;
    }
  });

  it('six revocations at once across both replicas all succeed', async () => {
    const results = await Promise.all(
      leaves.slice(6).map(async (leaf, index) => {
        const replica = (index % 2) as 0 | 1;
        const response = await call(replica, 'POST', `/v1/certificates/${leaf.serial}/revoke`, { reason: REASONS[index] });
        revokedThrough.set(leaf.serial, replica);
        return response;
      }),
    );
    for (const response of results) assert.equal(parseJson<CertificateDto>(response, 200).status, 'revoked');
  });

  it('crls: one per revocation, numbers unique and strictly increasing in creation order', async () => {
    const rows = await intermediateCrlRows();
    // The first start published CRL 1; the second replica found it fresh; then one per revocation.
    assert.equal(rows.length, 13, JSON.stringify(rows));
    const numbers = rows.map((row) => BigInt(row.crl_number));
    assert.equal(new Set(numbers).size, numbers.length, `duplicate CRL numbers: ${numbers.join(',')}`);
    for (let i = 1; i < numbers.length; i += 1) {
      assert.ok((numbers[i] ?? 0n) > (numbers[i - 1] ?? 0n), `not increasing in creation order: ${numbers.join(',')}`);
    }
    assert.deepEqual(numbers, Array.from({ length: 13 }, (_, i) => BigInt(i + 1)));
  });

  it('the latest CRL from either replica is the same and lists all twelve serials', async () => {
    const [a, b] = await Promise.all([latestCrlText(0, 'final-0'), latestCrlText(1, 'final-1')]);
    assert.ok(a.der.equals(b.der));
    assert.equal(a.crlNumber, 13n);
    const listed = crlSerials(a.text);
    for (const leaf of leaves) assert.ok(listed.has(leaf.serial), `${leaf.serial} missing from CRL ${a.crlNumber}`);
  });

  it('OCSP on either replica says revoked for certificates revoked through the other', async () => {
    for (const leaf of leaves) {
      const through = revokedThrough.get(leaf.serial);
      assert.ok(through !== undefined);
      const other = replicas[through === 0 ? 1 : 0];
      const result = await openssl([
        'ocsp', '-issuer', files.path('intermediate.pem'), '-cert', leaf.certificateFile,
        '-url', `${other.publicUrl}/ocsp/intermediate`, '-CAfile', files.path('root.pem'), '-no_nonce',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Response verify OK/);
      assert.ok(result.stdout.includes(`${leaf.certificateFile}: revoked`), result.stdout);
    }
  });
});
