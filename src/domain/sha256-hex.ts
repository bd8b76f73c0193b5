import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of the bytes (fingerprints, SPKI hashes). */
export function sha256Hex(data: Uint8Array | ArrayBuffer): string {
  return createHash('sha256').update(data instanceof Uint8Array ? data : new Uint8Array(data)).digest('hex');
}
