import { hash } from 'node:crypto';

/**
 * Lower-case hex SHA-256 of the bytes (fingerprints, SPKI hashes). Through the one-shot
 * `crypto.hash`, not `createHash`: several run for every issuance, and for inputs this small
 * building the Hash object costs more than the hashing (about half the time per call here).
 */
export function sha256Hex(data: Uint8Array | ArrayBuffer): string {
  return hash('sha256', data instanceof Uint8Array ? data : new Uint8Array(data), 'hex');
}
