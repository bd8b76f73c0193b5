import { DomainError } from '../domain/errors.ts';

const UNREACHABLE_MARKERS = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'terminating connection',
  'the database system is shutting down',
  'the database system is starting up',
  "Can't reach database server",
  'DatabaseNotReachable',
  'ConnectionClosed',
  'Server has closed the connection',
  'Client has encountered a connection error',
  'canceling statement due to statement timeout',
  'P1001',
  'P1017',
  // No connection free within the transaction's wait: overloaded, not broken — retry shortly.
  'P2028',
  'Unable to start a transaction in the given time',
];

/** Walks an error and its causes looking for signs that the database cannot be reached. */
export function isDatabaseUnreachable(error: unknown, depth = 0): boolean {
  if (depth > 5 || error === null || typeof error !== 'object') return false;
  const record = error as { message?: unknown; code?: unknown; cause?: unknown; kind?: unknown };
  const text = [record.message, record.code, record.kind].filter((v) => typeof v === 'string').join(' ');
  if (UNREACHABLE_MARKERS.some((marker) => text.includes(marker))) return true;
  return isDatabaseUnreachable(record.cause, depth + 1);
}

/**
 * Runs a storage operation and turns a lost database into `DomainError('unavailable')`, which
 * callers see as a 503; any other failure is rethrown unchanged.
 */
export async function guardStorage<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof DomainError) throw error;
    if (isDatabaseUnreachable(error)) {
      throw new DomainError('unavailable', 'the certificate database is unavailable; retry shortly');
    }
    throw error;
  }
}

/** True for Prisma's unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2002';
}
