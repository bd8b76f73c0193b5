import { DomainError } from './errors.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** No lifetime or window a caller asks for is longer than this (100 years), so dates stay representable. */
const MAX_REQUESTED_SECONDS = 100 * 366 * 86400;

/**
 * A caller's requested lifetime: whole seconds as a number, or a duration string such as
 * `90s`, `15m`, `24h`, `7d` (also `1h30m`). Zero, negative or malformed → `bad_request`.
 */
export function parseRequestedTtl(value: unknown, field = 'ttl'): number {
  const seconds = parseSeconds(value, field);
  if (seconds > MAX_REQUESTED_SECONDS) throw new DomainError('bad_request', `${field} is longer than 100 years`);
  return seconds;
}

function parseSeconds(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) throw new DomainError('bad_request', `${field} must be a positive whole number of seconds`);
    return value;
  }
  if (typeof value === 'string') {
    const parts = [...value.trim().matchAll(/(\d+)([smhd])/g)];
    const joined = parts.map((p) => p[0]).join('');
    if (parts.length > 0 && joined === value.trim()) {
      const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? 's'] ?? 0), 0);
      if (seconds > 0 && Number.isSafeInteger(seconds)) return seconds;
    }
    if (/^\d+$/.test(value.trim()) && Number(value) > 0) return Number(value);
  }
  throw new DomainError('bad_request', `${field} must be a positive number of seconds or a duration such as 15m, 24h or 7d`);
}

/** Clock skew tolerated by relying parties: certificates start this long before issuance. */
export const NOT_BEFORE_BACKDATE_MS = 60_000;

/**
 * The validity window of a new certificate: from a minute before `now` for `ttlSeconds`,
 * clamped to the profile maximum and never past the issuer's own notAfter.
 */
export function validityWindow(now: Date, ttlSeconds: number, maxTtlSeconds: number, issuerNotAfter: Date): { notBefore: Date; notAfter: Date } {
  const effective = Math.min(ttlSeconds, maxTtlSeconds);
  const notBefore = new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS);
  let notAfter = new Date(now.getTime() + effective * 1000);
  if (notAfter > issuerNotAfter) notAfter = new Date(issuerNotAfter.getTime());
  if (notAfter <= now) throw new DomainError('unavailable', 'the issuing CA has expired');
  return { notBefore, notAfter };
}
