import {
  RootFingerprintMismatchError,
  TrustrootApiError,
  TrustrootError,
  TrustrootTlsVerificationError,
  TrustrootUnavailableError,
} from '../client/trustroot-errors.ts';
import { CliFailure, UsageError } from './cli-failure.ts';
import type { CliIo } from './cli-io.ts';
import { ExitCode } from './exit-codes.ts';

/**
 * Explains a failed command in one line on stderr (the problem's detail for a CA refusal) and
 * returns its exit code. Stack traces are for bugs only: an unexpected error prints its stack.
 */
export function reportError(io: CliIo, command: string, error: unknown): ExitCode {
  const prefix = `trustroot ${command}`.trimEnd();
  const line = (text: string) => io.stderr.write(`${prefix}: ${text}\n`);
  if (error instanceof UsageError) {
    line(error.message);
    io.stderr.write(`Run 'trustroot ${command ? `${command} ` : ''}--help' for usage.\n`);
    return ExitCode.usage;
  }
  if (error instanceof CliFailure) {
    line(error.message);
    return error.exitCode;
  }
  if (error instanceof RootFingerprintMismatchError || error instanceof TrustrootTlsVerificationError) {
    line(`refused: ${error.message}`);
    return ExitCode.refused;
  }
  if (error instanceof TrustrootApiError) {
    const where = [`${error.status} ${error.kind}`, error.refusedName ? `name ${error.refusedName}` : '', error.requestId ? `request ${error.requestId}` : '']
      .filter((part) => part !== '')
      .join(', ');
    line(`${error.detail} (${where})`);
    return error.status >= 400 && error.status < 500 ? ExitCode.refused : ExitCode.failure;
  }
  if (error instanceof TrustrootUnavailableError) {
    line(`CA unavailable after ${error.attempts} attempt${error.attempts === 1 ? '' : 's'}: ${error.message}`);
    return ExitCode.unavailable;
  }
  if (error instanceof TrustrootError) {
    line(error.message);
    return ExitCode.failure;
  }
  line(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return ExitCode.failure;
}
