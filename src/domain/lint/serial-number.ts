import type { LintRule } from './lint-rule.ts';

/** RFC 5280 4.1.2.2: conforming CAs MUST NOT use serial numbers longer than 20 octets. */
const MAX_SERIAL_OCTETS = 20;
/** CA/Browser Forum BR 7.1: at least 64 bits of CSPRNG output in the serial. */
const MIN_SERIAL_OCTETS = 8;

/**
 * The serial as the DER INTEGER's content octets in lower-case hex: whole octets, positive,
 * minimally encoded (a leading 00 only to keep a following octet ≥ 0x80 positive), 1–20 octets,
 * and at least 8 value octets, which is where ≥ 64 bits of randomness can live. Trustroot's own
 * serials are 16 octets starting 0x40–0x7f, so they never need the 00.
 */
export const serialNumber: LintRule = {
  id: 'serial-number',
  source: 'RFC 5280 4.1.2.2; X.690 8.3.2 (minimal INTEGER); CA/Browser Forum BR 7.1 (64 bits of entropy)',
  check(template) {
    const hex = template.serialHex;
    if (!/^[0-9a-f]+$/.test(hex)) return 'the serial number must be lower-case hex';
    if (hex.length % 2 !== 0) return 'the serial number must be whole octets (an even number of hex digits)';
    const octets = Buffer.from(hex, 'hex');
    const first = octets[0] ?? 0;
    const second = octets[1];
    if (first === 0x00 && (second === undefined || second < 0x80)) {
      return octets.every((octet) => octet === 0)
        ? 'the serial number must be positive, not zero'
        : 'the serial number is not minimally encoded: a leading 00 octet is allowed only before an octet of 0x80 or more';
    }
    if (first >= 0x80) return 'the serial number would be negative: its first octet is 0x80 or more without a leading 00';
    if (octets.length > MAX_SERIAL_OCTETS) return `the serial number is ${octets.length} octets; at most ${MAX_SERIAL_OCTETS} are allowed`;
    const valueOctets = first === 0x00 ? octets.length - 1 : octets.length;
    if (valueOctets < MIN_SERIAL_OCTETS) {
      return `the serial number has ${valueOctets} octets; at least ${MIN_SERIAL_OCTETS} (64 bits of entropy) are required`;
    }
    return undefined;
  },
};
