import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ApiTokenDto, BootstrapTokenDto, CertificateDto, CreatedApiTokenDto, IssuedCertificateDto, ServiceDto } from '../../src/contracts/certificates.ts';
import { assertProblem, parseJson } from '../support/http-assertions.ts';
import { httpsRequest, type HttpsRequestOptions } from '../support/https-request.ts';
import { freePort } from '../support/free-port.ts';
import { openssl, pemFiles } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * The main flow end to end, over real HTTPS and real TLS: services are registered, boot with a
 * single-use bootstrap token and a locally generated key, talk mTLS to each other with what
 * Trustroot issued, renew over mTLS, and are found in the inventory; CI gets test certificates
 * from the separate test CA. Every artifact is checked by OpenSSL or node:crypto, never by the
 * code under test.
 */

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
const TOKEN_SHAPE = /^tr[tb]_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CertificateListDto {
  certificates: CertificateDto[];
  nextCursor?: string;
}

/** One service's identity as the service itself holds it. */
interface Identity {
  keyPem: string;
  certificatePem: string;
  chainPem: string;
  serial: string;
}

/** Splits a PEM bundle into its certificates, in order. */
function parsePemChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

/** SHA-256 (hex) of a public key's DER SubjectPublicKeyInfo. */
function spkiSha256(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Node's upper-case serial as Trustroot's lower-case hex without leading zeros. */
function serialOf(certificate: X509Certificate): string {
  return certificate.serialNumber.toLowerCase().replace(/^0+/, '');
}

/** The line(s) following an extension's header in `openssl x509 -text` output. */
function extensionBody(text: string, header: string): { critical: boolean; body: string } {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.trim().startsWith(`${header}:`));
  assert.notEqual(index, -1, `no ${header} in\n${text}`);
  const headerLine = (lines[index] ?? '').trim();
  const indent = (lines[index] ?? '').search(/\S/);
  const body: string[] = [];
  for (const line of lines.slice(index + 1)) {
    if (line.search(/\S/) <= indent) break;
    body.push(line.trim());
  }
  return { critical: /:\s*critical$/.test(headerLine), body: body.join('\n') };
}

/** What a TLS client got from a server: the greeting (empty when refused), any error, the server's serial. */
interface TlsOutcome {
  /** What the server wrote back after the handshake ('' when refused). */
  received: string;
  error: string | undefined;
  serverSerial: string | undefined;
}

interface MtlsServer {
  port: number;
  /** Serials (upper-case hex, as Node reports them) of the client certificates accepted. */
  accepted: { serial: string; authorized: boolean }[];
  clientErrors: string[];
  close(): Promise<void>;
}

/** A plain Node mTLS server that trusts only `ca` and answers every accepted client with its peer's serial. */
async function startMtlsServer(options: tls.TlsOptions): Promise<MtlsServer> {
  const accepted: MtlsServer['accepted'] = [];
  const clientErrors: string[] = [];
  const server = tls.createServer({ requestCert: true, rejectUnauthorized: true, ...options }, (socket) => {
    const peer = socket.getPeerCertificate();
    accepted.push({ serial: peer.serialNumber, authorized: socket.authorized });
    socket.end(`hello ${peer.serialNumber}`);
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

function tlsClient(port: number, options: tls.ConnectionOptions): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    let received = '';
    let error: string | undefined;
    let serverSerial: string | undefined;
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      serverSerial = socket.getPeerCertificate().serialNumber;
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = `${e.code ?? ''} ${e.message}`;
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS client timed out')));
    socket.on('close', () => resolve({ received, error, serverSerial }));
  });
}

describe('issuance, mTLS, renewal and inventory over real HTTPS', () => {
  let trustroot: TestTrustroot;
  /** A second instance, started alongside, configured with TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN. */
  let configured: PromiseSettledResult<TestTrustroot>;
  const configuredToken = `trt_${randomBytes(32).toString('base64url')}`;
  let rootPem: string;
  let testRootPem: string;
  let intermediateDer: Buffer;
  let adminToken: string;
  let files: Awaited<ReturnType<typeof pemFiles>>;
  /** Every secret this test saw: none of them may be found in the database. */
  const secrets: string[] = [];
  const minted = new Map<string, BootstrapTokenDto[]>();
  const identities = new Map<string, Identity>();
  let auditorToken: CreatedApiTokenDto;
  let ciToken: CreatedApiTokenDto;

  before(async () => {
    // A fixed public port, so that the URLs written into certificates (CRL, caIssuers) can be fetched.
    const httpPort = await freePort();
    const [main, second] = await Promise.allSettled([
      startTestTrustroot({ env: { TRUSTROOT_HTTP_PORT: String(httpPort), TRUSTROOT_PUBLIC_HTTP_URL: `http://127.0.0.1:${httpPort}` } }),
      startTestTrustroot({ env: { TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN: configuredToken } }),
    ]);
    configured = second;
    if (main.status === 'rejected') throw main.reason;
    trustroot = main.value;
    const root = await fetch(`${trustroot.publicUrl}/ca/root.pem`);
    assert.equal(root.status, 200);
    rootPem = await root.text();
    const testRoot = await fetch(`${trustroot.publicUrl}/ca/test-root.pem`);
    assert.equal(testRoot.status, 200);
    testRootPem = await testRoot.text();
    const intermediate = await fetch(`${trustroot.publicUrl}/ca/intermediate.crt`);
    assert.equal(intermediate.status, 200);
    intermediateDer = Buffer.from(await intermediate.arrayBuffer());
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database must yield an initial admin token');
    adminToken = initial;
    secrets.push(adminToken, configuredToken);
    files = await pemFiles({ 'root.pem': rootPem, 'test-root.pem': testRootPem });
  });
  // Guarded: when start-up fails in before(), the real error must show.
  after(async () => {
    await files?.cleanup();
    if (configured?.status === 'fulfilled') await configured.value.destroy();
    if (trustroot !== undefined) await trustroot.destroy();
  });

  const api = (pathAndQuery: string, options: Omit<HttpsRequestOptions, 'ca'> = {}) =>
    httpsRequest(`${trustroot.apiUrl}${pathAndQuery}`, { ...options, ca: rootPem });
  const withToken = (token: string, method: string, pathAndQuery: string, body?: unknown, headers: Record<string, string> = {}) =>
    api(pathAndQuery, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  /** As a service over mTLS: its certificate (with chain) and key in the handshake, no token. */
  const asService = (identity: Pick<Identity, 'certificatePem' | 'chainPem' | 'keyPem'>, method: string, pathAndQuery: string, body?: unknown) =>
    api(pathAndQuery, {
      method,
      cert: identity.certificatePem + identity.chainPem,
      key: identity.keyPem,
      ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });

  /** A P-256 key and CSR made by OpenSSL, as a service would at boot. */
  async function makeCsr(label: string, commonName: string, sans: string[]): Promise<{ keyPem: string; csrPem: string; spkiSha256: string }> {
    const made = await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', files.path(`${label}.key`), '-out', files.path(`${label}.csr`),
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${sans.join(',')}`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const keyPem = await readFile(files.path(`${label}.key`), 'utf8');
    const csrPem = await readFile(files.path(`${label}.csr`), 'utf8');
    const pub = await openssl(['req', '-in', files.path(`${label}.csr`), '-pubkey', '-noout']);
    assert.equal(pub.code, 0, pub.stderr);
    return { keyPem, csrPem, spkiSha256: spkiSha256(createPublicKey(pub.stdout)) };
  }

  async function mintBootstrapToken(service: string): Promise<BootstrapTokenDto> {
    const token = parseJson<BootstrapTokenDto>(await withToken(adminToken, 'POST', `/v1/services/${service}/bootstrap-tokens`, {}), 201);
    secrets.push(token.token);
    minted.set(service, [...(minted.get(service) ?? []), token]);
    return token;
  }

  async function getRecord(serial: string, token = adminToken): Promise<CertificateDto> {
    return parseJson<CertificateDto>(await withToken(token, 'GET', `/v1/certificates/${serial}`), 200);
  }

  async function list(query: string, token = adminToken): Promise<CertificateListDto> {
    return parseJson<CertificateListDto>(await withToken(token, 'GET', `/v1/certificates${query}`), 200);
  }

  async function verify(name: string, pem: string, args: string[]): Promise<{ code: number; output: string }> {
    await writeFile(files.path(name), pem);
    const result = await openssl(['verify', ...args, files.path(name)]);
    return { code: result.code, output: result.stdout + result.stderr };
  }

  describe('1. services boot with a bootstrap token and a CSR', () => {
    it('an admin registers id-verification and compliance with their name policies', async () => {
      const policies = {
        'id-verification': { dnsNames: ['id-verification.svc', '*.id-verification.svc'], uris: ['spiffe://kyc.internal/ns/prod/*'], profiles: ['peer', 'server', 'client'] },
        compliance: { dnsNames: ['compliance.svc', '*.compliance.svc'], uris: ['spiffe://kyc.internal/ns/prod/*'], profiles: ['peer'] },
      };
      for (const [name, policy] of Object.entries(policies)) {
        const response = await withToken(adminToken, 'POST', '/v1/services', { name, owner: 'kyc-team', ...policy });
        const service = parseJson<ServiceDto>(response, 201);
        assert.equal(response.headers.location, `/v1/services/${name}`);
        assert.equal(service.name, name);
        assert.equal(service.enabled, true);
        assert.deepEqual(service.dnsNames, policy.dnsNames);
        assert.deepEqual(service.uris, policy.uris);
        assert.deepEqual(service.profiles, policy.profiles);
      }
      const again = await withToken(adminToken, 'POST', '/v1/services', { name: 'compliance', owner: 'someone-else' });
      assertProblem(again, 409, 'conflict');
      const listed = parseJson<{ services: ServiceDto[] }>(await withToken(adminToken, 'GET', '/v1/services'), 200);
      assert.deepEqual(listed.services.map((s) => s.name).sort(), ['compliance', 'id-verification']);
    });

    it('an admin mints one single-use bootstrap token per service (default lifetime 15 minutes)', async () => {
      for (const service of ['id-verification', 'compliance']) {
        const requestedAt = Date.now();
        const token = await mintBootstrapToken(service);
        assert.match(token.token, /^trb_[A-Za-z0-9_-]{43}$/);
        assert.match(token.id, UUID);
        assert.equal(token.service, service);
        assert.deepEqual(token.sans, []);
        const ttl = Date.parse(token.expiresAt) - requestedAt;
        assert.ok(ttl > 14 * 60_000 && ttl <= 15 * 60_000 + 5_000, `expiresAt ${token.expiresAt}`);
      }
      const unknown = await withToken(adminToken, 'POST', '/v1/services/no-such-service/bootstrap-tokens', {});
      assertProblem(unknown, 404, 'not_found');
    });

    for (const service of ['id-verification', 'compliance'] as const) {
      it(`${service} generates its key locally and gets a peer certificate with its bootstrap token`, async () => {
        const token = minted.get(service)?.[0];
        assert.ok(token, 'no bootstrap token minted');
        const sans = service === 'id-verification'
          ? ['DNS:id-verification.svc', 'DNS:api.id-verification.svc', 'URI:spiffe://kyc.internal/ns/prod/id-verification']
          : ['DNS:compliance.svc', 'URI:spiffe://kyc.internal/ns/prod/compliance'];
        const csr = await makeCsr(service, `${service}.svc`, sans);
        const started = Date.now();
        const response = await withToken(token.token, 'POST', '/v1/certificates', { csr: csr.csrPem, profile: 'peer' });
        const finished = Date.now();
        const issued = parseJson<IssuedCertificateDto>(response, 201);
        assert.equal(response.headers.location, `/v1/certificates/${issued.serial}`);
        assert.equal(issued.profile, 'peer');
        assert.equal(issued.service, service);
        assert.equal(issued.privateKey, undefined, 'the key never leaves the service');
        const certificate = new X509Certificate(issued.certificate);
        // The serial in the response is the certificate's, 16 octets, positive.
        assert.equal(issued.serial, serialOf(certificate));
        assert.match(issued.serial, /^[4-7][0-9a-f]{31}$/);
        assert.equal(certificate.subject, `CN=${service}.svc`);
        // The certificate carries the CSR's key, and the service's private key matches it.
        assert.equal(spkiSha256(certificate.publicKey), csr.spkiSha256);
        assert.ok(certificate.checkPrivateKey(createPrivateKey(csr.keyPem)));
        // Backdated a minute, valid for the peer default of 24 hours.
        assert.equal(new Date(issued.notBefore).getTime(), new Date(certificate.validFrom).getTime());
        assert.equal(new Date(issued.notAfter).getTime(), new Date(certificate.validTo).getTime());
        const notBefore = Date.parse(issued.notBefore);
        const notAfter = Date.parse(issued.notAfter);
        assert.ok(notBefore <= started - 60_000 + 1_000 && notBefore >= started - 62_000, `notBefore ${issued.notBefore}, request at ${new Date(started).toISOString()}`);
        assert.ok(notAfter >= started + DAY_MS - 2_000 && notAfter <= finished + DAY_MS, `notAfter ${issued.notAfter}`);
        // The chain is the intermediate, then the root the relying party trusts.
        const chain = parsePemChain(issued.chain);
        assert.equal(chain.length, 2);
        assert.ok(chain[0]?.raw.equals(intermediateDer));
        assert.ok(chain[1]?.raw.equals(new X509Certificate(rootPem).raw));
        identities.set(service, { keyPem: csr.keyPem, certificatePem: issued.certificate, chainPem: issued.chain, serial: issued.serial });
      });
    }

    it('a bootstrap token is single use', async () => {
      const token = minted.get('compliance')?.[0];
      assert.ok(token);
      const csr = await makeCsr('compliance-replay', 'compliance.svc', ['DNS:compliance.svc']);
      const replay = await withToken(token.token, 'POST', '/v1/certificates', { csr: csr.csrPem, profile: 'peer' });
      assertProblem(replay, 401, 'unauthorized');
    });

    it('OpenSSL verifies both certificates for TLS client and server use against root.pem only', async () => {
      assert.deepEqual([...identities.keys()].sort(), ['compliance', 'id-verification']);
      for (const [service, identity] of identities) {
        await writeFile(files.path('chain.pem'), identity.chainPem);
        for (const purpose of ['sslclient', 'sslserver']) {
          const result = await verify(`${service}.pem`, identity.certificatePem, [
            '-x509_strict', '-purpose', purpose, '-CAfile', files.path('root.pem'), '-untrusted', files.path('chain.pem'),
          ]);
          assert.equal(result.code, 0, `${service} ${purpose}: ${result.output}`);
          assert.match(result.output, new RegExp(`${service}\\.pem: OK`));
        }
        // Without the intermediate the leaf does not verify: the root alone is the anchor, not a shortcut.
        const alone = await verify(`${service}.pem`, identity.certificatePem, ['-x509_strict', '-CAfile', files.path('root.pem')]);
        assert.notEqual(alone.code, 0, alone.output);
      }
    });

    it('each certificate has the profile extensions, checked with openssl x509 -text', async () => {
      assert.deepEqual([...identities.keys()].sort(), ['compliance', 'id-verification']);
      const intermediate = new X509Certificate(intermediateDer);
      const intermediateText = await openssl(['x509', '-noout', '-text'], intermediate.toString());
      const intermediateSki = extensionBody(intermediateText.stdout, 'X509v3 Subject Key Identifier').body;
      for (const [service, identity] of identities) {
        const { stdout: text, code } = await openssl(['x509', '-noout', '-text'], identity.certificatePem);
        assert.equal(code, 0);
        const san = extensionBody(text, 'X509v3 Subject Alternative Name');
        const names = san.body.split(/,\s*/).sort();
        const expected = service === 'id-verification'
          ? ['DNS:api.id-verification.svc', 'DNS:id-verification.svc', 'URI:spiffe://kyc.internal/ns/prod/id-verification']
          : ['DNS:compliance.svc', 'URI:spiffe://kyc.internal/ns/prod/compliance'];
        assert.deepEqual(names, expected, service);
        const basic = extensionBody(text, 'X509v3 Basic Constraints');
        assert.equal(basic.critical, true);
        assert.equal(basic.body, 'CA:FALSE');
        const keyUsage = extensionBody(text, 'X509v3 Key Usage');
        assert.equal(keyUsage.critical, true);
        assert.equal(keyUsage.body, 'Digital Signature');
        const eku = extensionBody(text, 'X509v3 Extended Key Usage');
        assert.deepEqual(eku.body.split(/,\s*/).sort(), ['TLS Web Client Authentication', 'TLS Web Server Authentication']);
        const ski = extensionBody(text, 'X509v3 Subject Key Identifier').body;
        assert.match(ski, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
        assert.notEqual(ski, intermediateSki);
        const aki = extensionBody(text, 'X509v3 Authority Key Identifier').body.replace(/^keyid:/, '');
        assert.equal(aki, intermediateSki, 'AKI must name the intermediate');
        const crl = extensionBody(text, 'X509v3 CRL Distribution Points').body;
        const crlUrl = /URI:(\S+)/.exec(crl)?.[1];
        assert.equal(crlUrl, `${trustroot.publicUrl}/crl/intermediate.crl`);
        const aia = extensionBody(text, 'Authority Information Access').body;
        const caIssuers = /CA Issuers - URI:(\S+)/.exec(aia)?.[1];
        assert.equal(caIssuers, `${trustroot.publicUrl}/ca/intermediate.crt`);
        // The caIssuers URL really serves the issuing CA.
        const fetched = await fetch(String(caIssuers));
        assert.equal(fetched.status, 200);
        assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(intermediateDer));
        // Serial: 16 octets, equal to the response's.
        const serialLine = /Serial Number:\s*\n\s*([0-9a-f:]+)/.exec(text)?.[1];
        assert.ok(serialLine, text);
        assert.equal(serialLine.split(':').length, 16);
        assert.equal(serialLine.replaceAll(':', ''), identity.serial);
      }
    });
  });

  describe('2. the two services talk mTLS with what Trustroot issued', () => {
    let server: MtlsServer;
    before(async () => {
      const idv = identities.get('id-verification');
      assert.ok(idv);
      server = await startMtlsServer({ key: idv.keyPem, cert: idv.certificatePem + idv.chainPem, ca: rootPem });
    });
    after(async () => {
      await server?.close();
    });

    it('compliance connects to id-verification.svc; each side sees the other’s serial', async () => {
      const idv = identities.get('id-verification');
      const compliance = identities.get('compliance');
      assert.ok(idv && compliance);
      const outcome = await tlsClient(server.port, {
        servername: 'id-verification.svc',
        ca: rootPem,
        key: compliance.keyPem,
        cert: compliance.certificatePem + compliance.chainPem,
      });
      assert.equal(outcome.error, undefined);
      assert.equal(outcome.serverSerial?.toLowerCase(), idv.serial);
      assert.equal(outcome.received, `hello ${compliance.serial.toUpperCase()}`);
      assert.deepEqual(server.accepted, [{ serial: compliance.serial.toUpperCase(), authorized: true }]);
    });

    it('the client checks the server name: id-verification’s certificate is not valid for compliance.svc', async () => {
      const compliance = identities.get('compliance');
      assert.ok(compliance);
      const outcome = await tlsClient(server.port, {
        servername: 'compliance.svc',
        ca: rootPem,
        key: compliance.keyPem,
        cert: compliance.certificatePem + compliance.chainPem,
      });
      assert.match(String(outcome.error), /ERR_TLS_CERT_ALTNAME_INVALID/);
      assert.equal(outcome.received, '');
    });

    it('a client with a self-signed certificate is refused by the server', async () => {
      const made = await openssl([
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=compliance.svc', '-addext', 'subjectAltName=DNS:compliance.svc',
        '-keyout', files.path('stranger.key'), '-out', files.path('stranger.pem'),
      ]);
      assert.equal(made.code, 0, made.stderr);
      const acceptedBefore = server.accepted.length;
      const errorsBefore = server.clientErrors.length;
      const outcome = await tlsClient(server.port, {
        servername: 'id-verification.svc',
        ca: rootPem,
        key: await readFile(files.path('stranger.key'), 'utf8'),
        cert: await readFile(files.path('stranger.pem'), 'utf8'),
      });
      // Node verifies the client certificate and drops the connection: nothing is served. The
      // positive control is the test above, against the same server with Trustroot's certificate.
      assert.equal(outcome.received, '');
      assert.equal(server.accepted.length, acceptedBefore);
      assert.equal(server.clientErrors.length, errorsBefore + 1);
    });

    it('a client without any certificate is refused too', async () => {
      const acceptedBefore = server.accepted.length;
      const errorsBefore = server.clientErrors.length;
      const outcome = await tlsClient(server.port, { servername: 'id-verification.svc', ca: rootPem });
      assert.equal(outcome.received, '');
      assert.equal(server.accepted.length, acceptedBefore);
      assert.equal(server.clientErrors.length, errorsBefore + 1);
    });
  });

  describe('3. the PEM chain representation', () => {
    it('Accept: application/pem-certificate-chain returns leaf, intermediate and root', async () => {
      const token = await mintBootstrapToken('id-verification');
      const csr = await makeCsr('idv-chain', 'api.id-verification.svc', ['DNS:api.id-verification.svc']);
      const response = await withToken(token.token, 'POST', '/v1/certificates', { csr: csr.csrPem, profile: 'server' }, { accept: 'application/pem-certificate-chain' });
      assert.equal(response.status, 201, response.text);
      assert.match(String(response.headers['content-type']), /^application\/pem-certificate-chain/);
      const chain = parsePemChain(response.text);
      assert.equal(chain.length, 3);
      const [leaf, intermediate, root] = chain;
      assert.ok(leaf && intermediate && root);
      assert.equal(leaf.ca, false);
      assert.equal(leaf.subjectAltName, 'DNS:api.id-verification.svc');
      assert.equal(spkiSha256(leaf.publicKey), csr.spkiSha256);
      assert.equal(response.headers.location, `/v1/certificates/${serialOf(leaf)}`);
      assert.ok(intermediate.raw.equals(intermediateDer));
      assert.ok(root.raw.equals(new X509Certificate(rootPem).raw));
      assert.ok(leaf.verify(intermediate.publicKey));
      assert.ok(intermediate.verify(root.publicKey));
      // Profile `server`: serverAuth only.
      const text = await openssl(['x509', '-noout', '-text'], leaf.toString());
      assert.equal(extensionBody(text.stdout, 'X509v3 Extended Key Usage').body, 'TLS Web Server Authentication');
    });
  });

  describe('4. renewal over mTLS', () => {
    /** compliance's certificates in order: c1 (bootstrap), c2 (renewed, same key), c3 (re-keyed). */
    const chainOfCustody: string[] = [];
    let firstIdentity: Identity;

    it('compliance renews with its certificate as the TLS client certificate: new serial, same names and key', async () => {
      const current = identities.get('compliance');
      assert.ok(current);
      firstIdentity = current;
      chainOfCustody.push(current.serial);
      const started = Date.now();
      const response = await asService(current, 'POST', '/v1/certificates/renew');
      const renewed = parseJson<IssuedCertificateDto>(response, 201);
      assert.notEqual(renewed.serial, current.serial);
      assert.equal(renewed.service, 'compliance');
      assert.equal(renewed.profile, 'peer');
      const oldCertificate = new X509Certificate(current.certificatePem);
      const newCertificate = new X509Certificate(renewed.certificate);
      assert.equal(serialOf(newCertificate), renewed.serial);
      assert.equal(newCertificate.subjectAltName, oldCertificate.subjectAltName);
      assert.equal(newCertificate.subject, oldCertificate.subject);
      assert.equal(spkiSha256(newCertificate.publicKey), spkiSha256(oldCertificate.publicKey), 'without a CSR the key is kept');
      assert.ok(newCertificate.checkIssued(new X509Certificate(intermediateDer)));
      assert.ok(newCertificate.verify(new X509Certificate(intermediateDer).publicKey));
      // A fresh 24 hours from now.
      const notAfter = Date.parse(renewed.notAfter);
      assert.ok(notAfter >= started + DAY_MS - 2_000 && notAfter <= Date.now() + DAY_MS, renewed.notAfter);
      chainOfCustody.push(renewed.serial);
      identities.set('compliance', { keyPem: current.keyPem, certificatePem: renewed.certificate, chainPem: renewed.chain, serial: renewed.serial });
    });

    it('the inventory links the two: old superseded and renewedBy, new active and renewedFrom', async () => {
      const [oldSerial, newSerial] = chainOfCustody;
      assert.ok(oldSerial && newSerial);
      const oldRecord = await getRecord(oldSerial);
      assert.equal(oldRecord.status, 'superseded');
      assert.equal(oldRecord.renewedBy, newSerial);
      assert.ok(oldRecord.supersededAt);
      const newRecord = await getRecord(newSerial);
      assert.equal(newRecord.status, 'active');
      assert.equal(newRecord.renewedFrom, oldSerial);
      assert.equal(newRecord.renewedBy, undefined);
      assert.equal(newRecord.requestedBy, `mtls:${oldSerial}`);
      assert.equal(newRecord.spkiSha256, oldRecord.spkiSha256);
    });

    it('the old certificate reads nothing (401); asking to renew again resends the renewal it already got (200, nothing new signed)', async () => {
      assertProblem(await asService(firstIdentity, 'GET', '/v1/certificates'), 401, 'unauthorized');
      assertProblem(await asService(firstIdentity, 'GET', `/v1/certificates/${firstIdentity.serial}`), 401, 'unauthorized');
      const before = (await list('?service=compliance')).certificates.length;
      // As a sidecar whose first answer was lost would: the same request, with the old certificate.
      const resent = parseJson<IssuedCertificateDto>(await asService(firstIdentity, 'POST', '/v1/certificates/renew'), 200);
      assert.equal(resent.serial, chainOfCustody[1]);
      assert.equal(resent.certificate, identities.get('compliance')?.certificatePem);
      assert.equal((await list('?service=compliance')).certificates.length, before, 'no certificate was issued');
      const db = new pg.Client({ connectionString: trustroot.database.url });
      await db.connect();
      try {
        const audited = await db.query<{ actor: string }>("SELECT actor FROM audit_events WHERE action = 'certificate.renewal_resent' AND target_id = $1", [resent.serial]);
        assert.deepEqual(
          audited.rows.map((row) => row.actor),
          [`mtls:${firstIdentity.serial}`],
        );
      } finally {
        await db.end();
      }
    });

    it('renewal with a new CSR (new key, same names) carries the CSR’s key', async () => {
      const current = identities.get('compliance');
      assert.ok(current);
      // Names in another order than the certificate's: the set is what counts.
      const csr = await makeCsr('compliance-rekey', 'compliance.svc', ['URI:spiffe://kyc.internal/ns/prod/compliance', 'DNS:compliance.svc']);
      const renewed = parseJson<IssuedCertificateDto>(await asService(current, 'POST', '/v1/certificates/renew', { csr: csr.csrPem }), 201);
      const certificate = new X509Certificate(renewed.certificate);
      assert.equal(spkiSha256(certificate.publicKey), csr.spkiSha256);
      assert.ok(certificate.checkPrivateKey(createPrivateKey(csr.keyPem)));
      assert.equal(certificate.checkPrivateKey(createPrivateKey(current.keyPem)), false);
      const record = await getRecord(renewed.serial);
      assert.equal(record.spkiSha256, csr.spkiSha256);
      assert.notEqual(record.spkiSha256, (await getRecord(current.serial)).spkiSha256);
      assert.equal(record.renewedFrom, current.serial);
      chainOfCustody.push(renewed.serial);
      identities.set('compliance', { keyPem: csr.keyPem, certificatePem: renewed.certificate, chainPem: renewed.chain, serial: renewed.serial });
      // The re-keyed identity works: it reads its own record over mTLS.
      const own = parseJson<CertificateDto>(await asService(identities.get('compliance') ?? current, 'GET', `/v1/certificates/${renewed.serial}`), 200);
      assert.equal(own.serial, renewed.serial);
      // A retry of this renewal (same CSR) is resent; without the CSR it would be for the old key: 409.
      assert.equal(parseJson<IssuedCertificateDto>(await asService(current, 'POST', '/v1/certificates/renew', { csr: csr.csrPem }), 200).serial, renewed.serial);
      assertProblem(await asService(current, 'POST', '/v1/certificates/renew'), 409, 'conflict');
      // The first certificate's renewal has itself been replaced: nothing to resend any more.
      const stale = assertProblem(await asService(firstIdentity, 'POST', '/v1/certificates/renew'), 401, 'unauthorized');
      assert.match(stale.detail, /no longer active/);
    });

    it('renewal with a CSR for other names (even ones the policy allows) is 403 policy_violation, and changes nothing', async () => {
      const current = identities.get('compliance');
      assert.ok(current);
      const csr = await makeCsr('compliance-other', 'api.compliance.svc', ['DNS:api.compliance.svc', 'URI:spiffe://kyc.internal/ns/prod/compliance']);
      assertProblem(await asService(current, 'POST', '/v1/certificates/renew', { csr: csr.csrPem }), 403, 'policy_violation');
      const record = await getRecord(current.serial);
      assert.equal(record.status, 'active');
      assert.equal(record.renewedBy, undefined);
      const none = await list(`?spkiSha256=${csr.spkiSha256}`);
      assert.deepEqual(none.certificates, []);
    });

    it('a renewal without any client certificate is 401, and a bearer token cannot renew', async () => {
      assertProblem(await api('/v1/certificates/renew', { method: 'POST' }), 401, 'unauthorized');
      assertProblem(await withToken(adminToken, 'POST', '/v1/certificates/renew', {}), 401, 'unauthorized');
    });
  });

  describe('5. the inventory', () => {
    const serialsOf = (page: CertificateListDto) => page.certificates.map((c) => c.serial);
    let compliance: CertificateDto[];

    it('an admin creates an auditor and a ci API token (secrets shown once)', async () => {
      auditorToken = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role: 'auditor', name: 'inventory-auditor' }), 201);
      ciToken = parseJson<CreatedApiTokenDto>(await withToken(adminToken, 'POST', '/v1/api-tokens', { role: 'ci', name: 'pipeline' }), 201);
      for (const [token, role] of [[auditorToken, 'auditor'], [ciToken, 'ci']] as const) {
        assert.match(token.token, /^trt_[A-Za-z0-9_-]{43}$/);
        assert.equal(token.role, role);
        assert.match(token.id, UUID);
        secrets.push(token.token);
      }
      const listed = parseJson<{ tokens: ApiTokenDto[] }>(await withToken(adminToken, 'GET', '/v1/api-tokens'), 200);
      assert.deepEqual(listed.tokens.map((t) => t.name).sort(), ['initial-admin', 'inventory-auditor', 'pipeline']);
      assert.doesNotMatch(JSON.stringify(listed), /tr[tb]_/);
    });

    it('service=compliance lists its three certificates, newest first', async () => {
      const page = await list('?service=compliance');
      compliance = page.certificates;
      assert.equal(page.nextCursor, undefined);
      assert.equal(compliance.length, 3);
      const [c3, c2, c1] = compliance;
      assert.ok(c1 && c2 && c3);
      // Newest first: each renewal's renewedFrom is the next one in the list.
      assert.equal(c3.renewedFrom, c2.serial);
      assert.equal(c2.renewedFrom, c1.serial);
      assert.equal(c1.renewedFrom, undefined);
      assert.equal(c3.serial, identities.get('compliance')?.serial);
      for (let i = 1; i < compliance.length; i++) {
        assert.ok(Date.parse(compliance[i - 1]?.issuedAt ?? '') >= Date.parse(compliance[i]?.issuedAt ?? ''));
      }
      for (const record of compliance) {
        assert.equal(record.service, 'compliance');
        assert.equal(record.issuer, 'intermediate');
        assert.equal(record.profile, 'peer');
        assert.equal(record.keyAlgorithm, 'ecdsa-p256');
        assert.deepEqual(record.dnsNames, ['compliance.svc']);
        assert.deepEqual(record.uris, ['spiffe://kyc.internal/ns/prod/compliance']);
        assert.match(record.fingerprintSha256, /^[0-9a-f]{64}$/);
      }
      const ascending = await list('?service=compliance&order=asc');
      assert.deepEqual(serialsOf(ascending), [c1.serial, c2.serial, c3.serial]);
    });

    it('filters: status, profile, issuer, nameContains, spkiSha256, expiringWithin and expiringBefore', async () => {
      const [c3, c2, c1] = compliance;
      assert.ok(c1 && c2 && c3);
      assert.deepEqual(serialsOf(await list('?service=compliance&status=superseded')), [c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&status=active')), [c3.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&status=revoked')), []);
      assert.deepEqual(serialsOf(await list('?service=compliance&profile=peer')), [c3.serial, c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&profile=server')), []);
      const idvServer = await list('?service=id-verification&profile=server');
      assert.equal(idvServer.certificates.length, 1);
      assert.deepEqual(serialsOf(await list('?service=compliance&issuer=intermediate')), [c3.serial, c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&issuer=test-intermediate')), []);
      // Across every service: only compliance's names contain "compliance".
      assert.deepEqual(serialsOf(await list('?nameContains=compliance')), [c3.serial, c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list('?nameContains=COMPLIANCE.SVC')), [c3.serial, c2.serial, c1.serial]);
      const idv = await list('?nameContains=id-verification');
      assert.equal(idv.certificates.length, 2);
      assert.ok(idv.certificates.every((c) => c.service === 'id-verification'));
      // c1 and c2 share a key (renewal without CSR), c3 has the new one.
      assert.deepEqual(serialsOf(await list(`?spkiSha256=${c1.spkiSha256}`)), [c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list(`?spkiSha256=${c3.spkiSha256.toUpperCase()}`)), [c3.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&expiringWithin=2d')), [c3.serial, c2.serial, c1.serial]);
      assert.deepEqual(serialsOf(await list('?service=compliance&expiringWithin=1h')), []);
      const past = encodeURIComponent(new Date(Date.now() - HOUR_MS).toISOString());
      assert.deepEqual(serialsOf(await list(`?service=compliance&expiringBefore=${past}`)), []);
      const soon = encodeURIComponent(new Date(Date.now() + 2 * DAY_MS).toISOString());
      assert.deepEqual(serialsOf(await list(`?service=compliance&expiringBefore=${soon}`)), [c3.serial, c2.serial, c1.serial]);
      assertProblem(await withToken(adminToken, 'GET', '/v1/certificates?status=bogus'), 400, 'bad_request');
      assertProblem(await withToken(adminToken, 'GET', '/v1/certificates?cursor=not-a-cursor'), 400, 'bad_request');
    });

    it('limit bounds the page size', async () => {
      const page = await list('?service=compliance&limit=2');
      assert.equal(page.certificates.length, 2);
      assert.ok(page.nextCursor, 'a third certificate remains');
    });

    it('limit=1 pagination walks every record exactly once', async () => {
      const all = serialsOf(await list('?limit=500'));
      assert.ok(all.length >= 6, `only ${all.length} certificates`);
      const walked: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await list(`?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        pages += 1;
        assert.ok(page.certificates.length <= 1, `a page of ${page.certificates.length} with limit=1`);
        walked.push(...serialsOf(page));
        cursor = page.nextCursor;
        assert.ok(pages <= all.length + 1, 'the walk does not end');
      } while (cursor !== undefined);
      assert.deepEqual(walked, all);
      assert.equal(new Set(walked).size, walked.length);
      assert.equal(pages, all.length, 'one record per page');
    });

    it('GET /v1/certificates/{serial}.pem and .der return the issued certificate', async () => {
      const identity = identities.get('compliance');
      assert.ok(identity);
      const pem = await withToken(adminToken, 'GET', `/v1/certificates/${identity.serial}.pem`);
      assert.equal(pem.status, 200, pem.text);
      assert.match(String(pem.headers['content-type']), /^application\/x-pem-file/);
      const der = await withToken(adminToken, 'GET', `/v1/certificates/${identity.serial}.der`);
      assert.equal(der.status, 200);
      assert.match(String(der.headers['content-type']), /^application\/pkix-cert/);
      const issued = new X509Certificate(identity.certificatePem);
      assert.ok(new X509Certificate(pem.text).raw.equals(issued.raw));
      assert.ok(der.body.equals(issued.raw));
      // Colons and upper case are accepted in the serial.
      const colons = identity.serial.toUpperCase().match(/../g)?.join(':') ?? '';
      assert.equal((await getRecord(colons)).serial, identity.serial);
      const record = await getRecord(identity.serial);
      assert.equal(record.fingerprintSha256, createHash('sha256').update(issued.raw).digest('hex'));
      assertProblem(await withToken(adminToken, 'GET', '/v1/certificates/abcdef0123.pem'), 404, 'not_found');
    });

    it('a service over mTLS sees only its own certificates', async () => {
      const identity = identities.get('compliance');
      const idv = identities.get('id-verification');
      assert.ok(identity && idv);
      const own = parseJson<CertificateListDto>(await asService(identity, 'GET', '/v1/certificates'), 200);
      assert.deepEqual(serialsOf(own), compliance.map((c) => c.serial));
      const filtered = parseJson<CertificateListDto>(await asService(identity, 'GET', '/v1/certificates?service=compliance&status=active'), 200);
      assert.deepEqual(serialsOf(filtered), [identity.serial]);
      assertProblem(await asService(identity, 'GET', '/v1/certificates?service=id-verification'), 403, 'forbidden');
      // Another service's certificate does not exist, as far as this caller can tell.
      assertProblem(await asService(identity, 'GET', `/v1/certificates/${idv.serial}`), 404, 'not_found');
      assertProblem(await asService(identity, 'GET', `/v1/certificates/${idv.serial}.pem`), 404, 'not_found');
      assertProblem(await asService(identity, 'GET', `/v1/certificates/${idv.serial}.der`), 404, 'not_found');
      const ownPem = await asService(identity, 'GET', `/v1/certificates/${identity.serial}.pem`);
      assert.equal(ownPem.status, 200);
      // And id-verification sees only its own.
      const theirs = parseJson<CertificateListDto>(await asService(idv, 'GET', '/v1/certificates'), 200);
      assert.ok(theirs.certificates.length >= 1);
      assert.ok(theirs.certificates.every((c) => c.service === 'id-verification'));
    });

    it('an auditor token can read the inventory; a ci token and anonymous callers cannot', async () => {
      const audited = await list('?service=compliance', auditorToken.token);
      assert.deepEqual(serialsOf(audited), compliance.map((c) => c.serial));
      assert.equal((await getRecord(compliance[0]?.serial ?? '', auditorToken.token)).service, 'compliance');
      assertProblem(await withToken(ciToken.token, 'GET', '/v1/certificates'), 403, 'forbidden');
      assertProblem(await withToken(ciToken.token, 'GET', `/v1/certificates/${compliance[0]?.serial ?? ''}`), 403, 'forbidden');
      assertProblem(await api('/v1/certificates'), 401, 'unauthorized');
      // An auditor reads but never issues.
      const csr = await makeCsr('auditor-try', 'compliance.svc', ['DNS:compliance.svc']);
      assertProblem(await withToken(auditorToken.token, 'POST', '/v1/certificates', { csr: csr.csrPem, profile: 'peer', service: 'compliance' }), 403, 'forbidden');
    });
  });

  describe('6. CI test certificates from the test CA', () => {
    let testCertificate: IssuedCertificateDto;
    const pkcs12Password = `p12-${randomBytes(9).toString('base64url')}`;

    it('a ci token gets a server-generated key and a test certificate, with a PKCS#12 bundle', async () => {
      secrets.push(pkcs12Password);
      const started = Date.now();
      const response = await withToken(ciToken.token, 'POST', '/v1/certificates', {
        generateKey: 'ecdsa-p256', profile: 'test', sans: ['app.test', 'localhost'], ttl: '1h', pkcs12Password,
      });
      testCertificate = parseJson<IssuedCertificateDto>(response, 201);
      assert.equal(testCertificate.profile, 'test');
      assert.equal(testCertificate.service, undefined);
      assert.ok(testCertificate.privateKey, 'privateKey is missing');
      assert.match(testCertificate.privateKey, /^-----BEGIN PRIVATE KEY-----\n/);
      assert.ok(testCertificate.pkcs12, 'pkcs12 is missing');
      const certificate = new X509Certificate(testCertificate.certificate);
      const privateKey = createPrivateKey(testCertificate.privateKey);
      assert.equal(privateKey.asymmetricKeyType, 'ec');
      assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.ok(certificate.checkPrivateKey(privateKey));
      assert.equal(certificate.subjectAltName, 'DNS:app.test, DNS:localhost');
      const notAfter = Date.parse(testCertificate.notAfter);
      assert.ok(notAfter >= started + HOUR_MS - 2_000 && notAfter <= Date.now() + HOUR_MS, testCertificate.notAfter);
      const chain = parsePemChain(testCertificate.chain);
      assert.equal(chain.length, 2);
      assert.match(chain[0]?.subject ?? '', /Test Issuing CA/);
      assert.ok(chain[1]?.raw.equals(new X509Certificate(testRootPem).raw));
      secrets.push(privateKey.export({ type: 'pkcs8', format: 'der' }).toString('hex'));
      secrets.push(privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'));
    });

    it('it verifies against test-root.pem and never against the production root', async () => {
      await writeFile(files.path('test-chain.pem'), testCertificate.chain);
      const own = await verify('test-leaf.pem', testCertificate.certificate, [
        '-x509_strict', '-purpose', 'sslserver', '-CAfile', files.path('test-root.pem'), '-untrusted', files.path('test-chain.pem'),
      ]);
      assert.equal(own.code, 0, own.output);
      const productionChain = await api('/v1/ca/chain');
      await writeFile(files.path('all-untrusted.pem'), testCertificate.chain + productionChain.text);
      const crossed = await verify('test-leaf.pem', testCertificate.certificate, [
        '-CAfile', files.path('root.pem'), '-untrusted', files.path('all-untrusted.pem'),
      ]);
      assert.notEqual(crossed.code, 0, crossed.output);
      assert.match(crossed.output, /unable to get (local )?issuer certificate|self[- ]signed certificate in certificate chain/);
    });

    it('the PKCS#12 bundle opens with OpenSSL and loads into a Node TLS context that serves app.test', async () => {
      const pfx = Buffer.from(testCertificate.pkcs12 ?? '', 'base64');
      await writeFile(files.path('test.p12'), pfx);
      const opened = await openssl(['pkcs12', '-info', '-nodes', '-in', files.path('test.p12'), '-passin', `pass:${pkcs12Password}`]);
      assert.equal(opened.code, 0, opened.stderr);
      const bundled = parsePemChain(opened.stdout);
      assert.equal(bundled.length, 3);
      assert.ok(bundled[0]?.raw.equals(new X509Certificate(testCertificate.certificate).raw));
      const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(opened.stdout)?.[0];
      assert.ok(keyPem, 'no key in the bundle');
      assert.equal(spkiSha256(createPublicKey(keyPem)), spkiSha256(createPublicKey(testCertificate.privateKey ?? '')));
      const wrong = await openssl(['pkcs12', '-info', '-nodes', '-in', files.path('test.p12'), '-passin', 'pass:wrong-password']);
      assert.notEqual(wrong.code, 0);
      assert.throws(() => tls.createSecureContext({ pfx, passphrase: 'wrong-password' }));
      tls.createSecureContext({ pfx, passphrase: pkcs12Password });
      const server = tls.createServer({ pfx, passphrase: pkcs12Password }, (socket) => socket.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const outcome = await tlsClient((server.address() as AddressInfo).port, { servername: 'app.test', ca: testRootPem });
        assert.equal(outcome.error, undefined);
        assert.equal(outcome.received, 'ok');
        assert.equal(outcome.serverSerial?.toLowerCase(), testCertificate.serial);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('a test certificate authenticates neither renewal nor a production mTLS server', async () => {
      const identity = { certificatePem: testCertificate.certificate, chainPem: testCertificate.chain, keyPem: testCertificate.privateKey ?? '' };
      assertProblem(await asService(identity, 'POST', '/v1/certificates/renew'), 401, 'unauthorized');
      assertProblem(await asService(identity, 'GET', '/v1/certificates'), 401, 'unauthorized');
      const idv = identities.get('id-verification');
      assert.ok(idv);
      const server = await startMtlsServer({ key: idv.keyPem, cert: idv.certificatePem + idv.chainPem, ca: rootPem });
      try {
        const outcome = await tlsClient(server.port, { servername: 'id-verification.svc', ca: rootPem, key: identity.keyPem, cert: identity.certificatePem + identity.chainPem });
        assert.equal(outcome.received, '');
        assert.deepEqual(server.accepted, []);
        assert.equal(server.clientErrors.length, 1);
      } finally {
        await server.close();
      }
    });

    it('a ci token cannot ask for a peer certificate, nor for names outside the test policy', async () => {
      const csr = await makeCsr('ci-peer', 'compliance.svc', ['DNS:compliance.svc']);
      assertProblem(await withToken(ciToken.token, 'POST', '/v1/certificates', { csr: csr.csrPem, profile: 'peer', service: 'compliance' }), 403, 'forbidden');
      const outside = await withToken(ciToken.token, 'POST', '/v1/certificates', { generateKey: 'ecdsa-p256', profile: 'test', sans: ['compliance.svc'] });
      const problem = assertProblem(outside, 403, 'policy_violation');
      assert.equal(problem.name, 'compliance.svc');
    });

    it('server-side key generation is refused on the peer profile, even for an admin', async () => {
      const response = await withToken(adminToken, 'POST', '/v1/certificates', {
        generateKey: 'ecdsa-p256', profile: 'peer', service: 'compliance', sans: ['compliance.svc'],
      });
      const problem = assertProblem(response, 403, 'forbidden');
      assert.match(problem.detail, /key generation/);
    });

    it('a ttl above the test profile maximum (48h > 24h) is clamped to 24h', async () => {
      const started = Date.now();
      const issued = parseJson<IssuedCertificateDto>(
        await withToken(ciToken.token, 'POST', '/v1/certificates', { generateKey: 'ecdsa-p256', profile: 'test', sans: ['localhost'], ttl: '48h' }),
        201,
      );
      const certificate = new X509Certificate(issued.certificate);
      const notAfter = Date.parse(certificate.validTo);
      assert.ok(notAfter >= started + DAY_MS - 2_000 && notAfter <= Date.now() + DAY_MS, `notAfter ${certificate.validTo}`);
      assert.ok(issued.privateKey);
      secrets.push(createPrivateKey(issued.privateKey).export({ type: 'pkcs8', format: 'der' }).toString('hex'));
      const record = await getRecord(issued.serial);
      assert.equal(record.issuer, 'test-intermediate');
      assert.equal(record.profile, 'test');
      assert.equal(record.requestedBy, `api-token:${ciToken.id}`);
    });
  });

  describe('7. TRUSTROOT_BOOTSTRAP_ADMIN_TOKEN', () => {
    let second: TestTrustroot;
    let secondRootPem: string;
    before(async () => {
      if (configured.status === 'rejected') throw configured.reason;
      second = configured.value;
      secondRootPem = await (await fetch(`${second.publicUrl}/ca/root.pem`)).text();
    });

    it('the configured token is the initial admin token and works as admin', async () => {
      assert.equal(second.instance.initialAdminToken, configuredToken);
      const ok = await httpsRequest(`${second.apiUrl}/v1/services`, { ca: secondRootPem, headers: { authorization: `Bearer ${configuredToken}` } });
      assert.deepEqual(parseJson<{ services: ServiceDto[] }>(ok, 200), { services: [] });
      const created = await httpsRequest(`${second.apiUrl}/v1/api-tokens`, {
        ca: secondRootPem,
        method: 'POST',
        headers: { authorization: `Bearer ${configuredToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'auditor', name: 'second-auditor' }),
      });
      assert.equal(created.status, 201, created.text);
      // The first server's admin token means nothing here, and vice versa.
      const foreign = await httpsRequest(`${second.apiUrl}/v1/services`, { ca: secondRootPem, headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(foreign.status, 401);
      const back = await withToken(configuredToken, 'GET', '/v1/services');
      assert.equal(back.status, 401);
    });

    it('api_tokens holds only the sha256 hex of the configured token, never the token', async () => {
      const client = new pg.Client({ connectionString: second.database.url });
      await client.connect();
      try {
        const rows = await client.query<{ name: string; role: string; token_hash: string; created_by: string | null }>(
          'SELECT name, role::text AS role, token_hash, created_by FROM api_tokens ORDER BY created_at',
        );
        const initial = rows.rows.find((row) => row.name === 'initial-admin');
        assert.ok(initial, 'no initial-admin row');
        assert.equal(initial.role, 'admin');
        assert.equal(initial.token_hash, createHash('sha256').update(configuredToken, 'utf8').digest('hex'));
        assert.equal(initial.created_by, 'system');
        const everything = await client.query<{ row: string }>('SELECT t::text AS row FROM api_tokens t');
        for (const { row } of everything.rows) {
          assert.ok(!row.includes(configuredToken), 'the token itself is stored');
          assert.ok(!row.includes(configuredToken.slice(4)), 'the token body is stored');
        }
      } finally {
        await client.end();
      }
    });
  });

  describe('8. the audit trail', () => {
    interface AuditRow {
      seq: string;
      actor: string;
      actor_role: string | null;
      action: string;
      target_type: string;
      target_id: string | null;
      details: Record<string, unknown>;
    }
    let client: pg.Client;
    let audit: AuditRow[];
    before(async () => {
      client = new pg.Client({ connectionString: trustroot.database.url });
      await client.connect();
      audit = (await client.query<AuditRow>('SELECT seq::text AS seq, actor, actor_role, action, target_type, target_id, details FROM audit_events ORDER BY audit_events.seq')).rows;
    });
    after(async () => {
      await client?.end();
    });

    it('records who did what: api-token, bootstrap-token and mtls actors', async () => {
      const admins = parseJson<{ tokens: ApiTokenDto[] }>(await withToken(adminToken, 'GET', '/v1/api-tokens'), 200);
      const adminId = admins.tokens.find((t) => t.name === 'initial-admin')?.id;
      assert.ok(adminId);
      const byAction = (action: string) => audit.filter((row) => row.action === action);
      for (const row of audit) {
        assert.match(row.actor, /^(system|api-token:[0-9a-f-]{36}|bootstrap-token:[0-9a-f-]{36}|mtls:[0-9a-f]+)$/, `actor ${row.actor}`);
      }

      const services = byAction('service.created');
      assert.deepEqual(services.map((row) => row.target_id).sort(), ['compliance', 'id-verification']);
      assert.ok(services.every((row) => row.actor === `api-token:${adminId}` && row.actor_role === 'admin'));

      const mintedIds = [...minted.values()].flat().map((token) => token.id).sort();
      const mintedRows = byAction('bootstrap_token.minted');
      assert.deepEqual(mintedRows.map((row) => row.target_id).sort(), mintedIds);
      assert.ok(mintedRows.every((row) => row.actor === `api-token:${adminId}`));

      const issued = byAction('certificate.issued');
      for (const service of ['id-verification', 'compliance']) {
        const token = minted.get(service)?.[0];
        assert.ok(token);
        const rows = issued.filter((row) => row.actor === `bootstrap-token:${token.id}`);
        assert.equal(rows.length, 1, `issued by the ${service} bootstrap token`);
        assert.equal(rows[0]?.actor_role, `service:${service}`);
        assert.equal(rows[0]?.details.service, service);
        assert.equal(rows[0]?.details.keySource, 'csr');
      }
      const ciIssued = issued.filter((row) => row.actor === `api-token:${ciToken.id}`);
      assert.equal(ciIssued.length, 2);
      assert.ok(ciIssued.every((row) => row.details.keySource === 'server-generated' && row.details.issuer === 'test-intermediate'));

      const renewed = byAction('certificate.renewed');
      assert.equal(renewed.length, 2);
      for (const row of renewed) {
        const replaced = String(row.details.replaces);
        assert.equal(row.actor, `mtls:${replaced}`);
        assert.equal(row.actor_role, 'service:compliance');
        const record = await getRecord(String(row.target_id));
        assert.equal(record.renewedFrom, replaced);
      }
      assert.deepEqual(renewed.map((row) => row.details.rekeyed), [false, true]);

      const tokens = byAction('api_token.created');
      assert.deepEqual(tokens.map((row) => row.actor), ['system', `api-token:${adminId}`, `api-token:${adminId}`], JSON.stringify(tokens));
      assert.deepEqual(tokens.map((row) => row.target_id).sort(), [adminId, auditorToken.id, ciToken.id].sort());
    });

    it('no row of any table holds a token secret, a generated private key or the PKCS#12 password', async () => {
      assert.ok(secrets.length >= 8, `only ${secrets.length} secrets collected`);
      for (const database of [trustroot.database.url, ...(configured.status === 'fulfilled' ? [configured.value.database.url] : [])]) {
        const db = database === trustroot.database.url ? client : new pg.Client({ connectionString: database });
        if (db !== client) await db.connect();
        try {
          const tables = await db.query<{ name: string }>(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
          );
          assert.ok(tables.rows.some((t) => t.name === 'audit_events'));
          let rowsSeen = 0;
          for (const { name } of tables.rows) {
            const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM "${name.replaceAll('"', '""')}" t`);
            for (const { row } of rows.rows) {
              rowsSeen += 1;
              const tokenShaped = /tr[tb]_[A-Za-z0-9_-]{43}/.exec(row);
              assert.equal(tokenShaped, null, `${name} holds a token: ${tokenShaped?.[0].slice(0, 8) ?? ''}…`);
              for (const secret of secrets) {
                assert.ok(!row.includes(secret), `${name} holds a secret (${secret.slice(0, 6)}…)`);
              }
            }
          }
          assert.ok(rowsSeen > 10, `only ${rowsSeen} rows searched`);
        } finally {
          if (db !== client) await db.end();
        }
      }
      // The search can fail: the hashes of the tokens are there.
      const hashes = await client.query<{ token_hash: string }>('SELECT token_hash FROM bootstrap_tokens');
      assert.ok(hashes.rows.some((row) => row.token_hash === createHash('sha256').update(minted.get('compliance')?.[0]?.token ?? '').digest('hex')));
      const tokens = secrets.filter((secret) => /^tr[tb]_/.test(secret));
      assert.ok(tokens.length >= 6);
      for (const token of tokens) assert.match(token, TOKEN_SHAPE);
    });
  });
});
