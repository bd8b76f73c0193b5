import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { isDomainError } from '../domain/errors.ts';
import { sendProblem, type ProblemKind } from './problem.ts';

interface HttpishError {
  headers?: Record<string, string>;
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  errors?: { path?: string; message?: string }[];
}

const STATUS_KIND: Record<number, ProblemKind> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * The one place errors become responses. Domain refusals carry their own kind; body-parser
 * and OpenAPI validation errors carry a 4xx status; anything else is a bug: logged in full,
 * answered with a bare 500 problem (no stack, no message).
 */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (isDomainError(error)) {
      if (error.kind === 'unavailable') {
        res.setHeader('Retry-After', '5');
      }
      sendProblem(res, error.kind, error.detail, error.extensions);
      return;
    }
    const httpish = (typeof error === 'object' && error !== null ? error : {}) as HttpishError;
    const status = httpish.status ?? httpish.statusCode;
    const kind = status !== undefined ? STATUS_KIND[status] : undefined;
    if (kind) {
      const allow = httpish.headers?.Allow ?? httpish.headers?.allow;
      if (kind === 'method_not_allowed' && allow) {
        const methods = allow.split(',').map((m) => m.trim().toUpperCase());
        if (methods.includes('GET')) methods.push('HEAD');
        res.setHeader('Allow', [...new Set(methods)].join(', '));
      }
      sendProblem(res, kind, describeClientError(httpish, kind, req));
      return;
    }
    logger.error({ err: error, requestId: res.locals.requestId }, 'unhandled error');
    sendProblem(res, 'internal', 'an internal error occurred; it has been logged with the request id');
  };
}

function describeClientError(error: HttpishError, kind: ProblemKind, req: Request): string {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'the request body is not valid JSON';
    case 'entity.too.large':
      return 'the request body is larger than the limit';
    default:
      break;
  }
  if (kind === 'not_found') return `no route matches ${req.method} ${req.path}`;
  if (kind === 'method_not_allowed') return `${req.method} is not allowed on ${req.path}`;
  const first = error.errors?.[0];
  if (first?.message) {
    const where = first.path ? `${first.path.replace(/^\/?(body|query|params|headers)\/?/, '$1.').replace(/\//g, '.')}: ` : '';
    return `${where}${first.message}`.slice(0, 500);
  }
  return (error.message ?? 'the request is invalid').slice(0, 500);
}

/** Final handler for requests no route matched. */
export function notFoundHandler(req: Request, res: Response): void {
  sendProblem(res, 'not_found', `no route matches ${req.method} ${req.path}`);
}
