import type { ServiceDto } from '../../contracts/certificates.ts';
import type { DependenciesDto } from '../../contracts/lifecycle.ts';
import type { ServiceUpdateDto } from '../../contracts/requests.ts';
import type { CliCommand, OptionSpec } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import type { CommandOptions } from '../command-options.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, formatTable, writeJson, writeMessage, writeResult } from '../write-output.ts';

const connection = [TOKEN_OPTIONS, connectionOptions('10s')];

/** The service-name rule of the API (`openapi.yaml`), checked before anything is sent. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The name policy and profile lists of a service, as create and update send them. */
type NamePolicyLists = Pick<ServiceUpdateDto, 'dnsNames' | 'ipAddresses' | 'uris' | 'profiles'>;

/** Each repeatable option and the list of the service it fills. */
const POLICY_LISTS = [
  ['dns', 'dnsNames'],
  ['ip', 'ipAddresses'],
  ['uri', 'uris'],
  ['profile', 'profiles'],
] as const satisfies readonly (readonly [string, keyof NamePolicyLists])[];

/**
 * `--dns`, `--ip`, `--uri` and `--profile`, shared by `services create` and `services update`.
 * For update, each option given replaces that whole list; an empty value (`--dns ''`) empties it.
 */
function namePolicyOptions(mode: 'create' | 'update'): Record<string, OptionSpec> {
  const note = mode === 'update' ? "; replaces the whole list, '' empties it" : '';
  return {
    dns: { type: 'string', value: 'NAME', multiple: true, description: `allowed DNS name or *. pattern; repeatable${note}` },
    ip: { type: 'string', value: 'ADDR', multiple: true, description: `allowed IP address or CIDR; repeatable${note}` },
    uri: { type: 'string', value: 'URI', multiple: true, description: `allowed URI or prefix/*; repeatable${note}` },
    profile: { type: 'string', value: 'PROFILE', multiple: true, description: `allowed profile; repeatable${mode === 'create' ? ' (default peer)' : note}` },
  };
}

/**
 * The lists of the name policy options that were given (absent ones are left out), empty
 * values dropped: `--dns ''` alone yields an empty list.
 */
function namePolicyFromOptions(options: CommandOptions): NamePolicyLists {
  const lists: NamePolicyLists = {};
  for (const [option, field] of POLICY_LISTS) {
    if (options.given(option)) lists[field] = options.list(option).filter((value) => value !== '');
  }
  return lists;
}

/** `NAME`, the first positional, checked against the API's rule for service names. */
function serviceNameArgument(positionals: string[]): string {
  const name = positionals[0] ?? '';
  if (!SERVICE_NAME.test(name)) throw new UsageError(`NAME "${name}" is not a service name (lower-case letters, digits and dashes, starting with a letter)`);
  return name;
}

function dependencyFields(name: string, dependencies: DependenciesDto): string {
  const list = (names: string[]) => (names.length > 0 ? names.join(', ') : '(none)');
  return formatFields([
    ['service', name],
    ['relies on', list(dependencies.reliesOn)],
    ['relied on by', list(dependencies.reliedOnBy)],
  ]);
}

function serviceFields(service: ServiceDto): string {
  return formatFields([
    ['name', service.name],
    ['owner', service.owner],
    ['contact', service.contact],
    ['enabled', service.enabled],
    ['disabled at', service.disabledAt],
    ['profiles', service.profiles.join(', ')],
    ['dns names', service.dnsNames.join(', ')],
    ['ip addresses', service.ipAddresses.join(', ')],
    ['uris', service.uris.join(', ')],
    ['webhook', service.webhookUrl],
    ['webhook secret', service.webhookSecret],
    ['created', service.createdAt],
    ['updated', service.updatedAt],
  ]);
}

/** `trustroot services list|show|create|update|disable|deps`: the identities that own certificates. */
export const servicesCommands: CliCommand[] = [
  {
    path: ['services', 'list'],
    summary: 'list the services (admin, security, auditor)',
    synopsis: '[options]',
    groups: connection,
    async run(context) {
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      const services = await client.listServices();
      if (context.json) writeJson(context.io, services);
      else {
        writeResult(
          context.io,
          formatTable(
            ['NAME', 'OWNER', 'ENABLED', 'PROFILES', 'NAMES'],
            services.map((s) => [s.name, s.owner, s.enabled ? 'yes' : 'no', s.profiles.join(','), [...s.dnsNames, ...s.ipAddresses, ...s.uris].join(',')]),
          ),
        );
      }
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'show'],
    summary: 'show one service and its name policy',
    synopsis: 'NAME [options]',
    positionals: [{ name: 'NAME', required: true }],
    groups: connection,
    async run(context) {
      const name = context.positionals[0] ?? '';
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      const service = await client.getService(name);
      if (context.json) writeJson(context.io, service);
      else writeResult(context.io, serviceFields(service));
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'create'],
    summary: 'register a service and the names it may use (admin)',
    synopsis: '--name NAME --owner OWNER [--dns NAME]… [--ip ADDR]… [--uri URI]… [--profile P]… [options]',
    description: `
DNS names are exact or "*." patterns (* is exactly one label); IP addresses exact or CIDR; URIs
exact or prefixes ending "/*" (SPIFFE IDs). With --webhook-url the answer shows the webhook's
HMAC secret once.`,
    groups: [
      {
        title: 'Options',
        options: {
          name: { type: 'string', value: 'NAME', description: 'service name: lower-case letters, digits and dashes' },
          owner: { type: 'string', value: 'OWNER', description: 'owning team' },
          contact: { type: 'string', value: 'CONTACT', description: 'who to call' },
          'webhook-url': { type: 'string', value: 'URL', description: 'where lifecycle notifications are POSTed' },
          ...namePolicyOptions('create'),
        },
      },
      ...connection,
    ],
    examples: ['trustroot services create --name billing --owner payments --dns billing.svc --dns "*.billing.svc" --uri "spiffe://corp/ns/prod/*"'],
    async run(context) {
      const { options } = context;
      const name = options.requiredString('name');
      const owner = options.requiredString('owner');
      const lists = namePolicyFromOptions(options);
      const contact = options.string('contact');
      const webhookUrl = options.string('webhook-url');
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const service = await client.createService({
        name,
        owner,
        ...(contact !== undefined ? { contact } : {}),
        ...(webhookUrl !== undefined ? { webhookUrl } : {}),
        ...Object.fromEntries(Object.entries(lists).filter(([, values]) => values !== undefined && values.length > 0)),
      });
      if (context.json) writeJson(context.io, service);
      else writeResult(context.io, serviceFields(service));
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'update'],
    summary: "change a service's owner, contact, webhook, name policy or profiles (admin)",
    synopsis: 'NAME [--owner OWNER] [--dns NAME]… [--ip ADDR]… [--uri URI]… [--profile P]… [--enable] [options]',
    description: `
Only what is given changes. Each of --dns, --ip, --uri and --profile replaces that whole list
(repeat the option for several entries; an empty value, --dns '', empties the list); the other
lists stay. Certificates already issued are not touched: a narrower policy applies from the
next issuance or renewal. A new --webhook-url gets a new HMAC secret, shown once in the answer.
--enable re-enables a service disabled by 'trustroot services disable' or 'trustroot revoke --service'.`,
    positionals: [{ name: 'NAME', required: true }],
    groups: [
      {
        title: 'Options',
        options: {
          owner: { type: 'string', value: 'OWNER', description: 'owning team' },
          contact: { type: 'string', value: 'CONTACT', description: 'who to call' },
          'webhook-url': { type: 'string', value: 'URL', description: 'where lifecycle notifications are POSTed (a new secret is generated)' },
          ...namePolicyOptions('update'),
          enable: { type: 'boolean', description: 're-enable a disabled service' },
        },
      },
      ...connection,
    ],
    examples: [
      'trustroot services update billing --dns billing.svc --dns "*.billing.svc"',
      'trustroot services update billing --owner payments-platform --contact "#payments-oncall"',
      "trustroot services update billing --uri '' --enable",
    ],
    async run(context) {
      const { options, io } = context;
      const name = serviceNameArgument(context.positionals);
      const update: ServiceUpdateDto = { ...namePolicyFromOptions(options) };
      const owner = options.string('owner');
      const contact = options.string('contact');
      const webhookUrl = options.string('webhook-url');
      if (owner !== undefined) update.owner = owner;
      if (contact !== undefined) update.contact = contact;
      if (webhookUrl !== undefined) update.webhookUrl = webhookUrl;
      if (options.flag('enable')) update.enabled = true;
      if (Object.keys(update).length === 0) {
        throw new UsageError('nothing to change: give at least one of --owner, --contact, --webhook-url, --dns, --ip, --uri, --profile and --enable');
      }
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const service = await client.updateService(name, update);
      if (context.json) writeJson(io, service);
      else writeResult(io, serviceFields(service));
      if (service.webhookSecret !== undefined) writeMessage(io, `new webhook secret for ${service.name}: give it to the webhook's receiver now, it is not shown again`);
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'disable'],
    summary: 'disable a service: no issuance, renewal or bootstrap token until re-enabled (admin)',
    synopsis: 'NAME [options]',
    description: `
Its certificates stay valid (revoke them with 'trustroot revoke --service NAME'). Re-enable it
with 'trustroot services update NAME --enable'.`,
    positionals: [{ name: 'NAME', required: true }],
    groups: connection,
    examples: ['trustroot services disable billing'],
    async run(context) {
      const { io } = context;
      const name = serviceNameArgument(context.positionals);
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const service = await client.disableService(name);
      if (context.json) writeJson(io, service);
      else {
        writeResult(io, serviceFields(service));
        writeMessage(io, `service ${service.name} is disabled; re-enable it with 'trustroot services update ${service.name} --enable'`);
      }
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'deps'],
    summary: 'show the services NAME relies on and those relying on it (admin, security, auditor)',
    synopsis: 'NAME [options]',
    description: "Services relying on another are notified when its certificates near expiry or are revoked.",
    positionals: [{ name: 'NAME', required: true }],
    groups: connection,
    examples: ['trustroot services deps billing', 'trustroot services deps billing --json'],
    async run(context) {
      const name = serviceNameArgument(context.positionals);
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      const dependencies = await client.getDependencies(name);
      if (context.json) writeJson(context.io, dependencies);
      else writeResult(context.io, dependencyFields(name, dependencies));
      return ExitCode.ok;
    },
  },
  {
    path: ['services', 'deps', 'set'],
    summary: 'replace the list of services NAME relies on (admin)',
    synopsis: 'NAME (--relies-on SERVICE… | --none) [options]',
    description: `
Replaces the whole list: name every service NAME relies on, one --relies-on each, or give
--none to clear it. Every service named must exist. Services relying on another are notified
when its certificates near expiry or are revoked.`,
    positionals: [{ name: 'NAME', required: true }],
    groups: [
      {
        title: 'Options',
        options: {
          'relies-on': { type: 'string', value: 'SERVICE', multiple: true, description: 'a service NAME relies on; repeatable' },
          none: { type: 'boolean', description: 'NAME relies on no service (clears the list)' },
        },
      },
      ...connection,
    ],
    examples: ['trustroot services deps set checkout --relies-on billing --relies-on ledger', 'trustroot services deps set checkout --none'],
    async run(context) {
      const { options } = context;
      const name = serviceNameArgument(context.positionals);
      const reliesOn = options.list('relies-on');
      if (options.flag('none') && reliesOn.length > 0) throw new UsageError('--none and --relies-on exclude each other');
      if (!options.flag('none') && reliesOn.length === 0) throw new UsageError('give the services NAME relies on (--relies-on SERVICE, repeatable), or --none to clear the list');
      for (const service of reliesOn) {
        if (!SERVICE_NAME.test(service)) {
          throw new UsageError(`--relies-on "${service}" is not a service name${service.includes(',') ? ' (give --relies-on once per service)' : ''}`);
        }
      }
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const dependencies = await client.setDependencies(name, [...new Set(reliesOn)]);
      if (context.json) writeJson(context.io, dependencies);
      else writeResult(context.io, dependencyFields(name, dependencies));
      return ExitCode.ok;
    },
  },
];
