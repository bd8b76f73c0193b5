import type { ApiTokenDto } from '../../contracts/certificates.ts';
import type { ApiTokenRoleDto } from '../../contracts/requests.ts';
import type { CliCommand } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, formatTable, writeJson, writeMessage, writeResult } from '../write-output.ts';

const ROLES: readonly ApiTokenRoleDto[] = ['admin', 'security', 'ci', 'auditor'];
/** The API's limit on a token's label (`openapi.yaml`). */
const MAX_NAME_LENGTH = 100;
/** API token ids are UUIDs; anything else is refused before it is sent. */
const TOKEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const connection = [TOKEN_OPTIONS, connectionOptions('10s')];

/** `revoked`, `expired` (by this host's clock) or `active`. */
function tokenState(token: ApiTokenDto, now: number): string {
  if (token.revokedAt !== undefined) return 'revoked';
  if (token.expiresAt !== undefined && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}

function tokenFields(token: ApiTokenDto): string {
  return formatFields([
    ['id', token.id],
    ['name', token.name],
    ['role', token.role],
    ['created', token.createdAt],
    ['expires', token.expiresAt ?? 'never'],
    ['revoked at', token.revokedAt],
  ]);
}

/**
 * `trustroot token api create|list|revoke`: the long-lived, role-bearing tokens of people and
 * automation (admin only). Bootstrap tokens are `trustroot token create`.
 */
export const apiTokenCommands: CliCommand[] = [
  {
    path: ['token', 'api', 'create'],
    summary: 'create an API token with a role (admin; the secret is printed once on stdout)',
    synopsis: '--role ROLE --name LABEL [--ttl DURATION] [options]',
    description: `
Prints only the secret on stdout, so that TOKEN=$(trustroot token api create …) works; with --json,
the whole record including the secret. The CA keeps only a hash: the secret cannot be shown
again, store it now (a secret manager, not a shell history). Roles: admin (everything), security
(revocation, bootstrap tokens, reads), ci (test certificates), auditor (reads). Without --ttl the
token never expires; revoke it with 'trustroot token api revoke ID'.`,
    groups: [
      {
        title: 'Options',
        options: {
          role: { type: 'string', value: 'ROLE', description: `the token's role: ${ROLES.join(', ')}` },
          name: { type: 'string', value: 'LABEL', description: `what the token is for, shown by 'token api list' (at most ${MAX_NAME_LENGTH} characters)` },
          ttl: { type: 'string', value: 'DURATION', description: 'lifetime of the token, e.g. 90d (default: no expiry)' },
        },
      },
      ...connection,
    ],
    examples: ['CI_TOKEN=$(trustroot token api create --role ci --name github-actions --ttl 90d)', 'trustroot token api create --role auditor --name quarterly-audit --ttl 7d --json'],
    async run(context) {
      const { options, io } = context;
      const role = options.choice('role', ROLES);
      if (role === undefined) throw new UsageError(`--role is required (one of ${ROLES.join(', ')})`);
      const name = options.requiredString('name');
      if (name.length > MAX_NAME_LENGTH) throw new UsageError(`--name must be at most ${MAX_NAME_LENGTH} characters`);
      const ttl = options.string('ttl');
      if (ttl !== undefined && (options.duration('ttl') ?? 0) <= 0) throw new UsageError('--ttl must be longer than zero');
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const created = await client.createApiToken({ role, name, ...(ttl !== undefined ? { ttl: ttl.trim() } : {}) });
      if (context.json) writeJson(io, created);
      else writeResult(io, created.token);
      writeMessage(
        io,
        `${created.role} API token "${created.name}" (id ${created.id}), ${created.expiresAt !== undefined ? `valid until ${created.expiresAt}` : 'no expiry'}: store the secret now, it is not shown again`,
      );
      return ExitCode.ok;
    },
  },
  {
    path: ['token', 'api', 'list'],
    summary: 'list API tokens, without their secrets (admin)',
    synopsis: '[options]',
    groups: connection,
    async run(context) {
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const tokens = await client.listApiTokens();
      if (context.json) writeJson(context.io, tokens);
      else {
        const now = Date.now();
        writeResult(
          context.io,
          formatTable(
            ['ID', 'NAME', 'ROLE', 'STATE', 'CREATED', 'EXPIRES', 'REVOKED AT'],
            tokens.map((t) => [t.id, t.name, t.role, tokenState(t, now), t.createdAt, t.expiresAt ?? 'never', t.revokedAt ?? '-']),
          ),
        );
      }
      return ExitCode.ok;
    },
  },
  {
    path: ['token', 'api', 'revoke'],
    summary: 'revoke an API token at once (admin; revoking twice is harmless)',
    synopsis: 'ID [options]',
    description: "ID as 'trustroot token api list' shows it. The token is refused from the next request on.",
    positionals: [{ name: 'ID', required: true }],
    groups: connection,
    examples: ['trustroot token api revoke 3f0c9a52-6d1e-4c7b-9a0e-2b7f1d4e8c61'],
    async run(context) {
      const id = context.positionals[0] ?? '';
      if (!TOKEN_ID.test(id)) throw new UsageError(`ID "${id}" is not an API token id (a UUID, as 'trustroot token api list' shows)`);
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin token') });
      const revoked = await client.revokeApiToken(id);
      if (context.json) writeJson(context.io, revoked);
      else writeResult(context.io, tokenFields(revoked));
      return ExitCode.ok;
    },
  },
];
