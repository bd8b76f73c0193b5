import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyAndCsr } from '../../src/client/generate-key-and-csr.ts';
import { TrustrootClient } from '../../src/client/trustroot-client.ts';
import { COMMANDS } from '../../src/cli/command-table.ts';
import { commandOptionSpecs } from '../../src/cli/parse-command-line.ts';
import type { ApiTokenDto, CreatedApiTokenDto, ServiceDto } from '../../src/contracts/certificates.ts';
import type { DependenciesDto, NotificationDto, SchedulerJobDto } from '../../src/contracts/lifecycle.ts';
import { runCliInProcess, showCliResult, type CliResult } from '../support/cli-runner.ts';
import { startTestTrustroot, type TestTrustroot } from '../support/trustroot-harness.ts';

/*
 * The administration commands of the `trustroot` CLI end to end (services update, disable and
 * deps; token api create, list and revoke; notifications; scheduler) against one real Trustroot
 * started in this process: each runs in this process through `runCli`, the function the binary
 * calls (`cli.test.ts` checks that the shipped binary answers as these runs do). Independent
 * flows run concurrently.
 */

/** A hung CLI or socket fails its test instead of stalling the file. */
const LIMIT = { timeout: 120_000 };
/** The commands this file covers. */
const ADMIN_COMMANDS = [
  'services update',
  'services disable',
  'services deps',
  'services deps set',
  'token api create',
  'token api list',
  'token api revoke',
  'notifications',
  'scheduler',
];

describe('the trustroot CLI administration commands against a real Trustroot', () => {
  let trustroot: TestTrustroot;
  let work: string;
  let adminToken: string;
  let securityToken: string;
  let admin: TrustrootClient;
  /** Connection settings of every run. */
  let connection: Record<string, string>;

  /** Runs `trustroot …` in this process with the connection settings; never throws on the exit code. */
  function cli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 45_000): Promise<CliResult> {
    return runCliInProcess(args, { ...connection, ...env }, timeoutMs);
  }

  const show = showCliResult;
  /** Environment of runs as the initial admin (the token is filled in by before()). */
  const asAdmin = { TRUSTROOT_TOKEN: '' };

  /** Asserts exit 0 and returns stdout parsed as JSON. */
  function json<T>(result: CliResult): T {
    assert.equal(result.code, 0, show(result));
    return JSON.parse(result.stdout) as T;
  }

  /** Issues a peer certificate for `service` (its name `<service>.svc`) with a fresh bootstrap token. */
  async function issueFor(service: string): Promise<string> {
    const generated = await generateKeyAndCsr('p256', { commonName: `${service}.svc`, sans: [`${service}.svc`] });
    const token = (await admin.mintBootstrapToken(service, { ttl: '10m' })).token;
    return (await admin.withCredentials({ token }).issueCertificate({ csr: generated.csrPem, profile: 'peer' })).serial;
  }

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'trustroot-cli-admin-test-'));
    trustroot = await startTestTrustroot();
    const rootPem = await (await fetch(`${trustroot.publicUrl}/ca/root.pem`)).text();
    const fingerprint = createHash('sha256').update(new X509Certificate(rootPem).raw).digest('hex');
    const initial = trustroot.instance.initialAdminToken;
    assert.ok(initial, 'a fresh database yields an initial admin token');
    adminToken = initial;
    asAdmin.TRUSTROOT_TOKEN = adminToken;
    connection = { TRUSTROOT_CA_URL: trustroot.apiUrl, TRUSTROOT_PUBLIC_URL: trustroot.publicUrl, TRUSTROOT_ROOT_FINGERPRINT: fingerprint };
    admin = await TrustrootClient.connect({ caUrl: trustroot.apiUrl, publicUrl: trustroot.publicUrl, rootFingerprint: fingerprint, token: adminToken });
    const policy = (name: string) => ({ name, owner: 'cli-admin-tests', dnsNames: [`${name}.svc`, `*.${name}.svc`], uris: [`spiffe://corp/ns/prod/${name}`], profiles: ['peer'] });
    await Promise.all(['narrowed', 'switched', 'app', 'db', 'cache', 'notifier', 'watcher', 'untouched'].map((name) => admin.createService(policy(name))));
    securityToken = (await admin.createApiToken({ role: 'security', name: 'cli-admin-security' })).token;
  });

  after(async () => {
    if (trustroot !== undefined) await trustroot.destroy();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe('commands that do not depend on each other', { concurrency: true }, () => {
    it('--help of each new command exits 0 and lists its options; the group helps list them', LIMIT, async () => {
      const commands = COMMANDS.filter((command) => ADMIN_COMMANDS.includes(command.path.join(' ')));
      assert.deepEqual(commands.map((command) => command.path.join(' ')).sort(), [...ADMIN_COMMANDS].sort(), 'every new command is registered');
      const [top, tokenGroup, servicesGroup] = await Promise.all([cli(['--help']), cli(['token', '--help']), cli(['services', '--help'])]);
      for (const result of [top, tokenGroup, servicesGroup]) assert.equal(result.code, 0, show(result));
      for (const name of ADMIN_COMMANDS) assert.ok(top.stdout.includes(`  ${name} `), `the overview lists ${name}`);
      for (const name of ['token create', 'token api create', 'token api list', 'token api revoke']) assert.match(tokenGroup.stdout, new RegExp(`^  ${name}\\s`, 'm'));
      for (const name of ['services update', 'services disable', 'services deps', 'services deps set']) assert.match(servicesGroup.stdout, new RegExp(`^  ${name}\\s`, 'm'));
      await Promise.all(
        commands.map(async (command) => {
          const name = command.path.join(' ');
          const result = await cli([...command.path, '--help']);
          assert.equal(result.code, 0, show(result));
          assert.ok(result.stdout.startsWith(`Usage: trustroot ${name} `), show(result));
          for (const option of Object.keys(commandOptionSpecs(command))) assert.ok(result.stdout.includes(`--${option}`), `${name} --help mentions --${option}`);
          assert.match(result.stdout, /Exit codes: 0 ok, 1 failure, 2 usage, 3 CA unavailable, 4 refused/);
          assert.equal(result.stderr, '');
        }),
      );
    });

    it('bad usage exits 2 with one explanation and sends nothing', LIMIT, async () => {
      const cases: { args: string[]; message: RegExp }[] = [
        { args: ['services', 'update'], message: /^trustroot services update: NAME is required$/m },
        { args: ['services', 'update', '--dns', 'x.svc'], message: /NAME is required/ },
        { args: ['services', 'update', 'untouched'], message: /nothing to change: give at least one of --owner/ },
        { args: ['services', 'update', 'Narrowed!', '--owner', 'x'], message: /NAME "Narrowed!" is not a service name/ },
        { args: ['services', 'update', 'untouched', '--enabled'], message: /Unknown option '--enabled'/ },
        { args: ['services', 'disable'], message: /^trustroot services disable: NAME is required$/m },
        { args: ['services', 'disable', 'untouched', 'switched'], message: /unexpected argument "switched"/ },
        { args: ['services', 'deps'], message: /^trustroot services deps: NAME is required$/m },
        { args: ['services', 'deps', 'set'], message: /^trustroot services deps set: NAME is required$/m },
        { args: ['services', 'deps', 'set', 'untouched'], message: /give the services NAME relies on \(--relies-on SERVICE, repeatable\), or --none/ },
        { args: ['services', 'deps', 'set', 'untouched', '--none', '--relies-on', 'db'], message: /--none and --relies-on exclude each other/ },
        { args: ['services', 'deps', 'set', 'untouched', '--relies-on', 'db,cache'], message: /--relies-on "db,cache" is not a service name \(give --relies-on once per service\)/ },
        { args: ['token', 'api', 'create', '--name', 'x'], message: /--role is required \(one of admin, security, ci, auditor\)/ },
        { args: ['token', 'api', 'create', '--role', 'root', '--name', 'x'], message: /--role must be one of admin, security, ci, auditor \(not "root"\)/ },
        { args: ['token', 'api', 'create', '--role', 'ci'], message: /--name is required/ },
        { args: ['token', 'api', 'create', '--role', 'ci', '--name', 'x', '--ttl', 'forever'], message: /--ttl: "forever" is not a duration/ },
        { args: ['token', 'api', 'create', '--role', 'ci', '--name', 'x', '--ttl', '0'], message: /--ttl must be longer than zero/ },
        { args: ['token', 'api', 'create', '--role', 'ci', '--name', 'x'.repeat(101)], message: /--name must be at most 100 characters/ },
        { args: ['token', 'api', 'revoke'], message: /^trustroot token api revoke: ID is required$/m },
        { args: ['token', 'api', 'revoke', 'not-a-uuid'], message: /ID "not-a-uuid" is not an API token id/ },
        { args: ['token', 'api', 'list', 'extra'], message: /unexpected argument "extra"/ },
        { args: ['token', 'api', 'nope'], message: /unknown subcommand/ },
        { args: ['notifications', '--status', 'lost'], message: /--status must be one of pending, delivered, dead \(not "lost"\)/ },
        { args: ['notifications', '--limit', '0'], message: /--limit must be a whole number from 1 to 500/ },
        { args: ['scheduler', '--job', 'backup'], message: /--job must be one of expiry-scan, mark-expired, crl-refresh, deliver-notifications/ },
      ];
      await Promise.all(
        cases.map(async ({ args, message }) => {
          const result = await cli(args, asAdmin);
          assert.equal(result.code, 2, `${args.join(' ')}\n${show(result)}`);
          assert.match(result.stderr, message, `${args.join(' ')}\n${show(result)}`);
          assert.match(result.stderr, /Run 'trustroot [a-z ]+--help' for usage\.\n$/, `${args.join(' ')}\n${show(result)}`);
          assert.equal(result.stdout, '');
        }),
      );
      assert.ok(!(await admin.listApiTokens()).some((token) => token.name.startsWith('x')), 'no token was created');
      const untouched = await admin.getService('untouched');
      assert.equal(untouched.owner, 'cli-admin-tests');
      assert.equal(untouched.updatedAt, untouched.createdAt);
      assert.deepEqual(await admin.getDependencies('untouched'), { reliesOn: [], reliedOnBy: [] });
    });

    it('services update narrows the name policy: services show reflects it and a refused name is refused', LIMIT, async () => {
      const before = await cli(['token', 'create', '--service', 'narrowed', '--san', 'api.narrowed.svc'], asAdmin);
      assert.equal(before.code, 0, show(before));

      const updated = json<ServiceDto>(
        await cli(['services', 'update', 'narrowed', '--dns', 'narrowed.svc', '--uri', '', '--owner', 'platform', '--contact', '#platform-oncall', '--json'], asAdmin),
      );
      assert.deepEqual(updated.dnsNames, ['narrowed.svc']);
      assert.deepEqual(updated.uris, [], "--uri '' empties the list");
      assert.deepEqual(updated.profiles, ['peer'], 'lists not given stay');
      assert.equal(updated.owner, 'platform');
      assert.equal(updated.contact, '#platform-oncall');
      assert.equal(updated.webhookSecret, undefined);

      const shown = await cli(['services', 'show', 'narrowed'], asAdmin);
      assert.equal(shown.code, 0, show(shown));
      assert.match(shown.stdout, /^owner\s+platform$/m);
      assert.match(shown.stdout, /^dns names\s+narrowed\.svc$/m);
      assert.doesNotMatch(shown.stdout, /^uris/m);

      const refused = await cli(['token', 'create', '--service', 'narrowed', '--san', 'api.narrowed.svc'], asAdmin);
      assert.equal(refused.code, 4, show(refused));
      assert.match(refused.stderr, /^trustroot token create: api\.narrowed\.svc is not allowed for service narrowed \(403 policy_violation, name api\.narrowed\.svc, request [\w-]+\)\n$/);
      assert.equal(refused.stdout, '');

      // Human output; a new webhook URL gets a new secret, shown once, with a note on stderr.
      const webhook = await cli(['services', 'update', 'narrowed', '--webhook-url', 'http://127.0.0.1:9/hooks/narrowed', '--profile', 'peer', '--profile', 'server'], asAdmin);
      assert.equal(webhook.code, 0, show(webhook));
      assert.match(webhook.stdout, /^webhook\s+http:\/\/127\.0\.0\.1:9\/hooks\/narrowed$/m);
      assert.match(webhook.stdout, /^webhook secret\s+whsec_\S+$/m);
      assert.match(webhook.stdout, /^profiles\s+peer, server$/m);
      assert.match(webhook.stderr, /^trustroot: new webhook secret for narrowed: give it to the webhook's receiver now, it is not shown again\n$/);

      const [forbidden, missing, badPolicy] = await Promise.all([
        cli(['services', 'update', 'narrowed', '--owner', 'intruder'], { TRUSTROOT_TOKEN: securityToken }),
        cli(['services', 'update', 'ghost', '--owner', 'x'], asAdmin),
        cli(['services', 'update', 'narrowed', '--dns', 'not a name'], asAdmin),
      ]);
      assert.equal(forbidden.code, 4, show(forbidden));
      assert.match(forbidden.stderr, /\(403 forbidden/);
      assert.equal(missing.code, 4, show(missing));
      assert.match(missing.stderr, /there is no service named ghost \(404 not_found/);
      assert.equal(badPolicy.code, 4, show(badPolicy));
      assert.match(badPolicy.stderr, /\(400 /);
      assert.equal((await admin.getService('narrowed')).owner, 'platform');
    });

    it('services disable refuses bootstrap tokens and issuance until services update --enable', LIMIT, async () => {
      const earlier = (await admin.mintBootstrapToken('switched', { ttl: '10m' })).token;
      const disabled = await cli(['services', 'disable', 'switched'], asAdmin);
      assert.equal(disabled.code, 0, show(disabled));
      assert.match(disabled.stdout, /^enabled\s+false$/m);
      assert.match(disabled.stdout, /^disabled at\s+\d{4}-\d\d-\d\dT/m);
      assert.match(disabled.stderr, /^trustroot: service switched is disabled; re-enable it with 'trustroot services update switched --enable'\n$/);

      const mint = await cli(['token', 'create', '--service', 'switched'], asAdmin);
      assert.equal(mint.code, 4, show(mint));
      assert.match(mint.stderr, /^trustroot token create: service switched is disabled \(403 forbidden, request [\w-]+\)\n$/);
      const out = await mkdtemp(path.join(work, 'switched-'));
      const issue = await cli(['bootstrap', '--name', 'switched.svc', '--out', out], { TRUSTROOT_TOKEN: earlier });
      assert.equal(issue.code, 4, show(issue));
      assert.match(issue.stderr, /service switched is disabled \(403 forbidden/);
      assert.deepEqual(await readdir(out), []);

      const again = json<ServiceDto>(await cli(['services', 'disable', 'switched', '--json'], asAdmin));
      assert.equal(again.enabled, false, 'disabling twice is harmless');

      const enabled = json<ServiceDto>(await cli(['services', 'update', 'switched', '--enable', '--json'], asAdmin));
      assert.equal(enabled.enabled, true);
      assert.equal(enabled.disabledAt, undefined);
      const minted = await cli(['token', 'create', '--service', 'switched'], asAdmin);
      assert.equal(minted.code, 0, show(minted));
      assert.match(minted.stdout, /^trb_[A-Za-z0-9_-]{43}\n$/);

      const forbidden = await cli(['services', 'disable', 'switched'], { TRUSTROOT_TOKEN: securityToken });
      assert.equal(forbidden.code, 4, show(forbidden));
      assert.match(forbidden.stderr, /\(403 forbidden/);
      assert.equal((await admin.getService('switched')).enabled, true);
    });

    it('services deps set declares what a service relies on; services deps shows both directions', LIMIT, async () => {
      const set = await cli(['services', 'deps', 'set', 'app', '--relies-on', 'db', '--relies-on', 'cache', '--relies-on', 'db'], asAdmin);
      assert.equal(set.code, 0, show(set));
      assert.match(set.stdout, /^service\s+app$/m);
      assert.match(set.stdout, /^relies on\s+(cache, db|db, cache)$/m);
      assert.match(set.stdout, /^relied on by\s+\(none\)$/m);

      const [ofDb, ofApp, asSecurity] = await Promise.all([
        cli(['services', 'deps', 'db', '--json'], asAdmin),
        cli(['services', 'deps', 'app', '--json'], asAdmin),
        cli(['services', 'deps', 'db'], { TRUSTROOT_TOKEN: securityToken }),
      ]);
      assert.deepEqual(json<DependenciesDto>(ofDb), { reliesOn: [], reliedOnBy: ['app'] });
      assert.deepEqual(json<DependenciesDto>(ofApp).reliesOn.sort(), ['cache', 'db']);
      assert.equal(asSecurity.code, 0, show(asSecurity));
      assert.match(asSecurity.stdout, /^relies on\s+\(none\)$/m);
      assert.match(asSecurity.stdout, /^relied on by\s+app$/m);

      const [unknown, selfReliance, forbidden, missing] = await Promise.all([
        cli(['services', 'deps', 'set', 'app', '--relies-on', 'ghost'], asAdmin),
        cli(['services', 'deps', 'set', 'app', '--relies-on', 'app'], asAdmin),
        cli(['services', 'deps', 'set', 'app', '--none'], { TRUSTROOT_TOKEN: securityToken }),
        cli(['services', 'deps', 'ghost'], asAdmin),
      ]);
      assert.equal(unknown.code, 4, show(unknown));
      assert.match(unknown.stderr, /there is no service named ghost \(404 not_found/);
      assert.equal(selfReliance.code, 4, show(selfReliance));
      assert.match(selfReliance.stderr, /a service cannot rely on itself \(400 /);
      assert.equal(forbidden.code, 4, show(forbidden));
      assert.match(forbidden.stderr, /\(403 forbidden/);
      assert.equal(missing.code, 4, show(missing));
      assert.match(missing.stderr, /\(404 not_found/);
      assert.deepEqual((await admin.getDependencies('app')).reliesOn.sort(), ['cache', 'db'], 'refused changes changed nothing');

      const cleared = json<DependenciesDto>(await cli(['services', 'deps', 'set', 'app', '--none', '--json'], asAdmin));
      assert.deepEqual(cleared, { reliesOn: [], reliedOnBy: [] });
      assert.deepEqual(await admin.getDependencies('db'), { reliesOn: [], reliedOnBy: [] });
    });

    it('token api create prints the secret once; the token works, is listed without it, and is refused once revoked', LIMIT, async () => {
      const created = await cli(['token', 'api', 'create', '--role', 'auditor', '--name', 'cli-auditor', '--ttl', '1h'], asAdmin);
      assert.equal(created.code, 0, show(created));
      assert.match(created.stdout, /^trt_[A-Za-z0-9_-]{43}\n$/, 'only the secret on stdout');
      const secret = created.stdout.trim();
      const id = /\(id ([0-9a-f-]{36})\)/.exec(created.stderr)?.[1];
      assert.ok(id, show(created));
      assert.match(created.stderr, /^trustroot: auditor API token "cli-auditor" \(id [0-9a-f-]{36}\), valid until \d{4}-\d\d-\d\dT\S+: store the secret now, it is not shown again\n$/);

      const asAuditor = { TRUSTROOT_TOKEN: secret };
      const listedServices = await cli(['services', 'list', '--json'], asAuditor);
      assert.ok(json<ServiceDto[]>(listedServices).some((service) => service.name === 'narrowed'), 'the new token reads services');
      const notAdmin = await cli(['token', 'api', 'list'], asAuditor);
      assert.equal(notAdmin.code, 4, show(notAdmin));
      assert.match(notAdmin.stderr, /\(403 forbidden/);

      const [listed, table] = await Promise.all([cli(['token', 'api', 'list', '--json'], asAdmin), cli(['token', 'api', 'list'], asAdmin)]);
      const tokens = json<ApiTokenDto[]>(listed);
      const record = tokens.find((token) => token.id === id);
      assert.ok(record, listed.stdout);
      assert.equal(record.name, 'cli-auditor');
      assert.equal(record.role, 'auditor');
      assert.ok(record.expiresAt !== undefined);
      assert.ok(tokens.every((token) => !('token' in token)), 'no secret in the list');
      assert.equal(table.code, 0, show(table));
      assert.match(table.stdout, /^ID\s+NAME\s+ROLE\s+STATE\s+CREATED\s+EXPIRES\s+REVOKED AT$/m);
      assert.match(table.stdout, new RegExp(`^${id}\\s+cli-auditor\\s+auditor\\s+active\\s+\\S+\\s+\\S+\\s+-$`, 'm'));
      assert.match(table.stdout, /\sinitial-admin\s+admin\s+active\s+\S+\s+never\s+-$/m);
      for (const output of [listed.stdout, table.stdout]) assert.ok(!output.includes(secret) && !output.includes(adminToken), 'no secret is ever listed');

      const revoked = await cli(['token', 'api', 'revoke', id], asAdmin);
      assert.equal(revoked.code, 0, show(revoked));
      assert.match(revoked.stdout, new RegExp(`^id\\s+${id}$`, 'm'));
      assert.match(revoked.stdout, /^revoked at\s+\d{4}-\d\d-\d\dT/m);
      const refused = await cli(['services', 'list'], asAuditor);
      assert.equal(refused.code, 4, show(refused));
      assert.match(refused.stderr, /^trustroot services list: .*\(401 unauthorized, request [\w-]+\)\n$/);
      assert.equal(refused.stdout, '');

      const twice = json<ApiTokenDto>(await cli(['token', 'api', 'revoke', id, '--json'], asAdmin));
      assert.equal(twice.id, id);
      assert.ok(twice.revokedAt !== undefined, 'revoking twice is harmless');
      const afterRevoke = await cli(['token', 'api', 'list'], asAdmin);
      assert.match(afterRevoke.stdout, new RegExp(`^${id}\\s+cli-auditor\\s+auditor\\s+revoked\\s`, 'm'));
      const unknown = await cli(['token', 'api', 'revoke', '00000000-0000-4000-8000-000000000000'], asAdmin);
      assert.equal(unknown.code, 4, show(unknown));
      assert.match(unknown.stderr, /\(404 not_found/);
    });

    it('token api create --json gives the whole record with the secret; without --ttl it never expires', LIMIT, async () => {
      const result = await cli(['token', 'api', 'create', '--role', 'ci', '--name', 'cli-ci', '--json'], asAdmin);
      const created = json<CreatedApiTokenDto>(result);
      assert.match(created.token, /^trt_[A-Za-z0-9_-]{43}$/);
      assert.equal(created.role, 'ci');
      assert.equal(created.name, 'cli-ci');
      assert.equal(created.expiresAt, undefined);
      assert.match(result.stderr, /^trustroot: ci API token "cli-ci" \(id [0-9a-f-]{36}\), no expiry: store the secret now, it is not shown again\n$/);
      // The ci token issues test certificates.
      const issued = await admin.withCredentials({ token: created.token }).issueCertificate({ profile: 'test', generateKey: 'ecdsa-p256', sans: ['cli-admin.test'] });
      assert.equal(issued.profile, 'test');
      const forbidden = await cli(['token', 'api', 'create', '--role', 'admin', '--name', 'escalation'], { TRUSTROOT_TOKEN: created.token });
      assert.equal(forbidden.code, 4, show(forbidden));
      assert.match(forbidden.stderr, /\(403 forbidden/);
      assert.equal(forbidden.stdout, '');
    });
  });

  describe('notifications and the scheduler', () => {
    it('notifications lists the outbox by status and service; scheduler shows the runs', LIMIT, async (t) => {
      await t.test('scheduler: every job, never run yet (human and --json)', async () => {
        const [table, listed] = await Promise.all([cli(['scheduler'], { TRUSTROOT_TOKEN: securityToken }), cli(['scheduler', '--json'], asAdmin)]);
        assert.equal(table.code, 0, show(table));
        assert.match(table.stdout, /^JOB\s+SCHEDULE\s+LAST RUN\s+OUTCOME\s+ITEMS\s+TOOK\s+ERROR$/m);
        for (const job of ['expiry-scan', 'mark-expired', 'crl-refresh', 'deliver-notifications']) {
          assert.match(table.stdout, new RegExp(`^${job}\\s+\\S.*\\s+never\\s+-\\s+-\\s+-\\s+-$`, 'm'), table.stdout);
        }
        const jobs = json<SchedulerJobDto[]>(listed);
        assert.deepEqual(jobs.map((job) => job.job).sort(), ['crl-refresh', 'deliver-notifications', 'expiry-scan', 'mark-expired']);
        assert.ok(jobs.every((job) => job.schedule !== '' && job.recentRuns.length === 0), listed.stdout);
      });

      let serial = '';
      await t.test('a revocation queues a pending notification for the owner and for the service relying on it', async () => {
        await admin.setDependencies('watcher', ['notifier']);
        serial = await issueFor('notifier');
        await admin.revokeCertificate(serial, { reason: 'keyCompromise' });
        const [owner, dependent, empty] = await Promise.all([
          cli(['notifications', '--service', 'notifier', '--json'], { TRUSTROOT_TOKEN: securityToken }),
          cli(['notifications', '--service', 'watcher', '--status', 'pending'], asAdmin),
          cli(['notifications', '--service', 'narrowed'], asAdmin),
        ]);
        const notifications = json<NotificationDto[]>(owner);
        assert.equal(notifications.length, 1, owner.stdout);
        const [first] = notifications;
        assert.ok(first);
        assert.equal(first.status, 'pending');
        assert.equal(first.eventType, 'certificate.revoked');
        assert.equal(first.payload.serial, serial);
        assert.equal(dependent.code, 0, show(dependent));
        assert.match(dependent.stdout, /^ID\s+STATUS\s+EVENT\s+SERVICE\s+ATTEMPTS\s+CREATED\s+NEXT ATTEMPT\s+DELIVERED AT\s+LAST ERROR$/m);
        assert.match(dependent.stdout, /^\S+\s+pending\s+certificate\.revoked\s+watcher\s+0\s+\S+\s+\d{4}-\S+\s+-\s+-$/m);
        assert.equal(empty.code, 0, show(empty));
        assert.equal(empty.stdout, '(none)\n');
      });

      await t.test('after a delivery run both are dead (no webhook URL): notifications --status dead and scheduler say so', async () => {
        await trustroot.instance.jobs.tick('deliver-notifications', new Date());
        const [dead, pending, limited, jobs, table, runs] = await Promise.all([
          cli(['notifications', '--status', 'dead'], asAdmin),
          cli(['notifications', '--status', 'pending', '--json'], asAdmin),
          cli(['notifications', '--limit', '1', '--json'], asAdmin),
          cli(['scheduler', '--json'], asAdmin),
          cli(['scheduler'], asAdmin),
          cli(['scheduler', '--job', 'deliver-notifications'], asAdmin),
        ]);
        assert.equal(dead.code, 0, show(dead));
        for (const service of ['notifier', 'watcher']) {
          assert.match(dead.stdout, new RegExp(`^\\S+\\s+dead\\s+certificate\\.revoked\\s+${service}\\s+1\\s+\\S+\\s+-\\s+-\\s+service has no webhook URL$`, 'm'), dead.stdout);
        }
        assert.deepEqual(json<NotificationDto[]>(pending), []);
        assert.equal(json<NotificationDto[]>(limited).length, 1);

        const delivery = json<SchedulerJobDto[]>(jobs).find((job) => job.job === 'deliver-notifications');
        assert.ok(delivery);
        assert.equal(delivery.recentRuns.length, 1);
        assert.equal(delivery.recentRuns[0]?.outcome, 'succeeded');
        assert.equal(table.code, 0, show(table));
        assert.match(table.stdout, /^deliver-notifications\s+\S.*\s+\d{4}-\d\d-\d\dT\S+\s+succeeded\s+\d+\s+\d+s\s+-$/m);
        assert.match(table.stdout, /^crl-refresh\s+\S.*\s+never\s/m);
        assert.equal(runs.code, 0, show(runs));
        assert.match(runs.stdout, /^SCHEDULED FOR\s+STARTED AT\s+OUTCOME\s+ITEMS\s+TOOK\s+ERROR$/m);
        assert.match(runs.stdout, /^\d{4}-\S+\s+\d{4}-\S+\s+succeeded\s+\d+\s+\d+s\s+-$/m);
      });
    });
  });
});
