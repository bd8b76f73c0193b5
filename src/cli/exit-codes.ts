/**
 * The CLI's exit codes, stable for scripts:
 * 0 success; 1 any other failure (local I/O, a CA fault); 2 bad usage (nothing was sent);
 * 3 the CA stayed unavailable for the whole wait budget; 4 refused — by the CA (credentials,
 * rights, policy: any 4xx problem) or by the CLI because the CA is not the pinned one.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
  refused: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** One line for every help text. */
export const EXIT_CODES_HELP = 'Exit codes: 0 ok, 1 failure, 2 usage, 3 CA unavailable, 4 refused (credentials, rights, policy, or a CA that is not the pinned one).';
