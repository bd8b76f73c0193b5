import type { NextFunction, Request, Response } from 'express';
import { sendProblem } from './problem.ts';

/** U+0000 (PostgreSQL text cannot hold it) or a UTF-16 surrogate without its pair (not valid Unicode). */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this must find
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function findUnstorable(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((item) => findUnstorable(item, depth + 1));
  return Object.entries(value as Record<string, unknown>).some(([key, item]) => UNSTORABLE.test(key) || findUnstorable(item, depth + 1));
}

/**
 * Refuses, with a 400, text that no database column can store: JSON bodies and query
 * parameters containing NUL or an unpaired surrogate. Without this they would reach PostgreSQL
 * and fail there as a 500.
 */
export function rejectUnstorableText(req: Request, res: Response, next: NextFunction): void {
  if (findUnstorable(req.body) || findUnstorable(req.query)) {
    sendProblem(res, 'bad_request', 'the request contains a NUL character or an unpaired UTF-16 surrogate');
    return;
  }
  next();
}
