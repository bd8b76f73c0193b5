import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * SHA-256 of a certificate's DER encoding, as 64 lower-case hex digits — the value
 * `openssl x509 -fingerprint -sha256` prints (without its colons) and `GET /v1/ca` reports as
 * `fingerprintSha256`. Accepts PEM text (exactly one certificate) or DER bytes; throws on
 * anything that is not a certificate.
 */
export function sha256Fingerprint(certificate: string | Uint8Array): string {
  const parsed = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
  return createHash('sha256').update(parsed.raw).digest('hex');
}

/**
 * A fingerprint as operators paste it, normalized to 64 lower-case hex digits: plain hex, hex
 * with colons (`AB:CD:…`, as OpenSSL prints it), optionally prefixed `sha256:` or
 * `SHA256 Fingerprint=` (OpenSSL's whole output line); case-insensitive. Throws a `RangeError`
 * for anything else, so that a truncated or mistyped pin is never silently accepted.
 */
export function normalizeFingerprint(input: string): string {
  const stripped = input
    .trim()
    .replace(/^sha-?256\s*fingerprint\s*=\s*/i, '')
    .replace(/^sha-?256:/i, '')
    .replace(/:/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(stripped)) {
    throw new RangeError('a root fingerprint is the SHA-256 of the root certificate: 64 hex digits, with or without colons, optionally prefixed "sha256:"');
  }
  return stripped;
}

/** SHA-256 (hex) of a key's DER SubjectPublicKeyInfo — the inventory's `spkiSha256`; a private key counts as its public half. */
export function spkiSha256Fingerprint(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}
