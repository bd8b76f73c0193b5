import { hash } from 'node:crypto';
import type { RandomSource } from './clock.ts';

/** Prefixes make a leaked token recognisable (secret scanners) and tell the two kinds apart. */
export const API_TOKEN_PREFIX = 'trt_';
export const BOOTSTRAP_TOKEN_PREFIX = 'trb_';

/** A new token: 256 random bits, base64url, with its kind's prefix. Shown once, never stored. */
export function generateTokenSecret(prefix: string, random: RandomSource): string {
  return `${prefix}${Buffer.from(random.bytes(32)).toString('base64url')}`;
}

/**
 * What the database stores instead of the token. The secret has 256 bits of entropy, so a
 * fast hash is enough (no dictionary to guess from), and lookups by hash stay indexed.
 */
export function hashTokenSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Cheap shape check before any database lookup. */
export function looksLikeToken(secret: string): boolean {
  return /^tr[tb]_[A-Za-z0-9_-]{43}$/.test(secret);
}
