import type { CliCommand } from '../cli-command.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { namesFromOptions } from '../san-options.ts';
import { writeJson, writeMessage, writeResult } from '../write-output.ts';

/** `trustroot token create`: mint a single-use bootstrap token for a service. */
export const tokenCreateCommand: CliCommand = {
  path: ['token', 'create'],
  summary: "mint a service's single-use bootstrap token (printed on stdout)",
  synopsis: '--service NAME [--ttl 15m] [--san NAME]… [options]',
  description: `
Prints only the token on stdout, so that BOOT=$(trustroot token create --service billing) works;
hand it to the service's first boot (TRUSTROOT_TOKEN). It authenticates one issuance for that
service within its lifetime, optionally for only the --san names. Needs an admin or security
token (TRUSTROOT_TOKEN).`,
  groups: [
    {
      title: 'Options',
      options: {
        service: { type: 'string', value: 'NAME', description: 'the service the token is for' },
        ttl: { type: 'string', value: 'DURATION', default: '15m', description: 'lifetime of the token (at most 24h)' },
        san: { type: 'string', value: 'NAME', multiple: true, description: 'narrow the token to these names; repeatable' },
      },
    },
    TOKEN_OPTIONS,
    connectionOptions('10s'),
  ],
  examples: ['BOOT=$(trustroot token create --service billing --ttl 30m)'],
  async run(context) {
    const { options, io } = context;
    const service = options.requiredString('service');
    const ttl = options.requiredString('ttl');
    options.duration('ttl');
    const sans = namesFromOptions(undefined, options.list('san'));
    const client = await connectToCa(context, { token: await requireToken(context, 'an admin or security token') });
    const minted = await client.mintBootstrapToken(service, { ttl, ...(sans.length > 0 ? { sans } : {}) });
    if (context.json) {
      writeJson(io, minted);
    } else {
      writeResult(io, minted.token);
      writeMessage(io, `single-use bootstrap token for ${minted.service}${minted.sans.length > 0 ? ` (names: ${minted.sans.join(', ')})` : ''}, valid until ${minted.expiresAt}`);
    }
    return ExitCode.ok;
  },
};
