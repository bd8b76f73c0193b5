import type { CertificateDto } from '../../contracts/certificates.ts';
import type { CertificateQueryDto } from '../../contracts/requests.ts';
import type { CliCommand } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, formatTable, writeJson, writeMessage, writeResult } from '../write-output.ts';

const STATUSES = ['active', 'superseded', 'revoked', 'expired'] as const;
const connection = [TOKEN_OPTIONS, connectionOptions('10s')];

function names(certificate: CertificateDto): string {
  return [...certificate.dnsNames, ...certificate.ipAddresses, ...certificate.uris].join(',');
}

/** `trustroot certs list|show`: the inventory. */
export const certsCommands: CliCommand[] = [
  {
    path: ['certs', 'list'],
    summary: 'list certificates of the inventory (admin, security, auditor)',
    synopsis: '[--service NAME] [--status STATUS] [--expiring 7d] [options]',
    groups: [
      {
        title: 'Options',
        options: {
          service: { type: 'string', value: 'NAME', description: 'only this service' },
          status: { type: 'string', value: 'STATUS', description: `only ${STATUSES.join(', ')}` },
          profile: { type: 'string', value: 'PROFILE', description: 'only this profile' },
          expiring: { type: 'string', value: 'DURATION', description: 'only those expiring within this duration (e.g. 7d), soonest first' },
          name: { type: 'string', value: 'TEXT', description: 'only those with a name (CN or SAN) containing TEXT' },
          limit: { type: 'string', value: 'N', default: '100', description: 'page size (1-500)' },
          all: { type: 'boolean', description: 'follow every page' },
        },
      },
      ...connection,
    ],
    examples: ['trustroot certs list --service billing --status active', 'trustroot certs list --expiring 7d --json'],
    async run(context) {
      const { options, io } = context;
      const limit = Number(options.requiredString('limit'));
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
      const expiring = options.string('expiring');
      if (expiring !== undefined) options.duration('expiring');
      const status = options.choice('status', STATUSES);
      const service = options.string('service');
      const profile = options.string('profile');
      const nameContains = options.string('name');
      const query: CertificateQueryDto = {
        limit,
        ...(service !== undefined ? { service } : {}),
        ...(status !== undefined ? { status } : {}),
        ...(profile !== undefined ? { profile } : {}),
        ...(nameContains !== undefined ? { nameContains } : {}),
        ...(expiring !== undefined ? { expiringWithin: expiring.trim(), sort: 'notAfter' as const, order: 'asc' as const } : {}),
      };
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      let certificates: CertificateDto[];
      if (options.flag('all')) {
        certificates = [];
        for await (const certificate of client.allCertificates(query)) certificates.push(certificate);
      } else {
        const page = await client.listCertificates(query);
        certificates = page.certificates;
        if (page.nextCursor !== undefined) writeMessage(io, `more than ${certificates.length} certificates match: use --all or a larger --limit`);
      }
      if (context.json) writeJson(io, certificates);
      else {
        writeResult(
          io,
          formatTable(
            ['SERIAL', 'SERVICE', 'PROFILE', 'STATUS', 'NOT AFTER', 'NAMES'],
            certificates.map((c) => [c.serial, c.service ?? '-', c.profile, c.status, c.notAfter, names(c)]),
          ),
        );
      }
      return ExitCode.ok;
    },
  },
  {
    path: ['certs', 'show'],
    summary: "show one certificate's inventory record",
    synopsis: 'SERIAL [--pem] [options]',
    positionals: [{ name: 'SERIAL', required: true }],
    groups: [{ title: 'Options', options: { pem: { type: 'boolean', description: 'print the certificate as PEM instead' } } }, ...connection],
    async run(context) {
      const serial = context.positionals[0] ?? '';
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      if (context.options.flag('pem')) {
        writeResult(context.io, await client.getCertificatePem(serial));
        return ExitCode.ok;
      }
      const c = await client.getCertificate(serial);
      if (context.json) writeJson(context.io, c);
      else {
        writeResult(
          context.io,
          formatFields([
            ['serial', c.serial],
            ['status', c.status],
            ['service', c.service],
            ['profile', c.profile],
            ['issuer', c.issuer],
            ['subject', c.subject],
            ['names', names(c)],
            ['key', c.keyAlgorithm],
            ['spki sha256', c.spkiSha256],
            ['fingerprint sha256', c.fingerprintSha256],
            ['not before', c.notBefore],
            ['not after', c.notAfter],
            ['issued at', c.issuedAt],
            ['requested by', c.requestedBy],
            ['renewed from', c.renewedFrom],
            ['renewed by', c.renewedBy],
            ['superseded at', c.supersededAt],
            ['revoked at', c.revokedAt],
            ['revocation reason', c.revocationReason],
          ]),
        );
      }
      return ExitCode.ok;
    },
  },
];
