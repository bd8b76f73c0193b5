import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyAndCsr } from '../../src/client/generate-key-and-csr.ts';
import { TrustrootClient } from '../../src/client/trustroot-client.ts';
import { COMMANDS } from '../../src/cli/command-table.ts';
import { commandOptionSpecs } from '../../src/cli/parse-command-line.ts';
import type { CertificateDto } from '../../src/contracts/certificates.ts';
import type { AlertDto } from '../../src/contracts/lifecycle.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { cliBaseEnv, CLI_BIN, REPO, runCliBinary, runCliInProcess, showCliResult, type CliResult } from '../support/cli-runner.ts';
import { freePort } from '../support/free-port.ts';
import { openssl } from '../support/openssl.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * The `trustroot` CLI end to end against one real Trustroot started in this process: commands run
 * in this process through `runCli`, the function the binary calls (see `cli-runner.ts`), and the
 * shipped binary (`node bin/trustroot.mjs`, a child process) is run where the process matters: it
 * answers as the in-process runs do, issues end to end, and a daemon stops on SIGTERM. Every
 * artifact a command writes is checked with OpenSSL. Independent flows run concurrently.
 */

const HOUR_MS = 3_600_000;
/** A hung CLI or socket fails its test instead of stalling the file. */
const LIMIT = { timeout: 120_000 };

/** Real time plus an offset the test moves forward, so that expiry alerts can come due. */
class OffsetClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

describe('the trustroot CLI against a real Trustroot', () => {
  const clock = new OffsetClock();
  let trustroot: TestTrustroot;
  let work: string;
  let rootPem: string;
  let testRootPem: string;
  /** Lower-case hex, as the README tells operators to pass it. */
  let fingerprint: string;
  let adminToken: string;
  let securityToken: string;
  let ciToken: string;
  let admin: TrustrootClient;
  /** Connection settings of every run. */
  let connection: Record<string, string>;

  /** Runs `trustroot …` in this process with the connection settings; never throws on the exit code. */
  function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 45_000): Promise<CliResult> {
    return runCliInProcess(args, { ...connection, ...env }, timeoutMs);
  }

  /** Runs the shipped binary, `node bin/trustroot.mjs …`, with the connection settings. */
  function binary(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    return runCliBinary(args, { ...connection, ...env });
  }

  const show = showCliResult;
  /** Environment of runs as the initial admin (the token is filled in by before()). */
  const asAdmin = { TRUSTROOT_TOKEN: '' };

  async function freshDir(label: string): Promise<string> {
    return mkdtemp(path.join(work, `${label}-`));
  }

  /** File name → content, mode and mtime: to prove a directory was left alone. */
  async function snapshot(dir: string): Promise<Record<string, { content: string; mode: number; mtimeMs: number }>> {
    const entries: Record<string, { content: string; mode: number; mtimeMs: number }> = {};
    for (const name of (await readdir(dir)).sort()) {
      const file = path.join(dir, name);
      const info = await stat(file);
      entries[name] = { content: (await readFile(file)).toString('base64'), mode: info.mode & 0o777, mtimeMs: info.mtimeMs };
    }
    return entries;
  }

  async function mintToken(service: string, ttl = '10m'): Promise<string> {
    return (await admin.mintBootstrapToken(service, { ttl })).token;
  }

  /** `bootstrap` of `service` into a new directory; returns the directory. */
  async function bootstrap(service: string, names: string[], extra: string[] = []): Promise<string> {
    const out = await freshDir(service);
    const [name, ...sans] = names;
    const result = await cli(
      ['bootstrap', '--name', name ?? '', ...sans.flatMap((san) => ['--san', san]), '--out', out, ...extra],
      { TRUSTROOT_TOKEN: await mintToken(service) },
    );
    assert.equal(result.code, 0, show(result));
    assert.equal(result.stderr, '', 'a successful bootstrap is silent on stderr');
    return out;
  }

  async function certificateIn(dir: string): Promise<X509Certificate> {
    return new X509Certificate(await readFile(path.join(dir, 'cert.pem')));
  }

  const serialOf = (certificate: X509Certificate) => certificate.serialNumber.toLowerCase().replace(/^0+/, '');
  const spkiOf = (key: ReturnType<typeof createPublicKey>) => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');

  async function opensslVerify(dir: string, extra: string[] = []): Promise<{ code: number; output: string }> {
    const result = await openssl(['verify', ...extra, '-CAfile', path.join(dir, 'ca.pem'), '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'cert.pem')]);
    return { code: result.code, output: result.stdout + result.stderr };
  }

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'trustroot-cli-test-'));
    trustroot = await startTestTrustroot({ clock });
    rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    testRootPem = await (await fetch(`${trustroot.publicUrl}/ca/test-root.pem`)).text();
    fingerprint = createHash('sha256').update(new X509Certificate(rootPem).raw).digest('hex');
    await writeFile(path.join(work, 'prod-root.pem'), rootPem);
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database yields an initial admin token');
    adminToken = initial;
    asAdmin.TRUSTROOT_TOKEN = adminToken;
    connection = { TRUSTROOT_CA_URL: trustroot.apiUrl, TRUSTROOT_PUBLIC_URL: trustroot.publicUrl, TRUSTROOT_ROOT_FINGERPRINT: fingerprint };
    admin = await TrustrootClient.connect({ caUrl: trustroot.apiUrl, publicUrl: trustroot.publicUrl, rootFingerprint: fingerprint, token: adminToken });
    const policy = (name: string) => ({ name, owner: 'cli-tests', dnsNames: [`${name}.svc`, `*.${name}.svc`], uris: [`spiffe://corp/ns/prod/${name}`], profiles: ['peer'] });
    await Promise.all(['billing', 'ledger', 'sidecar', 'pinning', 'refusals', 'liveness', 'keyed', 'retry', 'shipped'].map((name) => admin.createService(policy(name))));
    const [security, ci] = await Promise.all([
      admin.createApiToken({ role: 'security', name: 'cli-security' }),
      admin.createApiToken({ role: 'ci', name: 'cli-ci' }),
    ]);
    securityToken = security.token;
    ciToken = ci.token;
  });

  after(async () => {
    if (trustroot !== undefined) await trustroot.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe('commands that do not depend on each other', { concurrency: true }, () => {
    it('the shipped binary answers as the in-process runs do, and issues end to end', LIMIT, async () => {
      // A request id differs between two runs of the same refused request; nothing else may.
      const sameRun = (result: CliResult) => ({ code: result.code, stdout: result.stdout, stderr: result.stderr.replace(/request [\w-]+\)/g, 'request …)') });
      const runs: { args: string[]; env?: Record<string, string | undefined>; code: number }[] = [
        { args: ['--version'], code: 0 },
        { args: ['--help'], code: 0 },
        { args: ['bootstrap', '--help'], code: 0 },
        { args: ['bootstrap', '--nmae', 'x'], code: 2 },
        { args: ['services', 'show', 'nobody', '--json'], env: asAdmin, code: 4 },
        { args: ['certs', 'list'], env: { TRUSTROOT_TOKEN: `trt_${'A'.repeat(43)}` }, code: 4 },
      ];
      for (const { args, env, code } of runs) {
        const [shipped, inProcess] = await Promise.all([binary(args, env), cli(args, env)]);
        assert.equal(shipped.signal, null, show(shipped));
        assert.equal(shipped.code, code, `${args.join(' ')}\n${show(shipped)}`);
        assert.deepEqual(sameRun(shipped), sameRun(inProcess), args.join(' '));
      }
      const out = await freshDir('shipped');
      const issued = await binary(['bootstrap', '--name', 'shipped.svc', '--out', out, '--json'], { TRUSTROOT_TOKEN: await mintToken('shipped') });
      assert.equal(issued.code, 0, show(issued));
      assert.equal(issued.stderr, '');
      const report = JSON.parse(issued.stdout) as { serial: string; service: string };
      assert.equal(report.service, 'shipped');
      assert.deepEqual((await readdir(out)).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem']);
      assert.equal((await stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);
      assert.equal(serialOf(await certificateIn(out)), report.serial);
      const verified = await opensslVerify(out);
      assert.equal(verified.code, 0, verified.output);
    });

    it('--help of every command exits 0 and lists its options', LIMIT, async () => {
      const top = await cli(['--help']);
      assert.equal(top.code, 0, show(top));
      await Promise.all(
        COMMANDS.map(async (command) => {
          const name = command.path.join(' ');
          assert.ok(top.stdout.includes(name), `the overview lists ${name}`);
          const result = await cli([...command.path, '--help']);
          assert.equal(result.code, 0, show(result));
          assert.ok(result.stdout.startsWith(`Usage: trustroot ${name}`), show(result));
          for (const option of Object.keys(commandOptionSpecs(command))) assert.ok(result.stdout.includes(`--${option}`), `${name} --help mentions --${option}`);
          assert.match(result.stdout, /Exit codes: 0 ok, 1 failure, 2 usage, 3 CA unavailable, 4 refused/);
          assert.equal(result.stderr, '');
        }),
      );
    });

    it('bad usage exits 2 with one explanation and sends nothing', LIMIT, async () => {
      const cases: { args: string[]; env?: Record<string, string | undefined>; message: RegExp }[] = [
        { args: ['bootstrap', '--nmae', 'x'], message: /Unknown option '--nmae'/ },
        { args: ['services'], message: /a subcommand is needed/ },
        { args: ['bootstrap', '--name', 'billing.svc'], env: { TRUSTROOT_TOKEN: 'trb_x' }, message: /--out is required/ },
        { args: ['bootstrap', '--name', 'billing.svc', '--out', path.join(tmpdir(), 'never')], env: { TRUSTROOT_TOKEN: undefined }, message: /bootstrap token is needed/ },
        { args: ['certs', 'list'], env: { TRUSTROOT_ROOT_FINGERPRINT: 'abc', TRUSTROOT_TOKEN: 'trt_x' }, message: /--root-fingerprint \(or TRUSTROOT_ROOT_FINGERPRINT\): a root fingerprint is/ },
        { args: ['revoke', '--serial', '01', '--service', 'billing', '--reason', 'keyCompromise'], message: /exactly one of --serial, --service and --key-fingerprint/ },
        { args: ['test-cert', '--name', 'localhost', '--out', '/tmp/x', '--p12'], env: { TRUSTROOT_TOKEN: 'trt_x' }, message: /--p12 needs --password-env/ },
      ];
      await Promise.all(
        cases.map(async ({ args, env, message }) => {
          const result = await cli(args, env);
          assert.equal(result.code, 2, `${args.join(' ')}\n${show(result)}`);
          assert.match(result.stderr, message, `${args.join(' ')}\n${show(result)}`);
          assert.equal(result.stdout, '');
        }),
      );
      await assert.rejects(stat(path.join(tmpdir(), 'never')), { code: 'ENOENT' });
    });

    it('token create, bootstrap, a reused token, renew, renew --rekey, revoke, certs show, crl fetch', LIMIT, async (t) => {
      let token = '';
      let out = '';
      await t.test('token create prints only the bootstrap token on stdout', async () => {
        const result = await cli(['token', 'create', '--service', 'billing', '--ttl', '10m'], asAdmin);
        assert.equal(result.code, 0, show(result));
        assert.match(result.stdout, /^trb_[A-Za-z0-9_-]{43}\n$/);
        assert.match(result.stderr, /single-use bootstrap token for billing/);
        token = result.stdout.trim();
      });

      await t.test('bootstrap writes key.pem (0600), cert.pem, chain.pem and ca.pem that OpenSSL verifies', async () => {
        out = await freshDir('billing');
        // The pin as OpenSSL prints it (upper case, colons) with a sha256: prefix: normalized by the CLI.
        const pin = `sha256:${new X509Certificate(rootPem).fingerprint256}`;
        const result = await cli(
          ['bootstrap', '--name', 'billing.svc', '--san', 'api.billing.svc', '--san', 'URI:spiffe://corp/ns/prod/billing', '--out', out, '--json', '--root-fingerprint', pin],
          { TRUSTROOT_TOKEN: token, TRUSTROOT_ROOT_FINGERPRINT: undefined },
        );
        assert.equal(result.code, 0, show(result));
        const report = JSON.parse(result.stdout) as { serial: string; service: string; spkiSha256: string; files: Record<string, string> };
        assert.equal(report.service, 'billing');
        assert.deepEqual((await readdir(out)).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem']);
        assert.equal((await stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);
        assert.equal(await readFile(path.join(out, 'ca.pem'), 'utf8'), rootPem);
        const verified = await opensslVerify(out, ['-x509_strict', '-purpose', 'sslclient']);
        assert.equal(verified.code, 0, verified.output);
        assert.match(verified.output, /cert\.pem: OK/);
        const certificate = await certificateIn(out);
        assert.equal(serialOf(certificate), report.serial);
        assert.equal(certificate.subjectAltName, 'DNS:billing.svc, DNS:api.billing.svc, URI:spiffe://corp/ns/prod/billing');
        const key = createPrivateKey(await readFile(path.join(out, 'key.pem')));
        assert.ok(certificate.checkPrivateKey(key), 'key.pem belongs to cert.pem');
        assert.equal(spkiOf(createPublicKey(key)), report.spkiSha256);
      });

      await t.test('the used token is refused (exit 4, one line) and the directory is unchanged', async () => {
        const before = await snapshot(out);
        const result = await cli(['bootstrap', '--name', 'billing.svc', '--out', out], { TRUSTROOT_TOKEN: token });
        assert.equal(result.code, 4, show(result));
        assert.equal(result.stderr.trim().split('\n').length, 1, show(result));
        assert.match(result.stderr, /^trustroot bootstrap: the bearer token is invalid, expired, revoked or already used \(401 unauthorized, request [\w-]+\)\n$/);
        assert.deepEqual(await snapshot(out), before);
      });

      let firstSerial = '';
      await t.test('renew rotates the certificate (new serial, same key) and runs --exec', async () => {
        const previous = await certificateIn(out);
        firstSerial = serialOf(previous);
        const keyBefore = await readFile(path.join(out, 'key.pem'), 'utf8');
        const marker = path.join(out, '..', 'billing-exec.txt');
        const result = await cli(['renew', '--dir', out, '--json', '--exec', `echo "$TRUSTROOT_SERIAL $TRUSTROOT_CERT_DIR" > ${marker}`], {
          TRUSTROOT_ROOT_FINGERPRINT: undefined,
        });
        assert.equal(result.code, 0, show(result));
        const renewal = JSON.parse(result.stdout) as { previousSerial: string; serial: string; rekeyed: boolean };
        assert.equal(renewal.previousSerial, firstSerial);
        assert.equal(renewal.rekeyed, false);
        const renewed = await certificateIn(out);
        assert.notEqual(serialOf(renewed), firstSerial);
        assert.equal(serialOf(renewed), renewal.serial);
        assert.equal(await readFile(path.join(out, 'key.pem'), 'utf8'), keyBefore);
        assert.equal((await readFile(marker, 'utf8')).trim(), `${renewal.serial} ${out}`);
        assert.equal((await opensslVerify(out)).code, 0);
        assert.deepEqual((await readdir(out)).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem'], 'no temporary files left');
        const old = await cli(['certs', 'show', firstSerial, '--json'], asAdmin);
        assert.equal(old.code, 0, show(old));
        const record = JSON.parse(old.stdout) as CertificateDto;
        assert.equal(record.status, 'superseded');
        assert.equal(record.renewedBy, renewal.serial);
      });

      await t.test('renew --rekey replaces key.pem with a new key of the same type', async () => {
        const keyBefore = createPrivateKey(await readFile(path.join(out, 'key.pem')));
        const result = await cli(['renew', '--dir', out, '--rekey']);
        assert.equal(result.code, 0, show(result));
        assert.match(result.stdout, /new key\s+yes/);
        const keyAfter = createPrivateKey(await readFile(path.join(out, 'key.pem')));
        assert.notEqual(spkiOf(createPublicKey(keyAfter)), spkiOf(createPublicKey(keyBefore)));
        assert.equal(keyAfter.asymmetricKeyDetails?.namedCurve, 'prime256v1');
        assert.equal((await stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);
        const certificate = await certificateIn(out);
        assert.ok(certificate.checkPrivateKey(keyAfter));
        assert.equal(certificate.subjectAltName, 'DNS:billing.svc, DNS:api.billing.svc, URI:spiffe://corp/ns/prod/billing');
        assert.equal((await opensslVerify(out)).code, 0);
      });

      let revokedSerial = '';
      await t.test('revoke --serial (security token), then certs show says revoked', async () => {
        revokedSerial = serialOf(await certificateIn(out));
        const result = await cli(['revoke', '--serial', revokedSerial, '--reason', 'keyCompromise'], { TRUSTROOT_TOKEN: securityToken });
        assert.equal(result.code, 0, show(result));
        assert.match(result.stdout, /status\s+revoked/);
        const shown = await cli(['certs', 'show', revokedSerial], { TRUSTROOT_TOKEN: securityToken });
        assert.equal(shown.code, 0, show(shown));
        assert.match(shown.stdout, /^status\s+revoked$/m);
        assert.match(shown.stdout, /^revocation reason\s+keyCompromise$/m);
      });

      await t.test('crl fetch writes a verified CRL listing the revoked serial', async () => {
        const file = path.join(out, '..', 'billing-crl.pem');
        const result = await cli(['crl', 'fetch', '--issuer', 'intermediate', '--out', file, '--json']);
        assert.equal(result.code, 0, show(result));
        const summary = JSON.parse(result.stdout) as { revokedSerials: string[]; crlNumber: string };
        assert.ok(summary.revokedSerials.includes(revokedSerial), result.stdout);
        const checked = await openssl(['crl', '-in', file, '-CAfile', path.join(out, 'chain.pem'), '-noout']);
        assert.match(checked.stdout + checked.stderr, /verify OK/);
        const refused = await opensslVerify(out, ['-crl_check', '-CRLfile', file]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.output, /certificate revoked/);
      });

      await t.test('a revoked certificate cannot renew: exit 4, files unchanged', async () => {
        const before = await snapshot(out);
        const result = await cli(['renew', '--dir', out]);
        assert.equal(result.code, 4, show(result));
        assert.match(result.stderr, /revoked/);
        assert.deepEqual(await snapshot(out), before);
      });
    });

    it('a wrong root fingerprint aborts with exit 4 before any connection to the API; the token still works', LIMIT, async () => {
      // A TCP relay in front of the API listener counts every connection the CLI opens to it.
      let connections = 0;
      const sockets = new Set<Socket>();
      const relay: Server = createServer((socket: Socket) => {
        connections += 1;
        const upstream = connect(Number(new URL(trustroot.apiUrl).port), '127.0.0.1');
        for (const each of [socket, upstream]) {
          sockets.add(each);
          each.on('close', () => sockets.delete(each));
        }
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
        socket.pipe(upstream).pipe(socket);
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
      try {
        const caUrl = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
        const token = await mintToken('pinning');
        const out = await freshDir('pinning');
        const wrong = createHash('sha256').update(new X509Certificate(testRootPem).raw).digest('hex');
        const result = await cli(['bootstrap', '--name', 'pinning.svc', '--out', out, '--ca-url', caUrl, '--root-fingerprint', wrong], { TRUSTROOT_TOKEN: token });
        assert.equal(result.code, 4, show(result));
        assert.match(result.stderr, new RegExp(`fingerprint ${fingerprint}, not the pinned ${wrong}; nothing was sent`));
        assert.equal(connections, 0, 'the API listener saw no connection, let alone the token');
        assert.deepEqual(await readdir(out), []);
        const retried = await cli(['bootstrap', '--name', 'pinning.svc', '--out', out, '--ca-url', caUrl, '--key-type', 'rsa2048'], { TRUSTROOT_TOKEN: token });
        assert.equal(retried.code, 0, show(retried));
        assert.equal(retried.stderr, '');
        assert.equal(createPublicKey(await readFile(path.join(out, 'cert.pem'))).asymmetricKeyDetails?.modulusLength, 2048);
        assert.ok(connections > 0);
        assert.equal((await opensslVerify(out)).code, 0);
      } finally {
        // close() waits for open connections: end them rather than wait for keep-alive timeouts.
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => relay.close(() => resolve()));
      }
    });

    it('an unreachable CA is retried for --wait, then exit 3 with no files', LIMIT, async () => {
      const [apiPort, publicPort] = await Promise.all([freePort(), freePort()]);
      const out = await freshDir('unreachable');
      const result = await cli(
        ['bootstrap', '--name', 'billing.svc', '--out', out, '--wait', '2s', '--ca-url', `https://127.0.0.1:${apiPort}`, '--public-url', `http://127.0.0.1:${publicPort}`],
        { TRUSTROOT_TOKEN: `trb_${'A'.repeat(43)}` },
      );
      assert.equal(result.code, 3, show(result));
      assert.match(result.stderr, /retrying GET \/ca\/root\.pem/);
      assert.match(result.stderr, /trustroot bootstrap: CA unavailable after \d+ attempts: .*ECONNREFUSED/);
      assert.ok(result.elapsedMs >= 2_000 && result.elapsedMs < 12_000, `took ${result.elapsedMs} ms`);
      assert.deepEqual(await readdir(out), []);
    });

    it('a name outside the policy is refused in one line (exit 4) and nothing is written', LIMIT, async () => {
      const out = await freshDir('refusals');
      const result = await cli(['bootstrap', '--name', 'refusals.svc', '--san', 'payments.svc', '--out', out], { TRUSTROOT_TOKEN: await mintToken('refusals') });
      assert.equal(result.code, 4, show(result));
      assert.equal(result.stderr, `trustroot bootstrap: payments.svc is not allowed for service refusals (403 policy_violation, name payments.svc, request ${/request ([\w-]+)\)/.exec(result.stderr)?.[1] ?? '?'})\n`);
      assert.deepEqual(await readdir(out), []);
      const forbidden = await cli(['services', 'create', '--name', 'sneaky', '--owner', 'x'], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(forbidden.code, 4, show(forbidden));
      assert.match(forbidden.stderr, /\(403 forbidden/);
    });

    it('renew with a missing or unreadable key fails (exit 1) without touching the files or asking the CA', LIMIT, async () => {
      const out = await bootstrap('ledger', ['ledger.svc'], ['--key-type', 'ed25519']);
      assert.equal(createPublicKey(await readFile(path.join(out, 'cert.pem'))).asymmetricKeyType, 'ed25519');
      const serial = serialOf(await certificateIn(out));
      await rm(path.join(out, 'key.pem'));
      const before = await snapshot(out);
      const missing = await cli(['renew', '--dir', out]);
      assert.equal(missing.code, 1, show(missing));
      assert.match(missing.stderr, /cannot read .*key\.pem \(ENOENT\); nothing was changed/);
      assert.deepEqual(await snapshot(out), before);
      await writeFile(path.join(out, 'key.pem'), 'not a key\n', { mode: 0o600 });
      const garbage = await cli(['renew', '--dir', out, '--rekey']);
      assert.equal(garbage.code, 1, show(garbage));
      assert.match(garbage.stderr, /key\.pem is not a readable private key/);
      const record = await admin.getCertificate(serial);
      assert.equal(record.status, 'active', 'the CA was never asked');
    });

    it('a renewal whose answer was lost is fetched again by renew (same key, and with --rekey the kept new key); nothing new is signed', LIMIT, async () => {
      const out = await bootstrap('retry', ['retry.svc']);
      const read = async (name: string) => readFile(path.join(out, name), 'utf8');
      const holder = async () => admin.withCredentials({ clientCertificate: { keyPem: await read('key.pem'), certificatePem: await read('cert.pem'), chainPem: await read('chain.pem') } });
      const count = async () => (await admin.listCertificates({ service: 'retry' })).certificates.length;

      // A renewal the CA committed but whose answer never reached the host.
      const lost = await (await holder()).renewCertificate();
      const issuedBefore = await count();
      const same = await cli(['renew', '--dir', out, '--json']);
      assert.equal(same.code, 0, show(same));
      assert.equal((JSON.parse(same.stdout) as { serial: string }).serial, lost.serial);
      assert.equal(serialOf(await certificateIn(out)), lost.serial);
      assert.equal(await count(), issuedBefore, 'the renewal was sent again, not issued again');

      // A re-keying renewal lost the same way: the CLI kept its new key in key.pem.next before asking.
      const names = { sans: ['retry.svc'] };
      const pending = await generateKeyAndCsr('p256', names);
      await writeFile(path.join(out, 'key.pem.next'), pending.privateKeyPem, { mode: 0o600 });
      const lostRekey = await (await holder()).renewCertificate({ csr: pending.csrPem });
      const rekeyed = await cli(['renew', '--dir', out, '--rekey', '--json']);
      assert.equal(rekeyed.code, 0, show(rekeyed));
      assert.equal((JSON.parse(rekeyed.stdout) as { serial: string }).serial, lostRekey.serial);
      assert.equal(await read('key.pem'), pending.privateKeyPem, 'the kept key became key.pem');
      assert.deepEqual((await readdir(out)).sort(), ['ca.pem', 'cert.pem', 'chain.pem', 'key.pem'], 'key.pem.next is gone');
      assert.equal(await count(), issuedBefore + 1);

      // Had the kept key been lost too, the CA refuses to certify yet another key (exit 4) and the files stay.
      await (await holder()).renewCertificate({ csr: (await generateKeyAndCsr('p256', names)).csrPem });
      const before = await snapshot(out);
      const refused = await cli(['renew', '--dir', out, '--rekey']);
      assert.equal(refused.code, 4, show(refused));
      assert.match(refused.stderr, /already renewed/);
      const after = await snapshot(out);
      delete after['key.pem.next'];
      assert.deepEqual(after, before);
    });

    it('renew --daemon renews before expiry, runs --exec after each rotation, and stops on SIGTERM', LIMIT, async () => {
      const out = await bootstrap('sidecar', ['sidecar.svc'], ['--ttl', '60s', '--key-type', 'p384']);
      const first = serialOf(await certificateIn(out));
      const log = path.join(work, 'sidecar-rotations.log');
      const child = spawn(
        process.execPath,
        [CLI_BIN, 'renew', '--dir', out, '--daemon', '--json', '--renew-before', '58s', '--exec', `echo "$TRUSTROOT_SERIAL" >> ${log}`],
        { cwd: REPO, env: { ...cliBaseEnv(), ...connection }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        const deadline = Date.now() + 30_000;
        while (!stdout.includes('\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
        assert.ok(stdout.includes('\n'), `no rotation within 30 s\n${stderr}`);
      } finally {
        child.kill('SIGTERM');
      }
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      assert.equal(await exited, 0, `SIGTERM must stop the daemon cleanly\n${stderr}`);
      clearTimeout(killer);
      const rotation = JSON.parse(stdout.split('\n')[0] ?? '') as { previousSerial: string; serial: string };
      assert.equal(rotation.previousSerial, first);
      assert.match(stderr, /renewing at .* \(in \d+s\)/);
      assert.match(stderr, new RegExp(`renewed certificate ${first} → ${rotation.serial}`));
      assert.match(stderr, /trustroot renew: stopped/);
      const hooks = (await readFile(log, 'utf8')).trim().split('\n');
      assert.equal(hooks[0], rotation.serial);
      const current = serialOf(await certificateIn(out));
      assert.equal(current, hooks[hooks.length - 1], 'cert.pem is the last rotation');
      assert.equal((await opensslVerify(out)).code, 0);
    });

    it('test-cert writes a test-CA certificate and a PKCS#12 bundle that OpenSSL opens with the password from the environment', LIMIT, async () => {
      const out = await freshDir('ci');
      const result = await cli(['test-cert', '--name', 'localhost', '--san', '127.0.0.1', '--san', 'app.test', '--ttl', '1h', '--out', out, '--p12', '--password-env', 'CI_P12_PASSWORD'], {
        TRUSTROOT_TOKEN: ciToken,
        CI_P12_PASSWORD: 'correct horse battery',
      });
      assert.equal(result.code, 0, show(result));
      assert.deepEqual((await readdir(out)).sort(), ['bundle.p12', 'ca.pem', 'cert.pem', 'chain.pem', 'key.pem']);
      assert.equal((await stat(path.join(out, 'key.pem'))).mode & 0o777, 0o600);
      assert.equal((await stat(path.join(out, 'bundle.p12'))).mode & 0o777, 0o600);
      assert.equal(await readFile(path.join(out, 'ca.pem'), 'utf8'), testRootPem);
      assert.equal((await opensslVerify(out)).code, 0);
      const certificate = await certificateIn(out);
      assert.equal(certificate.subjectAltName, 'DNS:localhost, DNS:app.test, IP Address:127.0.0.1');
      const lifetime = Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);
      assert.ok(lifetime <= HOUR_MS + 61_000, `lifetime ${lifetime} ms`);
      // Never valid under the production root.
      const production = await openssl(['verify', '-CAfile', path.join(work, 'prod-root.pem'), '-untrusted', path.join(out, 'chain.pem'), path.join(out, 'cert.pem')]);
      assert.notEqual(production.code, 0);
      const opened = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn('openssl', ['pkcs12', '-in', path.join(out, 'bundle.p12'), '-passin', 'env:CI_P12_PASSWORD', '-nodes'], {
          env: { ...process.env, CI_P12_PASSWORD: 'correct horse battery' },
        });
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('close', (code) => resolve({ code, output }));
      });
      assert.equal(opened.code, 0, opened.output);
      assert.match(opened.output, /BEGIN PRIVATE KEY/);
      assert.equal((opened.output.match(/BEGIN CERTIFICATE/g) ?? []).length, 3, 'leaf, test intermediate and test root');
      const wrongPassword = await openssl(['pkcs12', '-in', path.join(out, 'bundle.p12'), '-passin', 'pass:wrong', '-nodes']);
      assert.notEqual(wrongPassword.code, 0);
    });

    it('services create, list and show', LIMIT, async () => {
      const created = await cli(['services', 'create', '--name', 'cli-made', '--owner', 'platform', '--dns', 'cli-made.svc', '--dns', '*.cli-made.svc', '--ip', '10.0.0.0/24', '--profile', 'peer', '--json'], asAdmin);
      assert.equal(created.code, 0, show(created));
      assert.deepEqual((JSON.parse(created.stdout) as { dnsNames: string[] }).dnsNames, ['cli-made.svc', '*.cli-made.svc']);
      const again = await cli(['services', 'create', '--name', 'cli-made', '--owner', 'platform'], asAdmin);
      assert.equal(again.code, 4, show(again));
      assert.match(again.stderr, /409 conflict/);
      const [listed, table, shown] = await Promise.all([
        cli(['services', 'list', '--json'], { TRUSTROOT_TOKEN: securityToken }),
        cli(['services', 'list'], { TRUSTROOT_TOKEN: securityToken }),
        cli(['services', 'show', 'cli-made'], asAdmin),
      ]);
      assert.equal(listed.code, 0, show(listed));
      assert.ok((JSON.parse(listed.stdout) as { name: string }[]).some((s) => s.name === 'cli-made'));
      assert.match(table.stdout, /^NAME\s+OWNER\s+ENABLED\s+PROFILES\s+NAMES$/m);
      assert.match(table.stdout, /^cli-made\s+platform\s+yes\s+peer\s+cli-made\.svc,\*\.cli-made\.svc,10\.0\.0\.0\/24$/m);
      assert.match(shown.stdout, /^ip addresses\s+10\.0\.0\.0\/24$/m);
    });

    it('certs list filters by profile, name, status and expiry', LIMIT, async () => {
      const issued = await admin.withCredentials({ token: ciToken }).issueCertificate({ profile: 'test', generateKey: 'ecdsa-p256', sans: ['inventory.test'], ttl: '2h' });
      const [byProfile, within, notWithin, table] = await Promise.all([
        cli(['certs', 'list', '--profile', 'test', '--name', 'inventory.test', '--json'], { TRUSTROOT_TOKEN: securityToken }),
        cli(['certs', 'list', '--expiring', '3h', '--status', 'active', '--json', '--all'], asAdmin),
        cli(['certs', 'list', '--expiring', '90m', '--name', 'inventory.test', '--json'], asAdmin),
        cli(['certs', 'list', '--name', 'inventory.test'], asAdmin),
      ]);
      for (const result of [byProfile, within, notWithin, table]) assert.equal(result.code, 0, show(result));
      assert.deepEqual((JSON.parse(byProfile.stdout) as CertificateDto[]).map((c) => c.serial), [issued.serial]);
      assert.ok((JSON.parse(within.stdout) as CertificateDto[]).some((c) => c.serial === issued.serial));
      assert.deepEqual(JSON.parse(notWithin.stdout), []);
      assert.match(table.stdout, new RegExp(`^${issued.serial}\\s+-\\s+test\\s+active\\s+\\S+\\s+inventory\\.test$`, 'm'));
    });

    it('revoke --service disables the identity; revoke --key-fingerprint blocks the key', LIMIT, async () => {
      const issueFor = async (service: string) => {
        const generated = await generateKeyAndCsr('p256', { commonName: `${service}.svc`, sans: [`${service}.svc`] });
        const issued = await admin.withCredentials({ token: await mintToken(service) }).issueCertificate({ csr: generated.csrPem, profile: 'peer' });
        return { ...issued, generated };
      };
      const [liveness, keyed] = await Promise.all([issueFor('liveness'), issueFor('keyed')]);
      const service = await cli(['revoke', '--service', 'liveness', '--reason', 'keyCompromise', '--json'], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(service.code, 0, show(service));
      const outcome = JSON.parse(service.stdout) as { revoked: string[]; disabled: boolean };
      assert.deepEqual(outcome.revoked, [liveness.serial]);
      assert.equal(outcome.disabled, true);
      assert.equal((await admin.getService('liveness')).enabled, false);

      const colons = keyed.generated.spkiSha256.toUpperCase().replace(/(..)(?!$)/g, '$1:');
      const key = await cli(['revoke', '--key-fingerprint', colons], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(key.code, 0, show(key));
      assert.match(key.stdout, new RegExp(`^revoked\\s+${keyed.serial}$`, 'm'));
      assert.match(key.stdout, /^blocked\s+true$/m);
      const record = await admin.getCertificate(keyed.serial);
      assert.equal(record.status, 'revoked');
      assert.equal(record.revocationReason, 'keyCompromise');
    });
  });

  describe('once time has passed', () => {
    it('alerts lists the expiry flags and alerts ack acknowledges one', LIMIT, async () => {
      // 23 hours on: every 24-hour certificate is past 75 % and 90 % of its life without renewal.
      clock.offsetMs += 23 * HOUR_MS;
      await trustroot.instance.jobs.tick('expiry-scan', new Date(Math.floor(clock.now().getTime() / 1000) * 1000));
      const listed = await cli(['alerts', '--state', 'open', '--json'], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(listed.code, 0, show(listed));
      const alerts = JSON.parse(listed.stdout) as AlertDto[];
      const ledger = alerts.filter((alert) => alert.service === 'ledger');
      assert.deepEqual(ledger.map((alert) => alert.threshold).sort(), ['75%', '90%'], listed.stdout);
      const table = await cli(['alerts', '--service', 'ledger'], { TRUSTROOT_TOKEN: securityToken });
      assert.match(table.stdout, /^ID\s+STATE\s+THRESHOLD\s+SERVICE\s+SERIAL\s+NOT AFTER\s+FLAGGED AT$/m);
      assert.match(table.stdout, /\sopen\s+90%\s+ledger\s/);
      const target = ledger[0];
      assert.ok(target);
      const acked = await cli(['alerts', 'ack', target.id, '--json'], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(acked.code, 0, show(acked));
      assert.equal((JSON.parse(acked.stdout) as AlertDto).state, 'acknowledged');
    });
  });

});
