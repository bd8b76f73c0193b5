import type { Response } from 'express';
import type { DomainErrorKind } from '../domain/errors.ts';
import type { ProblemDto } from '../contracts/ca.ts';

/** Problem kinds the HTTP layer adds to the domain's (framework-level refusals and faults). */
export type ProblemKind =
  | DomainErrorKind
  | 'not_acceptable'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'internal';

const PROBLEM_STATUS: Record<ProblemKind, { status: number; title: string }> = {
  bad_request: { status: 400, title: 'Bad request' },
  invalid_csr: { status: 400, title: 'Invalid certificate signing request' },
  policy_violation: { status: 403, title: 'Refused by policy' },
  unauthorized: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  not_acceptable: { status: 406, title: 'Not acceptable' },
  conflict: { status: 409, title: 'Conflict' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  too_many_requests: { status: 429, title: 'Too many requests' },
  lint_failed: { status: 500, title: 'Certificate failed pre-issuance lint' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Service unavailable' },
};

/** The stable `type` URI of a problem kind. */
export function problemType(kind: ProblemKind): string {
  return `urn:trustroot:problem:${kind}`;
}

export function problemStatus(kind: ProblemKind): number {
  return PROBLEM_STATUS[kind].status;
}

/** Sends an RFC 9457 problem. `detail` must be safe to show to the caller. */
export function sendProblem(
  res: Response,
  kind: ProblemKind,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
): void {
  const { status, title } = PROBLEM_STATUS[kind];
  const body: ProblemDto = {
    ...extensions,
    type: problemType(kind),
    title,
    status,
    detail,
    instance: res.req.path,
    requestId: String(res.locals.requestId ?? ''),
  };
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}
