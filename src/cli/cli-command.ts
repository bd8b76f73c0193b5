import type { CliIo } from './cli-io.ts';
import type { CommandOptions } from './command-options.ts';
import type { ExitCode } from './exit-codes.ts';

/** One command-line option, for `node:util` parseArgs and for the help text. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given several times (`--san a --san b`). */
  multiple?: boolean;
  short?: string;
  /** Placeholder of the value in the help text, e.g. `DIR`. */
  value?: string;
  description: string;
  /** Environment variable read when the option is absent (secrets belong there, not in argv). */
  env?: string;
  /** Default shown in the help text and applied when neither option nor env is given. */
  default?: string;
}

/** What every option group of a command is made of: its own options, then shared groups. */
export interface OptionGroup {
  title: string;
  options: Readonly<Record<string, OptionSpec>>;
}

export interface CommandContext {
  io: CliIo;
  options: CommandOptions;
  positionals: string[];
  /** `--json`: machine output on stdout. */
  json: boolean;
}

/** A leaf command such as `bootstrap` or `services list`. */
export interface CliCommand {
  /** Words that select it: `['services', 'list']`. */
  path: string[];
  /** One line for the command list. */
  summary: string;
  /** Synopsis after `trustroot <path>`, e.g. `--name NAME --out DIR [options]`. */
  synopsis: string;
  /** Paragraphs shown by `--help` under the synopsis. */
  description?: string;
  /** Positional arguments, in order (for the help text and the count check). */
  positionals?: { name: string; required: boolean }[];
  /** The command's option groups (its own first); `--json` and `--help` are added to all. */
  groups: OptionGroup[];
  examples?: string[];
  run(context: CommandContext): Promise<ExitCode>;
}
