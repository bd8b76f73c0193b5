import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { BootstrapTokenDto, CertificateDto, CreatedApiTokenDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import { assertProblem, parseJson, type Problem } from '../support/http-assertions.ts';
import { httpsRequest, type HttpsRequestOptions } from '../support/https-request.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { FakeClock, startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * Revocation end to end: certificates, whole services and public keys are revoked over the real
 * HTTPS API, and what relying parties see is checked with independent tools only: OpenSSL reads
 * and verifies the CRLs and speaks OCSP to the responder, and a plain Node TLS server with the CRL
 * refuses a revoked client. The harness sets TRUSTROOT_HTTP_PORT=0, so the URLs inside
 * certificates say port 0: CRLs and OCSP are always reached through `trustroot.publicUrl`.
 */

const HOUR_MS = 3600_000;

/** One certificate as its service holds it, with the files OpenSSL reads. */
interface Identity {
  label: string;
  service: string;
  serial: string;
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  /** Path of the leaf PEM file (for openssl verify/ocsp). */
  certificateFile: string;
  /** Path of the private key file (reusable for a CSR with the same key). */
  keyFile: string;
}

interface ServiceRevocationDto {
  service: string;
  disabled: boolean;
  revoked: string[];
  alreadyRevoked: string[];
  bootstrapTokensRevoked: number;
}

interface KeyRevocationDto {
  spkiSha256: string;
  blocked: boolean;
  revoked: string[];
  alreadyRevoked: string[];
}

/** One revokedCertificates entry as `openssl crl -text` prints it. */
interface CrlEntryText {
  reason: string | undefined;
  invalidityDate: Date | undefined;
  revocationDate: Date;
}

interface CrlText {
  crlNumber: bigint;
  entries: Map<string, CrlEntryText>;
  text: string;
}

/** Hex as Trustroot writes serials: lower case, no colons, no leading zeros. */
function canonicalSerial(hex: string): string {
  return hex.replaceAll(':', '').toLowerCase().replace(/^0+(?=.)/, '');
}

/** The value printed on the line after `header:` in OpenSSL's text output (indented block). */
function valueAfter(lines: string[], header: string): string | undefined {
  const index = lines.findIndex((line) => line.trim() === `${header}:` || line.trim().startsWith(`${header}:`));
  if (index === -1) return undefined;
  const sameLine = (lines[index] ?? '').split(`${header}:`)[1]?.trim();
  if (sameLine) return sameLine;
  return lines[index + 1]?.trim();
}

/** Reads `openssl crl -text` output: the CRL number and every entry by canonical serial. */
function parseCrlText(text: string): CrlText {
  const lines = text.split('\n');
  const number = valueAfter(lines, 'X509v3 CRL Number');
  assert.ok(number, `no CRL Number in\n${text}`);
  const crlNumber = number.startsWith('0x') ? BigInt(number) : BigInt(number.replaceAll(':', ''));
  const entries = new Map<string, CrlEntryText>();
  const revokedAt = text.indexOf('Revoked Certificates:');
  if (revokedAt !== -1) {
    const section = text.slice(revokedAt).split(/Signature Algorithm:/)[0] ?? '';
    for (const chunk of section.split(/Serial Number:\s*/).slice(1)) {
      const chunkLines = chunk.split('\n');
      const serial = canonicalSerial((chunkLines[0] ?? '').trim());
      const revocationDate = valueAfter(chunkLines, 'Revocation Date');
      const invalidity = valueAfter(chunkLines, 'Invalidity Date');
      assert.ok(revocationDate, chunk);
      entries.set(serial, {
        reason: valueAfter(chunkLines, 'X509v3 CRL Reason Code'),
        invalidityDate: invalidity ? new Date(invalidity) : undefined,
        revocationDate: new Date(revocationDate),
      });
    }
  }
  return { crlNumber, entries, text };
}

interface MtlsServer {
  port: number;
  /** Every handshake that completed: the client's serial, whether it verified, and why not. */
  accepted: { serial: string; authorized: boolean; authorizationError: string | undefined }[];
  clientErrors: string[];
  close(): Promise<void>;
}

/** A plain Node TLS server requesting a client certificate; answers each accepted client with its serial. */
async function startMtlsServer(options: tls.TlsOptions): Promise<MtlsServer> {
  const accepted: MtlsServer['accepted'] = [];
  const clientErrors: string[] = [];
  const server = tls.createServer({ requestCert: true, rejectUnauthorized: true, ...options }, (socket) => {
    const peer = socket.getPeerCertificate();
    // Node types authorizationError as Error; at run time it is the OpenSSL verify code (a string).
    const reason: unknown = socket.authorizationError;
    accepted.push({ serial: canonicalSerial(peer.serialNumber), authorized: socket.authorized, authorizationError: reason === undefined || reason === null ? undefined : String(reason) });
    socket.end(`hello ${canonicalSerial(peer.serialNumber)}`);
  });
  server.on('tlsClientError', (error) => clientErrors.push(error.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    accepted,
    clientErrors,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A plain `GET` over node:http, like curl: no header is added (fetch adds Cache-Control: no-cache to conditional requests). */
function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

function tlsClient(port: number, options: tls.ConnectionOptions): Promise<{ received: string; error: string | undefined }> {
  return new Promise((resolve) => {
    let received = '';
    let error: string | undefined;
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = `${e.code ?? ''} ${e.message}`;
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS client timed out')));
    socket.on('close', () => resolve({ received, error }));
  });
}

describe('revocation, CRLs and OCSP end to end', () => {
  let trustroot: TestTrustroot;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let db: pg.Client;
  let rootPem: string;
  let intermediatePem: string;
  let adminToken: string;
  let adminTokenId: string;
  let security: CreatedApiTokenDto;
  let ci: CreatedApiTokenDto;
  let auditor: CreatedApiTokenDto;
  const identities = new Map<string, Identity>();
  let crlBefore: CrlText;
  let etagBefore: string;
  let labelCounter = 0;
  /** The key of aml-1 and aml-2, revoked in section 8. */
  let amlSpki: string | undefined;

  before(async () => {
    trustroot = await startTestTrustroot();
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database must yield an initial admin token');
    adminToken = initial;
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    intermediatePem = await (await fetch(`${trustroot.publicUrl}/ca/intermediate.pem`)).text();
    assert.match(rootPem, /BEGIN CERTIFICATE/);
    assert.match(intermediatePem, /BEGIN CERTIFICATE/);
    files = await pemFiles({
      'root.pem': rootPem,
      'intermediate.pem': intermediatePem,
      // For `openssl crl -CAfile`: the issuer of the CRL and its root.
      'chain.pem': intermediatePem + rootPem,
    });
    db = new pg.Client({ connectionString: trustroot.database.url });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await files?.cleanup();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  const api = (pathAndQuery: string, options: Omit<HttpsRequestOptions, 'ca'> = {}) =>
    httpsRequest(`${trustroot.apiUrl}${pathAndQuery}`, { ...options, ca: rootPem });
  const withToken = (token: string | undefined, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const asService = (identity: Identity, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      cert: identity.certificatePem + identity.chainPem,
      key: identity.keyPem,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
  const revoke = (token: string | undefined, serial: string, body: unknown) => withToken(token, 'POST', `/v1/certificates/${serial}/revoke`, body);

  function identity(label: string): Identity {
    const found = identities.get(label);
    assert.ok(found, `no identity ${label} (an earlier test failed)`);
    return found;
  }

  async function mintBootstrapToken(service: string): Promise<BootstrapTokenDto> {
    return parseJson<BootstrapTokenDto>(await withToken(adminToken, 'POST', `/v1/services/${service}/bootstrap-tokens`, {}), 201);
  }

  /** An OpenSSL-made P-256 CSR; with `reuseKeyFile`, for that existing key. */
  async function makeCsr(label: string, commonName: string, sans: string[], reuseKeyFile?: string): Promise<{ csrPem: string; keyFile: string }> {
    const keyFile = reuseKeyFile ?? files.path(`${label}.key`);
    const keyArgs = reuseKeyFile ? ['-key', reuseKeyFile] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
    const made = await openssl([
      'req', '-new', ...keyArgs, '-out', files.path(`${label}.csr`),
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${sans.map((name) => `DNS:${name}`).join(',')}`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    return { csrPem: await readFile(files.path(`${label}.csr`), 'utf8'), keyFile };
  }

  /** A service gets a peer certificate with a fresh bootstrap token and an OpenSSL CSR. */
  async function issue(label: string, service: string, reuseKeyFile?: string): Promise<Identity> {
    const token = await mintBootstrapToken(service);
    const { csrPem, keyFile } = await makeCsr(label, `${service}.svc`, [`${service}.svc`], reuseKeyFile);
    const issued = parseJson<IssuedCertificateDto>(await withToken(token.token, 'POST', '/v1/certificates', { csr: csrPem, profile: 'peer' }), 201);
    assert.equal(issued.service, service);
    const certificateFile = files.path(`${label}.pem`);
    await writeFile(certificateFile, issued.certificate);
    const made: Identity = {
      label,
      service,
      serial: issued.serial,
      keyPem: await readFile(keyFile, 'utf8'),
      certificatePem: issued.certificate,
      chainPem: issued.chain,
      certificateFile,
      keyFile,
    };
    identities.set(label, made);
    return made;
  }

  async function record(serial: string): Promise<CertificateDto> {
    return parseJson<CertificateDto>(await withToken(adminToken, 'GET', `/v1/certificates/${serial}`), 200);
  }

  /** GET a CRL (DER) from the public listener, curl-style. */
  async function fetchCrl(issuer: string, headers: Record<string, string> = {}) {
    const response = await httpGet(`${trustroot.publicUrl}/crl/${issuer}.crl`, headers);
    const header = (name: string): string | undefined => {
      const value = response.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    return { status: response.status, header, body: response.body };
  }

  /** The latest intermediate CRL, verified by OpenSSL against intermediate + root, as text. */
  async function currentCrl(issuer = 'intermediate'): Promise<CrlText & { der: Buffer }> {
    const { status, header, body } = await fetchCrl(issuer);
    assert.equal(status, 200);
    assert.equal(header('content-type'), 'application/pkix-crl');
    labelCounter += 1;
    const derFile = files.path(`crl-${labelCounter}.der`);
    await writeFile(derFile, body);
    const verified = await openssl(['crl', '-inform', 'DER', '-in', derFile, '-CAfile', files.path('chain.pem'), '-noout']);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stderr + verified.stdout, /verify OK/);
    const text = await openssl(['crl', '-inform', 'DER', '-in', derFile, '-text', '-noout']);
    assert.equal(text.code, 0, text.stderr);
    return { ...parseCrlText(text.stdout), der: body };
  }

  /** The current intermediate CRL as a PEM file, for `openssl verify -CRLfile` and Node's TLS. */
  async function crlPemFile(issuer = 'intermediate'): Promise<{ file: string; pem: string }> {
    const response = await fetch(`${trustroot.publicUrl}/crl/${issuer}.pem`);
    assert.equal(response.status, 200);
    const pem = await response.text();
    labelCounter += 1;
    const file = files.path(`crl-${labelCounter}.pem`);
    await writeFile(file, pem);
    return { file, pem };
  }

  async function verifyWithCrl(leaf: Identity): Promise<{ code: number; output: string }> {
    const crl = await crlPemFile();
    const result = await openssl(['verify', '-crl_check', '-CRLfile', crl.file, '-CAfile', files.path('chain.pem'), leaf.certificateFile]);
    return { code: result.code, output: result.stdout + result.stderr };
  }

  /** `openssl ocsp` over HTTP POST to the public listener. */
  async function ocsp(leaf: { certificateFile: string }, options: { nonce?: boolean; issuer?: string; extra?: string[] } = {}) {
    const issuer = options.issuer ?? 'intermediate';
    const result = await openssl([
      'ocsp', '-issuer', files.path(`${issuer}.pem`), '-cert', leaf.certificateFile,
      '-url', `${trustroot.publicUrl}/ocsp/${issuer}`, '-CAfile', files.path('root.pem'),
      ...(options.nonce ? [] : ['-no_nonce']), ...(options.extra ?? []),
    ]);
    return result;
  }

  async function postOcsp(issuerPath: string, body: Buffer | Uint8Array): Promise<{ status: number; type: string | null; der: Buffer }> {
    const response = await fetch(`${trustroot.publicUrl}/ocsp/${issuerPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request' },
      body: new Uint8Array(body),
    });
    return { status: response.status, type: response.headers.get('content-type'), der: Buffer.from(await response.arrayBuffer()) };
  }

  /** An OCSP request written by OpenSSL (DER), for the given certificate or serial. */
  async function ocspRequest(label: string, issuer: string, target: string[]): Promise<Buffer> {
    const file = files.path(`${label}.ocsp-req.der`);
    const made = await openssl(['ocsp', '-issuer', files.path(`${issuer}.pem`), ...target, '-no_nonce', '-reqout', file]);
    assert.equal(made.code, 0, made.stderr);
    return readFile(file);
  }

  async function readOcspResponse(label: string, der: Buffer, args: string[]) {
    const file = files.path(`${label}.ocsp-resp.der`);
    await writeFile(file, der);
    return openssl(['ocsp', '-respin', file, ...args]);
  }

  /** What a refused request must not change. */
  async function counts(): Promise<{ revoked: string; audit: string; crls: string; blocked: string }> {
    const result = await db.query<{ revoked: string; audit: string; crls: string; blocked: string }>(
      `SELECT (SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL)::text AS revoked,
              (SELECT count(*) FROM audit_events)::text AS audit,
              (SELECT count(*) FROM crls)::text AS crls,
              (SELECT count(*) FROM blocked_keys)::text AS blocked`,
    );
    const row = result.rows[0];
    assert.ok(row);
    return row;
  }

  describe('1. set-up: services, tokens and certificates', () => {
    it('an admin creates liveness, compliance and aml, and security, ci and auditor API tokens', async () => {
      for (const name of ['liveness', 'compliance', 'aml']) {
        const service = parseJson<ServiceDto>(
          await withToken(adminToken, 'POST', '/v1/services', { name, owner: 'kyc-team', dnsNames: [`${name}.svc`, `*.${name}.svc`], profiles: ['peer'] }),
          201,
        );
        assert.equal(service.enabled, true);
      }
      const created = await Promise.all(
        (['security', 'ci', 'auditor'] as const).map(async (role) =>
          parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role, name: `${role}-team` }), 201),
        ),
      );
      [security, ci, auditor] = created as [CreatedApiTokenDto, CreatedApiTokenDto, CreatedApiTokenDto];
      assert.equal(security.role, 'security');
      const tokens = parseJson<{ tokens: { id: string; name: string }[] }>(await withToken(adminToken, 'GET', '/v1/api-tokens'), 200);
      const admin = tokens.tokens.find((t) => t.name === 'initial-admin');
      assert.ok(admin);
      adminTokenId = admin.id;
    });

    it('liveness (twice) and compliance get peer certificates from OpenSSL CSRs with bootstrap tokens', async () => {
      const liveness1 = await issue('liveness-1', 'liveness');
      const liveness2 = await issue('liveness-2', 'liveness');
      const compliance = await issue('compliance-1', 'compliance');
      assert.equal(new Set([liveness1.serial, liveness2.serial, compliance.serial]).size, 3);
      for (const leaf of [liveness1, liveness2, compliance]) {
        const certificate = new X509Certificate(leaf.certificatePem);
        assert.equal(canonicalSerial(certificate.serialNumber), leaf.serial);
        assert.ok(certificate.checkIssued(new X509Certificate(intermediatePem)));
        assert.equal((await record(leaf.serial)).status, 'active');
      }
    });
  });

  describe('2. before any revocation', () => {
    it('the intermediate CRL is DER application/pkix-crl, verifies against intermediate + root, and lists none of them', async () => {
      crlBefore = await currentCrl();
      for (const label of ['liveness-1', 'liveness-2', 'compliance-1']) {
        assert.equal(crlBefore.entries.has(identity(label).serial), false);
      }
      const etag = (await fetchCrl('intermediate')).header('etag');
      assert.ok(etag);
      etagBefore = etag;
    });

    it('openssl verify -crl_check accepts every certificate', async () => {
      for (const label of ['liveness-1', 'liveness-2', 'compliance-1']) {
        const result = await verifyWithCrl(identity(label));
        assert.equal(result.code, 0, result.output);
        assert.match(result.output, /: OK/);
      }
    });

    it('OCSP (POST, no nonce) says good, signed by the intermediate and verified up to root.pem', async () => {
      const leaf = identity('liveness-1');
      const result = await ocsp(leaf);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Response verify OK/);
      assert.ok(result.stdout.includes(`${leaf.certificateFile}: good`), result.stdout);
    });

    it('OCSP with a nonce verifies too: the nonce is echoed', async () => {
      const leaf = identity('compliance-1');
      const result = await ocsp(leaf, { nonce: true, extra: ['-resp_text'] });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Response verify OK/);
      assert.doesNotMatch(result.stdout + result.stderr, /WARNING: no nonce|nonce verify error/i);
      assert.match(result.stdout, /OCSP Nonce/);
      assert.ok(result.stdout.includes(`${leaf.certificateFile}: good`), result.stdout);
    });
  });

  describe('3. revoking a certificate for key compromise takes effect at once', () => {
    let revokedRecord: CertificateDto;
    const invalidityDate = new Date(Date.now() - 2 * HOUR_MS);
    invalidityDate.setUTCMilliseconds(0);

    it('a security token revokes liveness-1 (keyCompromise, invalidityDate in the past) → 200 revoked', async () => {
      const leaf = identity('liveness-1');
      const started = Date.now();
      revokedRecord = parseJson<CertificateDto>(
        await revoke(security.token, leaf.serial, { reason: 'keyCompromise', invalidityDate: invalidityDate.toISOString() }),
        200,
      );
      assert.equal(revokedRecord.serial, leaf.serial);
      assert.equal(revokedRecord.status, 'revoked');
      assert.equal(revokedRecord.revocationReason, 'keyCompromise');
      assert.ok(revokedRecord.revokedAt);
      const revokedAt = Date.parse(revokedRecord.revokedAt);
      assert.ok(revokedAt >= started - 1_000 && revokedAt <= Date.now() + 1_000, revokedRecord.revokedAt);
      const stored = await record(leaf.serial);
      assert.equal(stored.status, 'revoked');
      assert.equal(stored.revokedAt, revokedRecord.revokedAt);
    });

    it('the CRL fetched right away lists it as Key Compromise with its invalidity date, under a higher CRL Number', async () => {
      const crl = await currentCrl();
      assert.ok(crl.crlNumber > crlBefore.crlNumber, `${crl.crlNumber} after ${crlBefore.crlNumber}`);
      const entry = crl.entries.get(identity('liveness-1').serial);
      assert.ok(entry, crl.text);
      assert.equal(entry.reason, 'Key Compromise');
      assert.equal(entry.invalidityDate?.getTime(), invalidityDate.getTime(), crl.text);
      assert.equal(Math.floor(entry.revocationDate.getTime() / 1000), Math.floor(Date.parse(revokedRecord.revokedAt ?? '') / 1000));
      assert.equal(crl.entries.has(identity('liveness-2').serial), false);
      assert.equal(crl.entries.has(identity('compliance-1').serial), false);
    });

    it('openssl verify -crl_check now fails with "certificate revoked"; the others still pass', async () => {
      const revoked = await verifyWithCrl(identity('liveness-1'));
      assert.notEqual(revoked.code, 0, revoked.output);
      assert.match(revoked.output, /certificate revoked/);
      const other = await verifyWithCrl(identity('compliance-1'));
      assert.equal(other.code, 0, other.output);
    });

    it('OCSP by POST says revoked, Reason: keyCompromise', async () => {
      const leaf = identity('liveness-1');
      const result = await ocsp(leaf);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Response verify OK/);
      assert.ok(result.stdout.includes(`${leaf.certificateFile}: revoked`), result.stdout);
      assert.match(result.stdout, /Reason: keyCompromise/);
    });

    it('OCSP by GET (URL-encoded base64 in the path) gives the same answer', async () => {
      const leaf = identity('liveness-1');
      const request = await ocspRequest('get-liveness-1', 'intermediate', ['-cert', leaf.certificateFile]);
      const response = await fetch(`${trustroot.publicUrl}/ocsp/intermediate/${encodeURIComponent(request.toString('base64'))}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/ocsp-response');
      const parsed = await readOcspResponse('get-liveness-1', Buffer.from(await response.arrayBuffer()), [
        '-issuer', files.path('intermediate.pem'), '-cert', leaf.certificateFile, '-CAfile', files.path('root.pem'), '-no_nonce',
      ]);
      assert.equal(parsed.code, 0, parsed.stderr);
      assert.match(parsed.stderr, /Response verify OK/);
      assert.ok(parsed.stdout.includes(`${leaf.certificateFile}: revoked`), parsed.stdout);
      assert.match(parsed.stdout, /Reason: keyCompromise/);
    });
  });

  describe('4. revocation is idempotent; only keyCompromise may replace a reason', () => {
    it('revoking liveness-1 again with the same reason → 200, unchanged', async () => {
      const leaf = identity('liveness-1');
      const first = await record(leaf.serial);
      const crlsBefore = await counts();
      const again = parseJson<CertificateDto>(await revoke(security.token, leaf.serial, { reason: 'keyCompromise' }), 200);
      assert.equal(again.status, 'revoked');
      assert.equal(again.revokedAt, first.revokedAt);
      assert.equal(again.revocationReason, 'keyCompromise');
      // Nothing changed, so nothing was recorded or republished.
      assert.deepEqual(await counts(), crlsBefore);
    });

    it('revoking liveness-1 again as superseded → 409 conflict, and the reason stays', async () => {
      const leaf = identity('liveness-1');
      const before_ = await counts();
      assertProblem(await revoke(security.token, leaf.serial, { reason: 'superseded' }), 409, 'conflict');
      assert.equal((await record(leaf.serial)).revocationReason, 'keyCompromise');
      assert.deepEqual(await counts(), before_);
    });

    it('liveness-2 revoked for cessationOfOperation, then raised to keyCompromise: same revokedAt, CRL reason changes', async () => {
      const leaf = identity('liveness-2');
      const first = parseJson<CertificateDto>(await revoke(adminToken, leaf.serial, { reason: 'cessationOfOperation' }), 200);
      assert.equal(first.revocationReason, 'cessationOfOperation');
      const crl1 = await currentCrl();
      assert.equal(crl1.entries.get(leaf.serial)?.reason, 'Cessation Of Operation', crl1.text);
      const ocsp1 = await ocsp(leaf);
      assert.match(ocsp1.stdout, /Reason: cessationOfOperation/);

      assertProblem(await revoke(adminToken, leaf.serial, { reason: 'affiliationChanged' }), 409, 'conflict');

      const raised = parseJson<CertificateDto>(await revoke(security.token, leaf.serial, { reason: 'keyCompromise' }), 200);
      assert.equal(raised.revocationReason, 'keyCompromise');
      assert.equal(raised.revokedAt, first.revokedAt);
      const crl2 = await currentCrl();
      assert.ok(crl2.crlNumber > crl1.crlNumber);
      assert.equal(crl2.entries.get(leaf.serial)?.reason, 'Key Compromise', crl2.text);
      assert.equal(crl2.entries.get(leaf.serial)?.revocationDate.getTime(), crl1.entries.get(leaf.serial)?.revocationDate.getTime());
      const ocsp2 = await ocsp(leaf);
      assert.match(ocsp2.stdout, /Reason: keyCompromise/);
    });
  });

  describe('5. a Node mTLS server with the CRL refuses the revoked client', () => {
    let strict: MtlsServer;
    /** The same trust and CRLs but rejectUnauthorized: false, to read why a client did not verify. */
    let observing: MtlsServer;
    before(async () => {
      const compliance = identity('compliance-1');
      // Node sets X509_V_FLAG_CRL_CHECK_ALL with `crl`: every CA in the chain needs a CRL, so the
      // root's CRL (covering the intermediate) goes in with the intermediate's.
      const intermediateCrl = await crlPemFile('intermediate');
      const rootCrl = await crlPemFile('root');
      const options: tls.TlsOptions = {
        key: compliance.keyPem,
        cert: compliance.certificatePem + compliance.chainPem,
        ca: [rootPem, intermediatePem],
        crl: [intermediateCrl.pem, rootCrl.pem],
      };
      strict = await startMtlsServer(options);
      observing = await startMtlsServer({ ...options, rejectUnauthorized: false });
    });
    after(async () => {
      await strict?.close();
      await observing?.close();
    });

    const connect = (server: MtlsServer, leaf: Identity) =>
      tlsClient(server.port, { servername: 'compliance.svc', ca: rootPem, key: leaf.keyPem, cert: leaf.certificatePem + leaf.chainPem });

    it('liveness-1 (revoked) is refused: the handshake is dropped and nothing is served', async () => {
      const outcome = await connect(strict, identity('liveness-1'));
      assert.equal(outcome.received, '');
      assert.deepEqual(strict.accepted, []);
      assert.equal(strict.clientErrors.length, 1);
    });

    it('the reason is the revocation: OpenSSL’s verify result for liveness-1 is CERT_REVOKED', async () => {
      const leaf = identity('liveness-1');
      await connect(observing, leaf);
      assert.deepEqual(observing.accepted, [{ serial: leaf.serial, authorized: false, authorizationError: 'CERT_REVOKED' }]);
    });

    it('compliance-1 (not revoked) is accepted by the same strict server', async () => {
      const leaf = identity('compliance-1');
      const outcome = await connect(strict, leaf);
      assert.equal(outcome.error, undefined);
      assert.equal(outcome.received, `hello ${leaf.serial}`);
      assert.deepEqual(strict.accepted, [{ serial: leaf.serial, authorized: true, authorizationError: undefined }]);
      assert.equal(strict.clientErrors.length, 1);
    });
  });

  describe('6. a service revokes its own certificate over mTLS', () => {
    it('compliance presenting its certificate may not revoke liveness’s → 403', async () => {
      const target = await issue('liveness-3', 'liveness');
      const before_ = await counts();
      assertProblem(await asService(identity('compliance-1'), 'POST', `/v1/certificates/${target.serial}/revoke`, { reason: 'keyCompromise' }), 403, 'forbidden');
      assert.equal((await record(target.serial)).status, 'active');
      assert.deepEqual(await counts(), before_);
    });

    it('compliance revokes its own certificate → 200; the audit actor is the certificate', async () => {
      const leaf = identity('compliance-1');
      const revoked = parseJson<CertificateDto>(await asService(leaf, 'POST', `/v1/certificates/${leaf.serial}/revoke`, { reason: 'cessationOfOperation' }), 200);
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.revocationReason, 'cessationOfOperation');
      const crl = await currentCrl();
      assert.equal(crl.entries.get(leaf.serial)?.reason, 'Cessation Of Operation');
      // The revoked certificate no longer authenticates.
      assertProblem(await asService(leaf, 'GET', `/v1/certificates/${leaf.serial}`), 401, 'unauthorized');
    });
  });

  describe('7. revoking a service identity', () => {
    let pendingToken: BootstrapTokenDto;
    let outcome: ServiceRevocationDto;

    it('POST /v1/services/liveness/revoke revokes its unrevoked certificates, disables it and its unused token', async () => {
      pendingToken = await mintBootstrapToken('liveness');
      const live = identity('liveness-3');
      const started = Date.now();
      outcome = parseJson<ServiceRevocationDto>(await withToken(adminToken, 'POST', '/v1/services/liveness/revoke', { reason: 'affiliationChanged' }), 200);
      assert.equal(outcome.service, 'liveness');
      assert.equal(outcome.disabled, true);
      assert.deepEqual(outcome.revoked, [live.serial]);
      assert.equal(outcome.bootstrapTokensRevoked, 1);
      const stored = await record(live.serial);
      assert.equal(stored.status, 'revoked');
      assert.equal(stored.revocationReason, 'affiliationChanged');
      assert.ok(Date.parse(stored.revokedAt ?? '') >= started - 1_000);
      // The earlier revocations keep their reason.
      assert.equal((await record(identity('liveness-1').serial)).revocationReason, 'keyCompromise');
      assert.equal((await record(identity('liveness-2').serial)).revocationReason, 'keyCompromise');
      const service = parseJson<ServiceDto>(await withToken(adminToken, 'GET', '/v1/services/liveness'), 200);
      assert.equal(service.enabled, false);
      assert.ok(service.disabledAt);
    });

    it('the CRL (republished before the response) lists liveness-3 as Affiliation Changed; OCSP agrees', async () => {
      const leaf = identity('liveness-3');
      const crl = await currentCrl();
      assert.equal(crl.entries.get(leaf.serial)?.reason, 'Affiliation Changed', crl.text);
      const result = await ocsp(leaf);
      assert.ok(result.stdout.includes(`${leaf.certificateFile}: revoked`), result.stdout);
      assert.match(result.stdout, /Reason: affiliationChanged/);
    });

    it('the bootstrap token minted before is refused (401), a new one cannot be minted (403), renewal is refused (401)', async () => {
      const { csrPem } = await makeCsr('liveness-late', 'liveness.svc', ['liveness.svc']);
      assertProblem(await withToken(pendingToken.token, 'POST', '/v1/certificates', { csr: csrPem, profile: 'peer' }), 401, 'unauthorized');
      assertProblem(await withToken(adminToken, 'POST', '/v1/services/liveness/bootstrap-tokens', {}), 403, 'forbidden');
      for (const label of ['liveness-1', 'liveness-2', 'liveness-3']) {
        assertProblem(await asService(identity(label), 'POST', '/v1/certificates/renew'), 401, 'unauthorized');
      }
    });
  });

  describe('8. revoking a public key', () => {

    it('aml has two certificates on one key; POST /v1/keys/{spki}/revoke revokes both for keyCompromise', async () => {
      const first = await issue('aml-1', 'aml');
      const second = await issue('aml-2', 'aml', first.keyFile);
      const firstRecord = await record(first.serial);
      const spki = firstRecord.spkiSha256;
      amlSpki = spki;
      assert.match(spki, /^[0-9a-f]{64}$/);
      assert.equal((await record(second.serial)).spkiSha256, spki);
      const outcome = parseJson<KeyRevocationDto>(await withToken(security.token, 'POST', `/v1/keys/${spki.toUpperCase()}/revoke`, {}), 200);
      assert.equal(outcome.spkiSha256, spki);
      assert.equal(outcome.blocked, true);
      assert.deepEqual([...outcome.revoked].sort(), [first.serial, second.serial].sort());
      for (const leaf of [first, second]) {
        const stored = await record(leaf.serial);
        assert.equal(stored.status, 'revoked');
        assert.equal(stored.revocationReason, 'keyCompromise');
      }
      const crl = await currentCrl();
      for (const leaf of [first, second]) assert.equal(crl.entries.get(leaf.serial)?.reason, 'Key Compromise', crl.text);
      const result = await ocsp(second);
      assert.match(result.stdout, /Reason: keyCompromise/);
    });

    it('a CSR for the same key with a fresh bootstrap token → 403 policy_violation, and the token is not consumed', async () => {
      const token = await mintBootstrapToken('aml');
      const { csrPem } = await makeCsr('aml-again', 'aml.svc', ['aml.svc'], identity('aml-1').keyFile);
      const before_ = await counts();
      assertProblem(await withToken(token.token, 'POST', '/v1/certificates', { csr: csrPem, profile: 'peer' }), 403, 'policy_violation');
      assert.deepEqual(await counts(), before_);
      const row = await db.query<{ used_at: Date | null }>('SELECT used_at FROM bootstrap_tokens WHERE id = $1', [token.id]);
      assert.equal(row.rows[0]?.used_at, null);
      // Still good for a new key.
      const { csrPem: fresh } = await makeCsr('aml-3', 'aml.svc', ['aml.svc']);
      const issued = parseJson<IssuedCertificateDto>(await withToken(token.token, 'POST', '/v1/certificates', { csr: fresh, profile: 'peer' }), 201);
      assert.equal(issued.service, 'aml');
      const certificateFile = files.path('aml-3.pem');
      await writeFile(certificateFile, issued.certificate);
      identities.set('aml-3', {
        label: 'aml-3', service: 'aml', serial: issued.serial, keyPem: await readFile(files.path('aml-3.key'), 'utf8'),
        certificatePem: issued.certificate, chainPem: issued.chain, certificateFile, keyFile: files.path('aml-3.key'),
      });
    });

    it('aml-3 renewing over mTLS with a CSR for the blocked key → 403 policy_violation; nothing is issued and aml-3 stays current', async () => {
      const { csrPem } = await makeCsr('aml-3-rekey', 'aml.svc', ['aml.svc'], identity('aml-1').keyFile);
      const issuedBefore = (await db.query<{ n: string }>('SELECT count(*)::text AS n FROM certificates')).rows[0]?.n;
      const before_ = await counts();
      const problem = assertProblem(await asService(identity('aml-3'), 'POST', '/v1/certificates/renew', { csr: csrPem }), 403, 'policy_violation');
      assert.match(problem.detail, /revoked for key compromise/);
      assert.deepEqual(await counts(), before_);
      assert.equal((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM certificates')).rows[0]?.n, issuedBefore);
      assert.equal((await record(identity('aml-3').serial)).status, 'active');
    });

    it('a key revocation also raises an already revoked certificate of that key to keyCompromise', async () => {
      const victim = await issue('aml-4', 'aml');
      parseJson<CertificateDto>(await revoke(security.token, victim.serial, { reason: 'superseded' }), 200);
      const spki4 = (await record(victim.serial)).spkiSha256;
      const outcome = parseJson<KeyRevocationDto>(await withToken(security.token, 'POST', `/v1/keys/${spki4}/revoke`, {}), 200);
      assert.deepEqual([...outcome.revoked, ...outcome.alreadyRevoked], [victim.serial], JSON.stringify(outcome));
      assert.equal((await record(victim.serial)).revocationReason, 'keyCompromise');
      const crl = await currentCrl();
      assert.equal(crl.entries.get(victim.serial)?.reason, 'Key Compromise', crl.text);
    });
  });

  describe('9. CRLs over HTTP', () => {
    it('intermediate.crl has ETag, Last-Modified and Cache-Control max-age ≤ 60; If-None-Match → 304 with no body', async () => {
      const { status, header, body } = await fetchCrl('intermediate');
      assert.equal(status, 200);
      assert.ok(body.length > 0);
      const etag = header('etag');
      assert.ok(etag);
      const lastModified = header('last-modified');
      assert.ok(lastModified && !Number.isNaN(Date.parse(lastModified)), String(lastModified));
      const cacheControl = header('cache-control') ?? '';
      const maxAge = /max-age=(\d+)/.exec(cacheControl)?.[1];
      assert.ok(maxAge !== undefined, cacheControl);
      assert.ok(Number(maxAge) <= 60, cacheControl);
      const conditional = await fetchCrl('intermediate', { 'if-none-match': etag });
      assert.equal(conditional.status, 304);
      assert.equal(conditional.body.length, 0);
      assert.equal(conditional.header('etag'), etag);
      // Revocations happened since section 2: the validator changed with the CRL.
      assert.notEqual(etag, etagBefore);
    });

    it('after another revocation the ETag changes, and the old one gets the new CRL (200)', async () => {
      const etag = (await fetchCrl('intermediate')).header('etag');
      assert.ok(etag);
      parseJson<CertificateDto>(await revoke(adminToken, identity('aml-3').serial, { reason: 'privilegeWithdrawn' }), 200);
      const stale = await fetchCrl('intermediate', { 'if-none-match': etag });
      assert.equal(stale.status, 200);
      const newEtag = stale.header('etag');
      assert.ok(newEtag);
      assert.notEqual(newEtag, etag);
      assert.equal((await fetchCrl('intermediate', { 'if-none-match': newEtag })).status, 304);
      const crl = await currentCrl();
      assert.equal(crl.entries.get(identity('aml-3').serial)?.reason, 'Privilege Withdrawn', crl.text);
      assert.ok(crl.der.equals(stale.body));
    });

    it('intermediate.pem is the same CRL in PEM', async () => {
      const response = await fetch(`${trustroot.publicUrl}/crl/intermediate.pem`);
      assert.equal(response.status, 200);
      const pem = await response.text();
      assert.match(pem, /^-----BEGIN X509 CRL-----\n/);
      assert.match(pem, /-----END X509 CRL-----\n$/);
      const der = await currentCrl();
      const body = pem.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, '');
      assert.ok(Buffer.from(body, 'base64').equals(der.der));
    });

    it('root.crl exists and verifies against root.pem', async () => {
      const { status, body } = await fetchCrl('root');
      assert.equal(status, 200);
      await writeFile(files.path('root.crl'), body);
      const verified = await openssl(['crl', '-inform', 'DER', '-in', files.path('root.crl'), '-CAfile', files.path('root.pem'), '-noout']);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stderr + verified.stdout, /verify OK/);
      // Signed by the root, not the intermediate: it does not verify against the intermediate alone.
      const wrong = await openssl(['crl', '-inform', 'DER', '-in', files.path('root.crl'), '-CAfile', files.path('intermediate.pem'), '-noout']);
      assert.doesNotMatch(wrong.stderr + wrong.stdout, /verify OK/);
    });

    it('/crl/nope.crl → 4xx problem', async () => {
      const response = await fetch(`${trustroot.publicUrl}/crl/nope.crl`);
      assert.ok(response.status >= 400 && response.status < 500, String(response.status));
      assert.match(String(response.headers.get('content-type')), /^application\/problem\+json/);
      const problem = (await response.json()) as Problem;
      assert.equal(problem.status, response.status);
    });
  });

  describe('10. OCSP refuses bad input with OCSP error responses', () => {
    const cases: { name: string; path: string; body: () => Promise<Buffer> | Buffer; expected: RegExp }[] = [
      { name: 'garbage', path: 'intermediate', body: () => Buffer.from('this is not an OCSP request'), expected: /Responder Error: malformedrequest \(1\)/ },
      { name: 'an empty body', path: 'intermediate', body: () => Buffer.alloc(0), expected: /Responder Error: malformedrequest \(1\)/ },
      { name: 'a 20 KiB body', path: 'intermediate', body: () => randomBytes(20 * 1024), expected: /Responder Error: malformedrequest \(1\)/ },
      {
        name: 'a valid request to an unknown issuer (/ocsp/nope)',
        path: 'nope',
        body: () => ocspRequest('nope', 'intermediate', ['-cert', identity('aml-3').certificateFile]),
        expected: /Responder Error: unauthorized \(6\)/,
      },
    ];
    for (const testCase of cases) {
      it(`${testCase.name} → 200 application/ocsp-response with the right error status`, async () => {
        const response = await postOcsp(testCase.path, await testCase.body());
        assert.equal(response.status, 200);
        assert.equal(response.type, 'application/ocsp-response');
        const parsed = await readOcspResponse(`bad-${testCase.path}-${response.der.length}`, response.der, ['-noverify']);
        assert.match(parsed.stdout + parsed.stderr, testCase.expected);
      });
    }

    it('a serial Trustroot never issued → unknown (signed answer)', async () => {
      const request = await ocspRequest('unknown-serial', 'intermediate', ['-serial', '0x1234']);
      const response = await postOcsp('intermediate', request);
      assert.equal(response.status, 200);
      const parsed = await readOcspResponse('unknown-serial', response.der, [
        '-issuer', files.path('intermediate.pem'), '-serial', '0x1234', '-CAfile', files.path('root.pem'), '-no_nonce',
      ]);
      assert.match(parsed.stderr, /Response verify OK/);
      assert.match(parsed.stdout, /0x1234: unknown/);
    });

    it('asking /ocsp/root about the intermediate → good, signed by the root', async () => {
      const result = await ocsp({ certificateFile: files.path('intermediate.pem') }, { issuer: 'root' });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /Response verify OK/);
      assert.ok(result.stdout.includes(`${files.path('intermediate.pem')}: good`), result.stdout);
    });
  });

  describe('11. authorization: refusals change nothing', () => {
    let target: Identity;
    before(async () => {
      target = await issue('aml-5', 'aml');
    });

    const refusals: { name: string; token: () => string | undefined; serial?: () => string; body: unknown; status: number; kind: string }[] = [
      { name: 'a ci token', token: () => ci.token, body: { reason: 'keyCompromise' }, status: 403, kind: 'forbidden' },
      { name: 'an auditor token', token: () => auditor.token, body: { reason: 'keyCompromise' }, status: 403, kind: 'forbidden' },
      { name: 'no credentials', token: () => undefined, body: { reason: 'keyCompromise' }, status: 401, kind: 'unauthorized' },
      { name: 'an unknown serial', token: () => adminToken, serial: () => '1234abcd', body: { reason: 'keyCompromise' }, status: 404, kind: 'not_found' },
      { name: 'reason certificateHold', token: () => adminToken, body: { reason: 'certificateHold' }, status: 400, kind: 'bad_request' },
      { name: 'an invalidityDate in the future', token: () => adminToken, body: { reason: 'keyCompromise', invalidityDate: new Date(Date.now() + HOUR_MS).toISOString() }, status: 400, kind: 'bad_request' },
    ];
    for (const refusal of refusals) {
      it(`${refusal.name} → ${refusal.status}`, async () => {
        const before_ = await counts();
        const serial = refusal.serial?.() ?? target.serial;
        assertProblem(await revoke(refusal.token(), serial, refusal.body), refusal.status, refusal.kind);
        assert.deepEqual(await counts(), before_);
        assert.equal((await record(target.serial)).status, 'active');
      });
    }

    it('service and key revocation need admin or security too', async () => {
      const before_ = await counts();
      const spki = (await record(target.serial)).spkiSha256;
      for (const token of [ci.token, auditor.token]) {
        assertProblem(await withToken(token, 'POST', '/v1/services/aml/revoke', { reason: 'keyCompromise' }), 403, 'forbidden');
        assertProblem(await withToken(token, 'POST', `/v1/keys/${spki}/revoke`, {}), 403, 'forbidden');
      }
      assertProblem(await withToken(undefined, 'POST', '/v1/services/aml/revoke', { reason: 'keyCompromise' }), 401, 'unauthorized');
      assertProblem(await withToken(undefined, 'POST', `/v1/keys/${spki}/revoke`, {}), 401, 'unauthorized');
      assertProblem(await withToken(adminToken, 'POST', '/v1/services/no-such-service/revoke', { reason: 'keyCompromise' }), 404, 'not_found');
      assert.deepEqual(await counts(), before_);
      const service = parseJson<ServiceDto>(await withToken(adminToken, 'GET', '/v1/services/aml'), 200);
      assert.equal(service.enabled, true);
    });
  });

  describe('12. the audit trail', () => {
    interface AuditRow {
      actor: string;
      actor_role: string | null;
      action: string;
      target_id: string | null;
      details: Record<string, unknown>;
    }
    let rows: AuditRow[];
    before(async () => {
      rows = (await db.query<AuditRow>('SELECT actor, actor_role, action, target_id, details FROM audit_events ORDER BY seq')).rows;
    });
    const byAction = (action: string) => rows.filter((row) => row.action === action);

    it('certificate.revoked names who revoked what, and why', () => {
      const revoked = byAction('certificate.revoked');
      const find = (label: string) => revoked.filter((row) => row.target_id === identity(label).serial);
      const liveness1 = find('liveness-1');
      assert.equal(liveness1.length, 1, 'the unchanged repeat is not recorded');
      assert.equal(liveness1[0]?.actor, `api-token:${security.id}`);
      assert.equal(liveness1[0]?.actor_role, 'security');
      assert.equal(liveness1[0]?.details.reason, 'keyCompromise');
      assert.ok(liveness1[0]?.details.invalidityDate);
      assert.deepEqual(find('liveness-2').map((row) => [row.actor, row.details.reason]), [
        [`api-token:${adminTokenId}`, 'cessationOfOperation'],
        [`api-token:${security.id}`, 'keyCompromise'],
      ]);
      const compliance = identity('compliance-1');
      assert.deepEqual(find('compliance-1').map((row) => [row.actor, row.actor_role]), [[`mtls:${compliance.serial}`, 'service:compliance']]);
      assert.deepEqual(find('liveness-3').map((row) => [row.actor, row.details.via]), [[`api-token:${adminTokenId}`, 'service.revoked']]);
      for (const label of ['aml-1', 'aml-2']) {
        assert.deepEqual(find(label).map((row) => [row.actor, row.details.reason, row.details.via]), [[`api-token:${security.id}`, 'keyCompromise', 'key.revoked']]);
      }
      assert.deepEqual(find('aml-5'), [], 'refusals leave no trace');
    });

    it('service.revoked and key.revoked', () => {
      const service = byAction('service.revoked');
      assert.equal(service.length, 1);
      assert.equal(service[0]?.target_id, 'liveness');
      assert.equal(service[0]?.actor, `api-token:${adminTokenId}`);
      assert.equal(service[0]?.actor_role, 'admin');
      assert.deepEqual(service[0]?.details.certificates, [identity('liveness-3').serial]);
      assert.equal(service[0]?.details.bootstrapTokensRevoked, 1);
      const key = byAction('key.revoked').filter((row) => row.target_id === amlSpki);
      assert.equal(key.length, 1, JSON.stringify(byAction('key.revoked')));
      assert.equal(key[0]?.actor, `api-token:${security.id}`);
      assert.equal(key[0]?.actor_role, 'security');
      assert.deepEqual([...((key[0]?.details.certificates as string[] | undefined) ?? [])].sort(), [identity('aml-1').serial, identity('aml-2').serial].sort());
    });

    it('crl.published by the system, one per revocation that changed something, with strictly increasing numbers', () => {
      const published = byAction('crl.published');
      assert.ok(published.every((row) => row.actor === 'system'));
      const intermediate = published.filter((row) => row.details.issuer === 'intermediate');
      const numbers = intermediate.map((row) => BigInt(String(row.details.crlNumber)));
      for (let i = 1; i < numbers.length; i += 1) assert.ok((numbers[i] ?? 0n) > (numbers[i - 1] ?? 0n), numbers.join(','));
      const afterRevocation = intermediate.filter((row) => row.details.why === 'revocation');
      // liveness-1, liveness-2 twice, compliance-1, liveness service, aml key, aml-3 + aml-4.
      assert.ok(afterRevocation.length >= 7, String(afterRevocation.length));
      assert.ok(published.some((row) => row.details.issuer === 'root' && row.details.why === 'first'));
    });
  });
});

/*
 * Two CRLs published within the same second have the same Last-Modified (HTTP dates have whole
 * seconds). A frozen clock makes that deterministic: a relying party that revalidates with
 * If-Modified-Since must still get the new CRL after a revocation.
 */
describe('conditional CRL requests when CRLs are published within one second (frozen clock)', () => {
  let trustroot: TestTrustroot;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  let rootPem: string;
  let target: string;
  let before_: { etag: string; lastModified: string; body: Buffer };

  before(async () => {
    trustroot = await startTestTrustroot({ clock: new FakeClock() });
    const adminToken = trustroot.instance.initialAdminToken;
    assert.ok(adminToken);
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    files = await pemFiles({});
    const call = (method: string, path: string, body: unknown) =>
      httpsRequest(`${trustroot.apiUrl}${path}`, {
        ca: rootPem,
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    parseJson<ServiceDto>(await call('POST', '/v1/services', { name: 'frozen', owner: 'platform', dnsNames: ['frozen.svc'], profiles: ['peer'] }), 201);
    const made = await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', files.path('frozen.key'),
      '-out', files.path('frozen.csr'), '-subj', '/CN=frozen.svc', '-addext', 'subjectAltName=DNS:frozen.svc',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const csr = await readFile(files.path('frozen.csr'), 'utf8');
    target = parseJson<IssuedCertificateDto>(await call('POST', '/v1/certificates', { csr, profile: 'peer', service: 'frozen' }), 201).serial;
    const first = await httpGet(`${trustroot.publicUrl}/crl/intermediate.crl`);
    assert.equal(first.status, 200);
    const etag = first.headers.etag;
    const lastModified = first.headers['last-modified'];
    assert.ok(etag && lastModified);
    before_ = { etag, lastModified, body: first.body };
    parseJson<CertificateDto>(await call('POST', `/v1/certificates/${target}/revoke`, { reason: 'keyCompromise' }), 200);
  });
  after(async () => {
    await files?.cleanup();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  it('If-None-Match with the old ETag → 200 and the new CRL', async () => {
    const response = await httpGet(`${trustroot.publicUrl}/crl/intermediate.crl`, { 'if-none-match': before_.etag });
    assert.equal(response.status, 200);
    assert.notEqual(response.headers.etag, before_.etag);
    assert.ok(!response.body.equals(before_.body));
  });

  it(
    'If-Modified-Since with the old Last-Modified → 200 and the new CRL, not 304',
    async () => {
      const response = await httpGet(`${trustroot.publicUrl}/crl/intermediate.crl`, { 'if-modified-since': before_.lastModified });
      assert.equal(response.status, 200, `the CRL changed (ETag ${String(response.headers.etag)} vs ${before_.etag}) but the server answered ${response.status}`);
      await writeFile(files.path('new.crl'), response.body);
      const text = await openssl(['crl', '-inform', 'DER', '-in', files.path('new.crl'), '-text', '-noout']);
      assert.ok(parseCrlText(text.stdout).entries.has(target), text.stdout);
    },
  );
});
