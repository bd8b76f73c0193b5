/**
 * The closed set of reasons a request can be refused. `http/` alone maps each kind to a status
 * code and an RFC 9457 problem; everything below it speaks only in these kinds.
 */
export type DomainErrorKind =
  | 'bad_request'
  | 'invalid_csr'
  | 'policy_violation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'lint_failed'
  | 'unavailable';

/** A refusal with a `detail` that is safe to show to the caller (no secrets, no internals). */
export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly kind: DomainErrorKind,
    readonly detail: string,
    /** Extra, caller-safe members for the problem body (e.g. the offending name). */
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${kind}: ${detail}`);
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
