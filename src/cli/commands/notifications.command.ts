import type { NotificationStatusDto } from '../../contracts/lifecycle.ts';
import type { CliCommand } from '../cli-command.ts';
import { UsageError } from '../cli-failure.ts';
import { connectToCa, connectionOptions, requireToken, TOKEN_OPTIONS } from '../connect-to-ca.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatTable, writeJson, writeResult } from '../write-output.ts';

const STATUSES: readonly NotificationStatusDto[] = ['pending', 'delivered', 'dead'];

/** `trustroot notifications`: the webhook outbox, to see what was delivered and what failed. */
export const notificationsCommand: CliCommand = {
  path: ['notifications'],
  summary: 'list webhook notifications and their delivery state, newest first (admin, security, auditor)',
  synopsis: '[--status dead] [--service NAME] [--limit N] [options]',
  description: `
One notification per event (certificate expiring, expired or revoked) and recipient: the owning
service and every service relying on it. pending ones are retried with backoff; dead ones gave
up (LAST ERROR says why, e.g. the service has no webhook URL). --json adds the payload as POSTed.`,
  groups: [
    {
      title: 'Options',
      options: {
        status: { type: 'string', value: 'STATUS', description: `only ${STATUSES.join(', ')}` },
        service: { type: 'string', value: 'NAME', description: 'only those for this recipient service' },
        limit: { type: 'string', value: 'N', default: '100', description: 'at most this many (1-500)' },
      },
    },
    TOKEN_OPTIONS,
    connectionOptions('10s'),
  ],
  examples: ['trustroot notifications --status dead', 'trustroot notifications --service billing --limit 20 --json'],
  async run(context) {
    const { options, io } = context;
    const limit = Number(options.requiredString('limit'));
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
    const status = options.choice('status', STATUSES);
    const service = options.string('service');
    const client = await connectToCa(context, { token: await requireToken(context, 'an API token') });
    const notifications = await client.listNotifications({ limit, ...(status !== undefined ? { status } : {}), ...(service !== undefined ? { service } : {}) });
    if (context.json) writeJson(io, notifications);
    else {
      writeResult(
        io,
        formatTable(
          ['ID', 'STATUS', 'EVENT', 'SERVICE', 'ATTEMPTS', 'CREATED', 'NEXT ATTEMPT', 'DELIVERED AT', 'LAST ERROR'],
          notifications.map((n) => [
            n.id,
            n.status,
            n.eventType,
            n.service,
            String(n.attempts),
            n.createdAt,
            n.status === 'pending' ? n.nextAttemptAt : '-',
            n.deliveredAt ?? '-',
            n.lastError ?? '-',
          ]),
        ),
      );
    }
    return ExitCode.ok;
  },
};
