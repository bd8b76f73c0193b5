import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature of a webhook delivery. */
export const SIGNATURE_HEADER = 'Trustroot-Signature';

/** Default window, in seconds, in which a receiver accepts a signed timestamp (replay bound). */
const DEFAULT_TOLERANCE_SECONDS = 300;

/** Length of a hex-encoded HMAC-SHA256 (32 octets). */
const HEX_MAC_LENGTH = 64;

function macHex(secret: string, timestampSeconds: number, body: string): string {
  // The timestamp is inside the MAC so that a captured request cannot be replayed later with a
  // fresh timestamp; the dot separates it unambiguously from the body, which may start with digits.
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`, 'utf8').digest('hex');
}

/**
 * The `Trustroot-Signature` value of one delivery:
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${body}`)>`.
 *
 * @param secret the service's webhook secret (UTF-8), never empty.
 * @param timestampSeconds Unix time in whole seconds at signing, a non-negative safe integer.
 * @param body the exact request body bytes as a string (UTF-8); receivers must verify the raw
 *   body, not a re-serialisation of it.
 * @throws RangeError when the secret is empty or the timestamp is not a whole, non-negative number.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  if (secret.length === 0) throw new RangeError('webhook secret must not be empty');
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`webhook timestamp must be whole non-negative seconds, got ${timestampSeconds}`);
  }
  return `t=${timestampSeconds},v1=${macHex(secret, timestampSeconds, body)}`;
}

/** The timestamp and the v1 signatures of a header, or undefined when it is malformed. */
function parseHeader(header: string): { timestamp: number; signatures: string[] } | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0) return undefined;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      // A second timestamp would let an attacker choose which one a lenient parser reads.
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1') {
      signatures.push(value.toLowerCase());
    }
    // Unknown keys (future schemes) are ignored, as receivers of versioned signatures do.
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

/**
 * Checks a `Trustroot-Signature` header, for receivers and tests.
 *
 * Accepts when the header is well formed, its timestamp lies within `toleranceSeconds` of
 * `nowSeconds` (either direction, bounding replays and clock skew), and any of its `v1`
 * signatures (several may be sent while a secret is rotated) equals the HMAC of `${t}.${body}`.
 * The MAC comparison is constant-time.
 *
 * @param nowSeconds the receiver's Unix time in seconds.
 * @param toleranceSeconds allowed distance between `t` and `nowSeconds`; default 300 s.
 * @returns false for any malformed, stale or mismatching header; never throws on input.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  if (secret.length === 0) return false;
  const parsed = parseHeader(header);
  if (parsed === undefined) return false;
  if (!Number.isFinite(nowSeconds) || !(toleranceSeconds >= 0)) return false;
  if (Math.abs(nowSeconds - parsed.timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(macHex(secret, parsed.timestamp, body), 'hex');
  let matched = false;
  for (const signature of parsed.signatures) {
    if (signature.length !== HEX_MAC_LENGTH || !/^[0-9a-f]+$/.test(signature)) continue;
    // Compare every candidate (no early exit) so timing does not reveal which one matched.
    if (timingSafeEqual(expected, Buffer.from(signature, 'hex'))) matched = true;
  }
  return matched;
}
