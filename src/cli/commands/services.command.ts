import type { ServiceDto } from '../../contracts/certificates.ts';
import type { CliCommand } from '../cli-command.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, formatTable, writeJson, writeResult } from '../write-output.ts';

const connection = [TOKEN_OPTIONS, connectionOptions('10s')];

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

/** `trustroot services list|show|create`: the identities that own certificates. */
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
          dns: { type: 'string', value: 'NAME', multiple: true, description: 'allowed DNS name or *. pattern; repeatable' },
          ip: { type: 'string', value: 'ADDR', multiple: true, description: 'allowed IP address or CIDR; repeatable' },
          uri: { type: 'string', value: 'URI', multiple: true, description: 'allowed URI or prefix/*; repeatable' },
          profile: { type: 'string', value: 'PROFILE', multiple: true, description: 'allowed profile; repeatable (default peer)' },
        },
      },
      ...connection,
    ],
    examples: ['trustroot services create --name billing --owner payments --dns billing.svc --dns "*.billing.svc" --uri "spiffe://corp/ns/prod/*"'],
    async run(context) {
      const { options } = context;
      const name = options.requiredString('name');
      const owner = options.requiredString('owner');
      const lists = { dnsNames: options.list('dns'), ipAddresses: options.list('ip'), uris: options.list('uri'), profiles: options.list('profile') };
      const contact = options.string('contact');
      const webhookUrl = options.string('webhook-url');
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const service = await client.createService({
        name,
        owner,
        ...(contact !== undefined ? { contact } : {}),
        ...(webhookUrl !== undefined ? { webhookUrl } : {}),
        ...Object.fromEntries(Object.entries(lists).filter(([, values]) => values.length > 0)),
      });
      if (context.json) writeJson(context.io, service);
      else writeResult(context.io, serviceFields(service));
      return ExitCode.ok;
    },
  },
];
