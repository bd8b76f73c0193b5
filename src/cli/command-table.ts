import type { CliCommand } from './cli-command.ts';
import { alertsCommands } from './commands/alerts.command.ts';
import { apiTokenCommands } from './commands/api-token.command.ts';
import { bootstrapCommand } from './commands/bootstrap.command.ts';
import { certsCommands } from './commands/certs.command.ts';
import { crlFetchCommand } from './commands/crl-fetch.command.ts';
import { notificationsCommand } from './commands/notifications.command.ts';
import { renewCommand } from './commands/renew.command.ts';
import { revokeCommand } from './commands/revoke.command.ts';
import { schedulerCommand } from './commands/scheduler.command.ts';
import { servicesCommands } from './commands/services.command.ts';
import { testCertCommand } from './commands/test-cert.command.ts';
import { tokenCreateCommand } from './commands/token-create.command.ts';

/** Every command of the `trustroot` CLI, in the order the overview lists them. */
export const COMMANDS: readonly CliCommand[] = [
  bootstrapCommand,
  renewCommand,
  testCertCommand,
  revokeCommand,
  tokenCreateCommand,
  ...apiTokenCommands,
  ...servicesCommands,
  ...certsCommands,
  ...alertsCommands,
  notificationsCommand,
  schedulerCommand,
  crlFetchCommand,
];
