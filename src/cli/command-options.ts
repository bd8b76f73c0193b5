import { parseDuration } from '../client/parse-duration.ts';
import type { OptionSpec } from './cli-command.ts';
import { UsageError } from './cli-failure.ts';

type RawValue = string | boolean | (string | boolean)[] | undefined;

/**
 * A command's parsed options with environment fallbacks and defaults applied, read through
 * typed accessors that turn a missing or malformed value into a {@link UsageError} naming the
 * option (and its environment variable).
 */
export class CommandOptions {
  constructor(
    private readonly values: Readonly<Record<string, RawValue>>,
    private readonly specs: Readonly<Record<string, OptionSpec>>,
    private readonly env: Readonly<Record<string, string | undefined>>,
  ) {}

  /** The option's value, else its environment variable (when set and non-empty), else its default. */
  string(name: string): string | undefined {
    const value = this.values[name];
    if (typeof value === 'string') return value;
    const spec = this.specs[name];
    const fromEnv = spec?.env !== undefined ? this.env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return spec?.default;
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') throw new UsageError(`${this.label(name)} is required`);
    return value;
  }

  /** Every value of a repeatable option (empty when absent). */
  list(name: string): string[] {
    const value = this.values[name];
    if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
    return typeof value === 'string' ? [value] : [];
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  /** A duration option in milliseconds (`90s`, `15m`, `24h`, `7d`). */
  duration(name: string): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      return parseDuration(value);
    } catch (error) {
      throw new UsageError(`${this.label(name)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** A value that must be one of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${this.label(name)} must be one of ${choices.join(', ')} (not "${value}")`);
    return value as T;
  }

  /** Whether the option was given on the command line (not from env or default). */
  given(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** `--name` (or env VAR), for messages. */
  label(name: string): string {
    const env = this.specs[name]?.env;
    return env ? `--${name} (or ${env})` : `--${name}`;
  }
}
