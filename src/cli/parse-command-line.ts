import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliCommand, OptionGroup, OptionSpec } from './cli-command.ts';
import { UsageError } from './cli-failure.ts';
import { CommandOptions } from './command-options.ts';

/** Options every command has. */
export const GLOBAL_OPTIONS: OptionGroup = {
  title: 'Output',
  options: {
    json: { type: 'boolean', description: 'machine-readable JSON on stdout (messages stay on stderr)' },
    help: { type: 'boolean', short: 'h', description: 'show this help' },
  },
};

export interface ParsedCommandLine {
  options: CommandOptions;
  positionals: string[];
  json: boolean;
  help: boolean;
}

/** Every option of a command, its own groups first, then the global ones. */
export function commandOptionSpecs(command: CliCommand): Record<string, OptionSpec> {
  return Object.assign({}, ...[...command.groups, GLOBAL_OPTIONS].map((group) => group.options)) as Record<string, OptionSpec>;
}

/**
 * Parses a command's arguments with `node:util` parseArgs in strict mode: an unknown option, a
 * missing value or a surplus positional is a {@link UsageError} (exit 2). Environment fallbacks
 * are applied by the returned {@link CommandOptions}.
 */
export function parseCommandLine(command: CliCommand, args: string[], env: Readonly<Record<string, string | undefined>>): ParsedCommandLine {
  const specs = commandOptionSpecs(command);
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}), ...(spec.short ? { short: spec.short } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: config, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs explains itself ("Unknown option '--nmae'"); its hint about '--' is noise here.
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error);
    throw new UsageError(message);
  }
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  const help = values.help === true;
  const expected = command.positionals ?? [];
  if (!help) {
    if (parsed.positionals.length > expected.length) {
      throw new UsageError(`unexpected argument "${parsed.positionals[expected.length] ?? ''}"`);
    }
    const missing = expected.slice(parsed.positionals.length).find((p) => p.required);
    if (missing) throw new UsageError(`${missing.name} is required`);
  }
  return { options: new CommandOptions(values, specs, env), positionals: parsed.positionals, json: values.json === true, help };
}
