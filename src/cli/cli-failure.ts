import { ExitCode } from './exit-codes.ts';

/** A failure the CLI explains in one line and maps to an exit code (default 1). */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line itself is wrong (exit 2); raised before anything is sent or written. */
export class UsageError extends CliFailure {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}
