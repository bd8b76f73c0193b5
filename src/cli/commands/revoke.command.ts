import { normalizeFingerprint } from '../../client/sha256-fingerprint.ts';
import { REVOCATION_REASONS, type RevocationReasonDto } from '../../contracts/revocation.ts';
import type { CliCommand } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, writeJson, writeMessage, writeResult } from '../write-output.ts';

/** `trustroot revoke`: one certificate, a whole service identity, or a public key. */
export const revokeCommand: CliCommand = {
  path: ['revoke'],
  summary: 'revoke a certificate (--serial), a service identity (--service) or a key (--key-fingerprint)',
  synopsis: '(--serial SERIAL | --service NAME | --key-fingerprint SHA256) --reason REASON [options]',
  description: `
Takes effect at once: the CRL is republished before the CA answers, and OCSP answers revoked.
--service revokes every unexpired certificate of the service, disables it and revokes its unused
bootstrap tokens (an admin must re-enable it). --key-fingerprint (the inventory's spkiSha256)
revokes every certificate of the key for keyCompromise and blocks the key for good.
Needs an admin or security token (TRUSTROOT_TOKEN).`,
  groups: [
    {
      title: 'Options',
      options: {
        serial: { type: 'string', value: 'SERIAL', description: 'serial number in hex (colons allowed)' },
        service: { type: 'string', value: 'NAME', description: 'a service: all its certificates, and the service disabled' },
        'key-fingerprint': { type: 'string', value: 'SHA256', description: 'SHA-256 of the public key (SPKI), hex' },
        reason: { type: 'string', value: 'REASON', description: `${REVOCATION_REASONS.join(', ')} (with --key-fingerprint: keyCompromise, the default)` },
        'invalidity-date': { type: 'string', value: 'ISO8601', description: 'when the key was known or suspected to be compromised' },
      },
    },
    TOKEN_OPTIONS,
    connectionOptions('10s'),
  ],
  examples: [
    'trustroot revoke --serial 4f1c…e2 --reason keyCompromise',
    'trustroot revoke --service liveness --reason keyCompromise --invalidity-date 2025-01-31T08:00:00Z',
    'trustroot revoke --key-fingerprint 9a3b…77',
  ],
  async run(context) {
    const { options, io } = context;
    const targets = (['serial', 'service', 'key-fingerprint'] as const).filter((name) => options.string(name) !== undefined);
    if (targets.length !== 1) throw new UsageError('give exactly one of --serial, --service and --key-fingerprint');
    const target = targets[0];
    const reason = options.choice<RevocationReasonDto>('reason', REVOCATION_REASONS);
    const invalidityDate = options.string('invalidity-date');
    if (invalidityDate !== undefined && Number.isNaN(Date.parse(invalidityDate))) throw new UsageError('--invalidity-date must be an ISO 8601 date-time');
    const when = invalidityDate !== undefined ? { invalidityDate: new Date(invalidityDate).toISOString() } : {};

    if (target === 'key-fingerprint') {
      if (reason !== undefined && reason !== 'keyCompromise') throw new UsageError('a key is always revoked for keyCompromise');
      let spki: string;
      try {
        spki = normalizeFingerprint(options.requiredString('key-fingerprint'));
      } catch {
        throw new UsageError('--key-fingerprint must be the 64-hex-digit SHA-256 of the public key (spkiSha256)');
      }
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin or security token') });
      const outcome = await client.revokeKey(spki, when);
      if (context.json) writeJson(io, outcome);
      else writeResult(io, formatFields([['key', outcome.spkiSha256], ['blocked', outcome.blocked], ['revoked', outcome.revoked.join(' ') || '(none)'], ['already revoked', outcome.alreadyRevoked.join(' ')]]));
      return ExitCode.ok;
    }
    if (reason === undefined) throw new UsageError(`--reason is required: ${REVOCATION_REASONS.join(', ')}`);
    const client = await connectToCa(context, { token: await requireToken(context, 'an admin or security token') });
    if (target === 'service') {
      const name = options.requiredString('service');
      const outcome = await client.revokeService(name, { reason, ...when });
      if (context.json) writeJson(io, outcome);
      else {
        writeResult(
          io,
          formatFields([
            ['service', outcome.service],
            ['disabled', outcome.disabled],
            ['revoked', outcome.revoked.join(' ') || '(none)'],
            ['already revoked', outcome.alreadyRevoked.join(' ')],
            ['bootstrap tokens revoked', outcome.bootstrapTokensRevoked],
          ]),
        );
        writeMessage(io, `service ${outcome.service} is disabled: no issuance or renewal until an admin re-enables it`);
      }
      return ExitCode.ok;
    }
    const record = await client.revokeCertificate(options.requiredString('serial'), { reason, ...when });
    if (context.json) writeJson(io, record);
    else writeResult(io, formatFields([['serial', record.serial], ['service', record.service], ['status', record.status], ['reason', record.revocationReason], ['revoked at', record.revokedAt]]));
    return ExitCode.ok;
  },
};
