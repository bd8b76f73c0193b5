import type { RandomSource } from './clock.ts';

/** Serial numbers are 16 octets: 126 random bits, well above the 64 that CA/B rules ask for. */
export const SERIAL_NUMBER_OCTETS = 16;

/**
 * A fresh certificate serial number as lower-case hex (exactly 32 digits).
 * The top bit is cleared so the DER INTEGER is positive without a padding octet, and the next
 * bit is set so the value never starts with a zero octet (which DER would have to strip);
 * the result is always 16 octets, within RFC 5280's limit of 20.
 */
export function generateSerialNumber(random: RandomSource): string {
  const bytes = random.bytes(SERIAL_NUMBER_OCTETS);
  if (bytes.length !== SERIAL_NUMBER_OCTETS) {
    throw new Error(`random source returned ${bytes.length} bytes, expected ${SERIAL_NUMBER_OCTETS}`);
  }
  const first = bytes[0] ?? 0;
  bytes[0] = (first & 0x7f) | 0x40;
  return Buffer.from(bytes).toString('hex');
}

/** Canonical form of a serial given in hex by a caller: lower case, no colons, no leading zeros. */
export function normalizeSerialHex(serial: string): string | undefined {
  const hex = serial.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex)) return undefined;
  const trimmed = hex.replace(/^0+/, '');
  return trimmed === '' ? undefined : trimmed;
}
