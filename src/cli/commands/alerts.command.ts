import type { AlertStateDto } from '../../contracts/lifecycle.ts';
import type { CliCommand } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatFields, formatTable, writeJson, writeResult } from '../write-output.ts';

const STATES: readonly AlertStateDto[] = ['open', 'acknowledged', 'resolved'];
const connection = [TOKEN_OPTIONS, connectionOptions('10s')];

/** `trustroot alerts [ack ID]`: expiry flags raised by the CA's expiry scan. */
export const alertsCommands: CliCommand[] = [
  {
    path: ['alerts'],
    summary: 'list expiry alerts, newest first (admin, security, auditor)',
    synopsis: '[--state open] [--service NAME] [options]',
    description: 'Certificates flagged before expiry (e.g. 30d, 75% of the lifetime elapsed without renewal) or expired.',
    groups: [
      {
        title: 'Options',
        options: {
          state: { type: 'string', value: 'STATE', description: `only ${STATES.join(', ')}` },
          service: { type: 'string', value: 'NAME', description: 'only this service' },
          threshold: { type: 'string', value: 'THRESHOLD', description: 'only this threshold (e.g. 7d, 75%, expired)' },
          limit: { type: 'string', value: 'N', default: '100', description: 'at most this many (1-500)' },
        },
      },
      ...connection,
    ],
    async run(context) {
      const { options, io } = context;
      const limit = Number(options.requiredString('limit'));
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
      const state = options.choice('state', STATES);
      const service = options.string('service');
      const threshold = options.string('threshold');
      const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
      const alerts = await client.listAlerts({
        limit,
        ...(state !== undefined ? { state } : {}),
        ...(service !== undefined ? { service } : {}),
        ...(threshold !== undefined ? { threshold } : {}),
      });
      if (context.json) writeJson(io, alerts);
      else {
        writeResult(
          io,
          formatTable(
            ['ID', 'STATE', 'THRESHOLD', 'SERVICE', 'SERIAL', 'NOT AFTER', 'FLAGGED AT'],
            alerts.map((a) => [a.id, a.state, a.threshold, a.service ?? '-', a.serial, a.notAfter, a.flaggedAt]),
          ),
        );
      }
      return ExitCode.ok;
    },
  },
  {
    path: ['alerts', 'ack'],
    summary: 'acknowledge an open alert (admin, security)',
    synopsis: 'ID [options]',
    positionals: [{ name: 'ID', required: true }],
    groups: connection,
    async run(context) {
      const client = await connectToCa(context, { token: await requireToken(context, 'an admin or security token') });
      const alert = await client.acknowledgeAlert(context.positionals[0] ?? '');
      if (context.json) writeJson(context.io, alert);
      else writeResult(context.io, formatFields([['id', alert.id], ['state', alert.state], ['serial', alert.serial], ['acknowledged by', alert.acknowledgedBy]]));
      return ExitCode.ok;
    },
  },
];
