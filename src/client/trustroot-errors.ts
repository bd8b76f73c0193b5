import type { ProblemDto } from '../contracts/ca.ts';

/** Base class of every error the Trustroot SDK throws on purpose; `instanceof` tells them apart. */
export class TrustrootError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The CA answered with an RFC 9457 problem (any 4xx, or a 5xx other than 503): the request was
 * understood and refused or failed. Never retried. `refusedName` is the problem's `name`
 * extension (the name a policy refused); it cannot be called `name`, which every `Error` uses
 * for its class name.
 */
export class TrustrootApiError extends TrustrootError {
  readonly problem: ProblemDto;

  constructor(problem: ProblemDto) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }

  /** HTTP status of the response (also `problem.status`). */
  get status(): number {
    return this.problem.status;
  }

  /** Stable problem type, e.g. `urn:trustroot:problem:unauthorized`. */
  get type(): string {
    return this.problem.type;
  }

  /** The kind after `urn:trustroot:problem:` (e.g. `policy_violation`), or the whole type. */
  get kind(): string {
    return this.problem.type.replace(/^urn:trustroot:problem:/, '');
  }

  /** Caller-safe explanation. */
  get detail(): string {
    return this.problem.detail ?? this.problem.title;
  }

  /** The name refused by a name policy, when the problem names one. */
  get refusedName(): string | undefined {
    return typeof this.problem.name === 'string' ? this.problem.name : undefined;
  }

  get requestId(): string | undefined {
    return this.problem.requestId || undefined;
  }
}

/**
 * The CA could not be reached (network error) or answered 503, and the retry budget is spent —
 * or the failure happened after a non-idempotent request may have reached the CA, where a retry
 * could repeat it (`retryable` false).
 */
export class TrustrootUnavailableError extends TrustrootError {
  constructor(
    message: string,
    /** Attempts made, the first one included. */
    readonly attempts: number,
    /** Whether repeating the request is safe (nothing can have happened on the CA's side). */
    readonly retryable: boolean,
    /** Minimum wait the CA asked for (`Retry-After`), in milliseconds. */
    readonly retryAfterMs: number | undefined,
    /** The 503 problem, when the CA sent one. */
    readonly problem: ProblemDto | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** The same failure after `attempts` attempts (the retry loop counts, the request does not). */
  withAttempts(attempts: number): TrustrootUnavailableError {
    return new TrustrootUnavailableError(this.message, attempts, this.retryable, this.retryAfterMs, this.problem, { cause: this.cause });
  }
}

/**
 * The root certificate fetched over plain HTTP does not have the pinned fingerprint: someone
 * may be in the middle, or the pin is wrong. Raised before any credential is sent.
 */
export class RootFingerprintMismatchError extends TrustrootError {
  constructor(
    /** The pinned fingerprint (64 lower-case hex digits). */
    readonly expected: string,
    /** SHA-256 of the certificate actually received. */
    readonly actual: string,
    /** Where the root came from. */
    readonly source: string,
  ) {
    super(`the root certificate from ${source} has SHA-256 fingerprint ${actual}, not the pinned ${expected}; nothing was sent`);
  }
}

/**
 * The API listener's TLS certificate does not chain to the pinned root or does not name the
 * host: the CA is not the one that was pinned. Never retried; no credential was sent.
 */
export class TrustrootTlsVerificationError extends TrustrootError {
  constructor(
    readonly url: string,
    /** Node's verification code, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`the TLS certificate of ${url} is not trusted under the pinned root (${code}); no token was sent`, options);
  }
}
