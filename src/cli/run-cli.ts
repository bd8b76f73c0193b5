import { readFile } from 'node:fs/promises';
import type { CliCommand } from './cli-command.ts';
import { UsageError } from './cli-failure.ts';
import type { CliIo } from './cli-io.ts';
import { COMMANDS } from './command-table.ts';
import { ExitCode } from './exit-codes.ts';
import { parseCommandLine } from './parse-command-line.ts';
import { renderCommandHelp, renderOverview } from './render-help.ts';
import { reportError } from './report-error.ts';

/** The command whose path is the longest prefix of `words`. */
function findCommand(commands: readonly CliCommand[], words: string[]): CliCommand | undefined {
  let best: CliCommand | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, index) => words[index] === word);
    if (matches && command.path.length > (best?.path.length ?? 0)) best = command;
  }
  return best;
}

/** The longest leading words of `words` that name a group of commands (`token`, `token api`), or []. */
function groupPrefix(commands: readonly CliCommand[], words: string[]): string[] {
  let longest: string[] = [];
  for (let length = 1; length <= words.length; length++) {
    const prefix = words.slice(0, length);
    const isGroup = commands.some((command) => command.path.length > length && prefix.every((word, index) => command.path[index] === word));
    if (!isGroup) break;
    longest = prefix;
  }
  return longest;
}

async function version(): Promise<string> {
  try {
    const manifest = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs one `trustroot` invocation and returns its exit code (see `exit-codes.ts`): finds the
 * command, parses its options strictly, prints help on `--help`, and turns every failure into
 * one line on stderr and an exit code. Never calls `process.exit`, so that it can run in-process.
 */
export async function runCli(argv: string[], io: CliIo, commands: readonly CliCommand[] = COMMANDS): Promise<ExitCode> {
  const first = argv[0];
  if (first === undefined) {
    io.stderr.write(renderOverview(commands));
    return ExitCode.usage;
  }
  if (first === '--help' || first === '-h' || (first === 'help' && argv.length === 1)) {
    io.stdout.write(renderOverview(commands));
    return ExitCode.ok;
  }
  if (first === '--version') {
    io.stdout.write(`trustroot ${await version()}\n`);
    return ExitCode.ok;
  }
  const helpFor = first === 'help' ? argv.slice(1) : undefined;
  const words = helpFor ?? argv;
  const command = findCommand(commands, words);
  if (!command) {
    const group = groupPrefix(commands, words);
    if (group.length > 0) {
      const wantsHelp = helpFor !== undefined || words.includes('--help') || words.includes('-h');
      (wantsHelp ? io.stdout : io.stderr).write(renderOverview(commands, group));
      if (wantsHelp) return ExitCode.ok;
      const next = words[group.length];
      return reportError(io, group.join(' '), new UsageError(next === undefined || next.startsWith('-') ? 'a subcommand is needed' : `unknown subcommand "${next}"`));
    }
    return reportError(io, '', new UsageError(`unknown command "${words[0] ?? ''}"; run 'trustroot --help' for the list`));
  }
  if (helpFor !== undefined) {
    io.stdout.write(renderCommandHelp(command));
    return ExitCode.ok;
  }
  const name = command.path.join(' ');
  try {
    const parsed = parseCommandLine(command, argv.slice(command.path.length), io.env);
    if (parsed.help) {
      io.stdout.write(renderCommandHelp(command));
      return ExitCode.ok;
    }
    return await command.run({ io, options: parsed.options, positionals: parsed.positionals, json: parsed.json });
  } catch (error) {
    return reportError(io, name, error);
  }
}
