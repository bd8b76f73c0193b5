import type { CliCommand, OptionGroup } from './cli-command.ts';
import { EXIT_CODES_HELP } from './exit-codes.ts';
import { GLOBAL_OPTIONS } from './parse-command-line.ts';

function optionLines(group: OptionGroup): string[] {
  const rows = Object.entries(group.options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}${spec.multiple ? ' …' : ''}`;
    const notes = [spec.env ? `env ${spec.env}` : '', spec.default !== undefined ? `default ${spec.default}` : ''].filter((n) => n !== '');
    return { flag, text: `${spec.description}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}` };
  });
  const width = Math.min(34, Math.max(...rows.map((row) => row.flag.length)) + 2);
  return [`${group.title}:`, ...rows.map((row) => `  ${row.flag.padEnd(width)}${row.flag.length >= width ? `\n  ${' '.repeat(width)}` : ''}${row.text}`)];
}

/** `trustroot <command> --help`: synopsis, description, every option with its env fallback, examples, exit codes. */
export function renderCommandHelp(command: CliCommand): string {
  const lines = [`Usage: trustroot ${command.path.join(' ')} ${command.synopsis}`.trimEnd(), '', command.summary];
  if (command.description) lines.push('', command.description.trim());
  for (const group of [...command.groups, GLOBAL_OPTIONS]) {
    if (Object.keys(group.options).length > 0) lines.push('', ...optionLines(group));
  }
  if (command.examples && command.examples.length > 0) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  lines.push('', EXIT_CODES_HELP);
  return `${lines.join('\n')}\n`;
}

/** `trustroot --help`, or the help of a command group such as `trustroot services`. */
export function renderOverview(commands: readonly CliCommand[], prefix: string[] = []): string {
  const shown = commands.filter((command) => prefix.every((word, index) => command.path[index] === word));
  const width = Math.max(...shown.map((command) => command.path.join(' ').length)) + 2;
  const lines = [
    `Usage: trustroot ${prefix.length > 0 ? `${prefix.join(' ')} ` : ''}<command> [options]`,
    '',
    ...(prefix.length === 0 ? ['Trustroot CLI: certificates for services at boot, renewal sidecars, CI test certificates and the security team.', ''] : []),
    'Commands:',
    ...shown.map((command) => `  ${command.path.join(' ').padEnd(width)}${command.summary}`),
    '',
    `Run 'trustroot <command> --help' for a command's options. Connection settings come from --ca-url,`,
    `--root-fingerprint and --token or from TRUSTROOT_CA_URL, TRUSTROOT_ROOT_FINGERPRINT and TRUSTROOT_TOKEN.`,
    '',
    EXIT_CODES_HELP,
  ];
  return `${lines.join('\n')}\n`;
}
