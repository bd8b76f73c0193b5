import type { Request } from 'express';

/**
 * A query parameter as text, or undefined when absent or empty. The OpenAPI validator may
 * already have coerced a declared integer to a number; it comes back as its decimal text.
 */
export function queryParam(req: Request, key: string): string | undefined {
  const value: unknown = req.query[key];
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}
