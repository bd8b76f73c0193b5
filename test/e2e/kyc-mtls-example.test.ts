import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { type ComplianceConfig, type CheckResult, type RunningCompliance, startCompliance } from '../../examples/kyc-mtls/compliance.ts';
import { type IdVerificationConfig, type RunningIdVerification, startIdVerification, type VerifyResult } from '../../examples/kyc-mtls/id-verification.ts';
import { MtlsClient, PeerCallError } from '../../examples/kyc-mtls/mtls-client.ts';
import { canonicalSerial, type CredentialChange, type Log, type MtlsCredentials } from '../../examples/kyc-mtls/mtls-credentials.ts';
import { generateKeyAndCsr } from '../../src/client/generate-key-and-csr.ts';
import { sha256Fingerprint } from '../../src/client/sha256-fingerprint.ts';
import { TrustrootClient } from '../../src/client/trustroot-client.ts';
import { openssl } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * examples/kyc-mtls end to end: a real Trustroot, and the two example services started in this
 * process through their start functions on real TLS sockets. The test plays a third service,
 * `onboarding`, the caller compliance allows. Flow: bootstrap with single-use tokens → mTLS call
 * → identity checks → rotation without restarting the listeners (one renewal through the
 * service's hook, one by `trustroot renew --dir` picked up by the file watcher) → revocation of
 * compliance's certificate, refused by id-verification once it refreshed its CRL. Every wait is
 * on an event or a promise; nothing sleeps.
 */

const REPO = path.resolve(import.meta.dirname, '../..');
const LIMIT = { timeout: 30_000 };

interface Identity {
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  serial: string;
}

interface LogLine {
  event: string;
  fields: Record<string, unknown>;
}

/** A log that keeps its lines for assertions. */
function recordingLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, log: (event, fields = {}) => lines.push({ event, fields }) };
}

type CallOutcome<T> = { ok: true; status: number; body: T; serverSerial: string } | { ok: false; code: string; message: string };

/**
 * One POST on a new connection, as `identity` (or with no certificate), trusting `ca` only and
 * checking that the server's certificate carries `serverName`.
 */
function call<T>(port: number, serverName: string, urlPath: string, body: unknown, ca: string, identity?: Identity): Promise<CallOutcome<T>> {
  const text = JSON.stringify(body);
  return new Promise((resolve) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: 'POST',
        agent: false,
        ca,
        servername: serverName,
        checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(serverName, certificate),
        ...(identity ? { key: identity.keyPem, cert: identity.certificatePem + identity.chainPem } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        timeout: 10_000,
      },
      (response) => {
        const serverSerial = canonicalSerial((response.socket as tls.TLSSocket).getPeerCertificate().serialNumber ?? '');
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ ok: true, status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T, serverSerial }));
      },
    );
    request.on('timeout', () => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? 'ERR_UNKNOWN', message: error.message }));
    request.end(text);
  });
}

/** A bare TLS handshake: what the server presented, whether the session was resumed, and how it ended. */
function handshake(
  port: number,
  options: tls.ConnectionOptions,
): Promise<{ serverSerial: string | undefined; session: Buffer | undefined; resumed: boolean; received: string; error: string | undefined }> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    let received = '';
    let error: string | undefined;
    let serverSerial: string | undefined;
    let resumed = false;
    const socket = tls.connect({ host: '127.0.0.1', port, ...options });
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
    });
    socket.once('secureConnect', () => {
      serverSerial = canonicalSerial(socket.getPeerCertificate().serialNumber ?? '');
      resumed = socket.isSessionReused();
      // An HTTP request, so that a TLS 1.3 server's verdict on our certificate (sent after the
      // client's side of the handshake is done) reaches us, and session tickets arrive.
      socket.write('POST /verify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}');
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('close', () => resolve({ serverSerial, session, resumed, received, error }));
  });
}

/** Resolves with the next change of `credentials` that satisfies `predicate`. */
function nextChange(credentials: MtlsCredentials, predicate: (change: CredentialChange) => boolean): Promise<CredentialChange> {
  return new Promise((resolve) => {
    const unsubscribe = credentials.onChange((change) => {
      if (!predicate(change)) return;
      unsubscribe();
      resolve(change);
    });
  });
}

/** `node bin/trustroot.mjs …`, with none of the outer TRUSTROOT_* variables. */
async function trustrootCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('TRUSTROOT_')) childEnv[key] = value;
  const child = spawn(process.execPath, [path.join(REPO, 'bin', 'trustroot.mjs'), ...args], { cwd: REPO, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

describe('examples/kyc-mtls: id-verification and compliance over mTLS with Trustroot', () => {
  let trustroot: TestTrustroot;
  let work: string;
  let rootPem: string;
  let admin: TrustrootClient;
  let onboarding: Identity;
  let idv: RunningIdVerification;
  let compliance: RunningCompliance;
  const idvLog = recordingLog();
  const complianceLog = recordingLog();

  /** onboarding → compliance `POST /check`, on a new connection. */
  const check = (documentNumber = 'P1234567') =>
    call<CheckResult & { error?: string; code?: string }>(compliance.port, 'compliance.svc', '/check', { applicantId: 'app-42', documentNumber }, rootPem, onboarding);

  before(async () => {
    trustroot = await startTestTrustroot();
    work = await mkdtemp(path.join(tmpdir(), 'kyc-mtls-'));
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    // In production the fingerprint comes from Trustroot's start-up log, out of band.
    const rootFingerprint = sha256Fingerprint(rootPem);
    const adminToken = trustroot.instance.initialAdminToken;
    assert.ok(adminToken);
    admin = await TrustrootClient.connect({ caUrl: trustroot.apiUrl, publicUrl: trustroot.publicUrl, rootFingerprint, token: adminToken });

    // The admin registers the three services, each allowed exactly its own name, and records
    // who relies on whom (expiry warnings reach the dependents too).
    for (const name of ['id-verification', 'compliance', 'onboarding']) {
      await admin.createService({ name, owner: 'kyc-platform', dnsNames: [`${name}.svc`], profiles: ['peer'] });
    }
    await admin.setDependencies('compliance', ['id-verification']);
    await admin.setDependencies('onboarding', ['compliance']);

    // The test's own identity, onboarding: a key made here and a certificate for its token.
    const onboardingToken = await admin.mintBootstrapToken('onboarding', { ttl: '10m' });
    const generated = await generateKeyAndCsr('p256', { commonName: 'onboarding.svc', sans: ['onboarding.svc'] });
    const issued = await admin.withCredentials({ token: onboardingToken.token }).issueCertificate({ csr: generated.csrPem, profile: 'peer' });
    onboarding = { keyPem: generated.privateKeyPem, certificatePem: issued.certificate, chainPem: issued.chain, serial: issued.serial };

    const trustrootSettings = (token: string) => ({ caUrl: trustroot.apiUrl, publicUrl: trustroot.publicUrl, rootFingerprint, bootstrapToken: token });
    const idvConfig: IdVerificationConfig = {
      trustroot: trustrootSettings((await admin.mintBootstrapToken('id-verification', { ttl: '10m' })).token),
      certDir: path.join(work, 'id-verification'),
      host: '127.0.0.1',
      port: 0,
      // The test drives every refresh through the hooks; the timers must not fire meanwhile.
      crlRefreshMs: 3_600_000,
      names: ['id-verification.svc'],
      allowedClients: ['compliance.svc'],
      log: idvLog.log,
    };
    idv = await startIdVerification(idvConfig);
    const complianceConfig: ComplianceConfig = {
      trustroot: trustrootSettings((await admin.mintBootstrapToken('compliance', { ttl: '10m' })).token),
      certDir: path.join(work, 'compliance'),
      host: '127.0.0.1',
      port: 0,
      crlRefreshMs: 3_600_000,
      names: ['compliance.svc'],
      allowedClients: ['onboarding.svc'],
      idVerificationUrl: `https://127.0.0.1:${idv.port}`,
      idVerificationName: 'id-verification.svc',
      log: complianceLog.log,
    };
    compliance = await startCompliance(complianceConfig);
  });

  after(async () => {
    await compliance?.close();
    await idv?.close();
    await trustroot?.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('each service bootstrapped its own certificate with its single-use token; the key stayed local', LIMIT, async () => {
    for (const [service, running] of [['id-verification', idv], ['compliance', compliance]] as const) {
      const dir = path.join(work, service);
      assert.equal((await stat(path.join(dir, 'key.pem'))).mode & 0o777, 0o600);
      const record = await admin.getCertificate(running.credentials.serial);
      assert.equal(record.service, service);
      assert.equal(record.status, 'active');
      assert.deepEqual(record.dnsNames, [`${service}.svc`]);
      assert.equal(sha256Fingerprint(await readFile(path.join(dir, 'ca.pem'), 'utf8')), sha256Fingerprint(rootPem));
    }
    assert.deepEqual((await admin.getDependencies('compliance')).reliesOn, ['id-verification']);
  });

  it('a restart reuses the credential directory: no token needed, same certificate', LIMIT, async () => {
    const restarted = recordingLog();
    const again = await startIdVerification({
      trustroot: { caUrl: trustroot.apiUrl, publicUrl: trustroot.publicUrl, rootFingerprint: sha256Fingerprint(rootPem) },
      certDir: path.join(work, 'id-verification'),
      host: '127.0.0.1',
      port: 0,
      crlRefreshMs: 3_600_000,
      names: ['id-verification.svc'],
      allowedClients: ['compliance.svc'],
      log: restarted.log,
    });
    try {
      assert.equal(again.credentials.serial, idv.credentials.serial);
      assert.deepEqual(restarted.lines.map((line) => line.event).slice(0, 1), ['credentials-loaded']);
    } finally {
      await again.close();
    }
  });

  it('onboarding → compliance → id-verification: each hop over mTLS, each side sees the other’s certificate', LIMIT, async () => {
    const outcome = await check();
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.status, 200, JSON.stringify(outcome.body));
    assert.equal(outcome.serverSerial, compliance.credentials.serial);
    assert.equal(outcome.body.decision, 'approved');
    assert.equal(outcome.body.identity.verified, true);
    // id-verification saw compliance's certificate; compliance saw id-verification's.
    assert.deepEqual(outcome.body.identity.caller, { name: 'compliance.svc', serial: compliance.credentials.serial });
    assert.equal(outcome.body.idVerificationSerial, idv.credentials.serial);

    const malformed = await check('not a passport');
    assert.ok(malformed.ok && malformed.status === 200);
    assert.equal(malformed.body.decision, 'manual-review');
  });

  it('a Trustroot certificate is not enough: id-verification answers 403 to a caller it does not allow', LIMIT, async () => {
    const outcome = await call<{ error: string }>(idv.port, 'id-verification.svc', '/verify', { applicantId: 'a', documentNumber: 'P1234567' }, rootPem, onboarding);
    assert.ok(outcome.ok, JSON.stringify(outcome));
    assert.equal(outcome.status, 403);
    assert.ok(idvLog.lines.some((line) => line.event === 'peer-refused' && line.fields.reason === 'not an allowed peer' && line.fields.serial === onboarding.serial));
  });

  it('compliance refuses a server that is not id-verification, even with a valid Trustroot certificate', LIMIT, async () => {
    // Dial compliance's own listener while expecting id-verification: its certificate says compliance.svc.
    const client = new MtlsClient({ credentials: compliance.credentials, baseUrl: `https://127.0.0.1:${compliance.port}`, serverName: 'id-verification.svc' });
    try {
      await assert.rejects(client.postJson('/verify', {}), (error: unknown) => error instanceof PeerCallError && error.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      client.close();
    }
  });

  it('a client with a certificate from another CA, or with none, is refused at the handshake', LIMIT, async () => {
    const dir = await mkdtemp(path.join(work, 'foreign-'));
    const made = await openssl([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-subj', '/CN=compliance.svc', '-addext', 'subjectAltName=DNS:compliance.svc', '-addext', 'extendedKeyUsage=clientAuth,serverAuth',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const impostor: Identity = { keyPem: await readFile(path.join(dir, 'key.pem'), 'utf8'), certificatePem: await readFile(path.join(dir, 'cert.pem'), 'utf8'), chainPem: '', serial: '' };
    const refusalsBefore = idvLog.lines.filter((line) => line.event === 'peer-refused').length;
    const servedBefore = idvLog.lines.filter((line) => line.event === 'verified').length;

    const foreign = await call(idv.port, 'id-verification.svc', '/verify', { applicantId: 'a', documentNumber: 'P1234567' }, rootPem, impostor);
    assert.equal(foreign.ok, false, JSON.stringify(foreign));
    const anonymous = await call(idv.port, 'id-verification.svc', '/verify', { applicantId: 'a', documentNumber: 'P1234567' }, rootPem);
    assert.equal(anonymous.ok, false, JSON.stringify(anonymous));

    const refusals = idvLog.lines.filter((line) => line.event === 'peer-refused').slice(refusalsBefore);
    assert.equal(refusals.length, 2, JSON.stringify(refusals));
    // OpenSSL's verification error for the stranger; no certificate at all for the anonymous one.
    assert.match(String(refusals[0]?.fields.reason), /^[A-Z_]+$/, JSON.stringify(refusals));
    assert.match(String(refusals[1]?.fields.reason), /PEER_DID_NOT_RETURN_A_CERTIFICATE/, JSON.stringify(refusals));
    assert.equal(idvLog.lines.filter((line) => line.event === 'verified').length, servedBefore, 'nothing was served');
  });

  it('rotation keeps the listeners: id-verification renews through its hook, new connections get the new certificate', LIMIT, async () => {
    const { server, port } = idv;
    const previous = idv.credentials.serial;
    const serial = await idv.credentials.renew();
    assert.notEqual(serial, previous);
    assert.equal(idv.server, server);
    assert.equal(server.listening, true);
    assert.equal(idv.port, port);
    // A new handshake on the same port presents the new certificate…
    const seen = await handshake(port, { servername: 'id-verification.svc', ca: rootPem, key: onboarding.keyPem, cert: onboarding.certificatePem + onboarding.chainPem });
    assert.equal(seen.serverSerial, serial);
    // …and so does compliance's next call (id-verification closed its idle kept-alive connections).
    const outcome = await check();
    assert.ok(outcome.ok && outcome.status === 200, JSON.stringify(outcome));
    assert.equal(outcome.body.idVerificationSerial, serial);
    assert.equal((await admin.getCertificate(previous)).status, 'superseded');
  });

  it('rotation by `trustroot renew --dir --rekey`: compliance notices the new files and presents them on new connections', LIMIT, async () => {
    const { server } = compliance;
    const previous = compliance.credentials.serial;
    const previousKey = await readFile(path.join(work, 'compliance', 'key.pem'), 'utf8');
    const reloaded = nextChange(compliance.credentials, (change) => change.reason === 'certificate');
    const renewed = await trustrootCli(['renew', '--dir', path.join(work, 'compliance'), '--rekey', '--json'], {
      TRUSTROOT_CA_URL: trustroot.apiUrl,
      TRUSTROOT_PUBLIC_URL: trustroot.publicUrl,
    });
    assert.equal(renewed.code, 0, renewed.stderr);
    const { serial } = JSON.parse(renewed.stdout) as { serial: string };
    // The file watcher, not a restart: same server object, still listening.
    assert.equal((await reloaded).serial, serial);
    assert.equal(compliance.credentials.serial, serial);
    assert.notEqual(serial, previous);
    assert.notEqual(await readFile(path.join(work, 'compliance', 'key.pem'), 'utf8'), previousKey);
    assert.equal(compliance.server, server);
    assert.equal(server.listening, true);

    const outcome = await check();
    assert.ok(outcome.ok && outcome.status === 200, JSON.stringify(outcome));
    // compliance presented its new certificate to onboarding and to id-verification.
    assert.equal(outcome.serverSerial, serial);
    assert.deepEqual(outcome.body.identity.caller, { name: 'compliance.svc', serial });
  });

  describe('revocation of compliance’s certificate', () => {
    let revokedSerial: string;
    let complianceIdentity: Identity;
    let sessionBefore: Buffer | undefined;

    before(async () => {
      const dir = path.join(work, 'compliance');
      const [keyPem, certificatePem, chainPem] = await Promise.all(['key.pem', 'cert.pem', 'chain.pem'].map((name) => readFile(path.join(dir, name), 'utf8')));
      revokedSerial = compliance.credentials.serial;
      complianceIdentity = { keyPem: keyPem ?? '', certificatePem: certificatePem ?? '', chainPem: chainPem ?? '', serial: revokedSerial };
      assert.equal(canonicalSerial(new X509Certificate(complianceIdentity.certificatePem).serialNumber), revokedSerial);
      // A TLS session made before the revocation, to try to resume afterwards.
      const first = await handshake(idv.port, { servername: 'id-verification.svc', ca: rootPem, key: keyPem, cert: (certificatePem ?? '') + chainPem });
      assert.match(first.received, /^HTTP\/1.1 400/);
      sessionBefore = first.session;
      assert.ok(sessionBefore, 'id-verification issues TLS session tickets');
      // Resumption works as long as nothing was revoked: the check below is not vacuous.
      const again = await handshake(idv.port, { servername: 'id-verification.svc', ca: rootPem, key: keyPem, cert: (certificatePem ?? '') + chainPem, session: sessionBefore });
      assert.equal(again.resumed, true);
      assert.match(again.received, /^HTTP\/1.1 400/);
    });

    it('until id-verification refreshes its CRL it cannot know: the call still succeeds (and leaves a kept-alive connection)', LIMIT, async () => {
      const revoked = await admin.revokeCertificate(revokedSerial, { reason: 'keyCompromise' });
      assert.equal(revoked.status, 'revoked');
      const outcome = await check();
      assert.ok(outcome.ok && outcome.status === 200, JSON.stringify(outcome));
      assert.equal(outcome.body.identity.caller.serial, revokedSerial);
    });

    it('after the refresh, id-verification refuses compliance: compliance answers 502, id-verification logged why', LIMIT, async () => {
      const refusalsBefore = idvLog.lines.length;
      await idv.credentials.refreshCrl();
      assert.equal(idv.credentials.isRevoked(revokedSerial), true);
      // The connection compliance kept alive was closed at once, not left to serve.
      assert.ok(
        idvLog.lines.slice(refusalsBefore).some((line) => line.event === 'peer-refused' && line.fields.serial === revokedSerial && line.fields.openConnection === true),
        JSON.stringify(idvLog.lines.slice(refusalsBefore)),
      );

      const outcome = await check();
      assert.ok(outcome.ok, JSON.stringify(outcome));
      assert.equal(outcome.status, 502, JSON.stringify(outcome.body));
      assert.equal(outcome.body.error, 'id-verification unavailable');
      // The server drops the connection after the handshake; depending on timing the client sees a reset or a broken pipe.
      assert.match(String(outcome.body.code), /^(ECONNRESET|EPIPE)$/);
      assert.ok(complianceLog.lines.some((line) => line.event === 'id-verification-failed'));
      // OpenSSL's verdict, recorded by id-verification.
      assert.ok(
        idvLog.lines.slice(refusalsBefore).some((line) => line.event === 'peer-refused' && line.fields.reason === 'CERT_REVOKED'),
        JSON.stringify(idvLog.lines.slice(refusalsBefore)),
      );
      assert.ok(!idvLog.lines.slice(refusalsBefore).some((line) => line.event === 'verified'), 'id-verification served nothing');
    });

    it('the revoked certificate is refused on a fresh handshake and on a resumed session from before the revocation', LIMIT, async () => {
      const options = { servername: 'id-verification.svc', ca: rootPem, key: complianceIdentity.keyPem, cert: complianceIdentity.certificatePem + complianceIdentity.chainPem };
      const logged = idvLog.lines.length;
      // TLS 1.3: the client's side of the handshake completes before the server has judged the
      // client's certificate; the server then drops the connection without reading a byte.
      const fresh = await handshake(idv.port, options);
      assert.equal(fresh.received, '', JSON.stringify(fresh));
      const resumed = await handshake(idv.port, { ...options, session: sessionBefore });
      assert.equal(resumed.resumed, false, 'the ticket keys changed with the revocation');
      assert.equal(resumed.received, '', JSON.stringify(resumed));
      const refusals = idvLog.lines.slice(logged).filter((line) => line.event === 'peer-refused');
      assert.deepEqual(refusals.map((line) => line.fields.reason), ['CERT_REVOKED', 'CERT_REVOKED']);
      // Its successor's key is not the problem: an un-revoked certificate still gets through.
      const other = await call<VerifyResult>(idv.port, 'id-verification.svc', '/verify', { applicantId: 'a', documentNumber: 'P1234567' }, rootPem, onboarding);
      assert.ok(other.ok && other.status === 403, JSON.stringify(other));
    });
  });
});
