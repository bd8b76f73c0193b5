/**
 * A minimal DER (X.690) writer: enough to encode a certificate from parts without an ASN.1
 * object model. The encoders return a complete TLV (tag, minimal definite length, content) in a
 * fresh buffer the caller owns; constructed values are assembled with a single allocation.
 * Inputs that DER or RFC 5280 cannot represent throw instead of being silently re-encoded.
 */

/** Encoded DER in its own ArrayBuffer (what every writer here returns). */
export type DerBytes = Uint8Array<ArrayBuffer>;

/** Universal tags used by certificates. */
export const DER_TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Bytes of a length in DER: short form below 128, else the minimal long form. */
function lengthSize(length: number): number {
  if (length < 0x80) return 1;
  let size = 1;
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) size++;
  return size;
}

function writeLength(target: Uint8Array, offset: number, length: number): number {
  if (length < 0x80) {
    target[offset] = length;
    return offset + 1;
  }
  const octets = lengthSize(length) - 1;
  target[offset] = 0x80 | octets;
  for (let i = octets; i >= 1; i--) {
    target[offset + i] = length & 0xff;
    length = Math.floor(length / 256);
  }
  return offset + 1 + octets;
}

/**
 * One TLV: `tag` (a single identifier octet, so tag numbers up to 30) followed by the
 * concatenation of `content`, copied once into the result.
 */
export function tlv(tag: number, ...content: readonly Uint8Array[]): DerBytes {
  let length = 0;
  for (const part of content) length += part.length;
  const out = new Uint8Array(1 + lengthSize(length) + length);
  out[0] = tag;
  let offset = writeLength(out, 1, length);
  for (const part of content) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function sequence(...items: readonly Uint8Array[]): DerBytes {
  return tlv(DER_TAG.SEQUENCE, ...items);
}

/**
 * A SET OF whose elements are already in DER order. (Sorting is the caller's job: a
 * certificate only ever has one-element SETs, in a Name's RelativeDistinguishedName.)
 */
export function set(...items: readonly Uint8Array[]): DerBytes {
  return tlv(DER_TAG.SET, ...items);
}

export function octetString(content: Uint8Array): DerBytes {
  return tlv(DER_TAG.OCTET_STRING, content);
}

/** A BIT STRING of whole octets (`unusedBits` of the last octet, 0–7, must be zero bits). */
export function bitString(content: Uint8Array, unusedBits = 0): DerBytes {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (content.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`invalid BIT STRING unused-bit count ${unusedBits}`);
  }
  return tlv(DER_TAG.BIT_STRING, Uint8Array.of(unusedBits), content);
}

/** BOOLEAN TRUE; DER writes FALSE only where it is not the DEFAULT, which certificates never need. */
export function booleanTrue(): DerBytes {
  return Uint8Array.of(DER_TAG.BOOLEAN, 0x01, 0xff);
}

export function nullValue(): DerBytes {
  return Uint8Array.of(DER_TAG.NULL, 0x00);
}

/**
 * A non-negative INTEGER from its big-endian magnitude: leading zero octets are dropped (one
 * zero is kept for the value 0) and a 00 octet is prepended when the first octet is ≥ 0x80, so
 * that the value stays positive. The minimal two's-complement form X.690 8.3.2 requires.
 */
export function unsignedInteger(magnitude: Uint8Array): DerBytes {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const value = magnitude.subarray(start);
  if (value.length === 0) return Uint8Array.of(DER_TAG.INTEGER, 0x01, 0x00);
  return (value[0] ?? 0) >= 0x80 ? tlv(DER_TAG.INTEGER, Uint8Array.of(0), value) : tlv(DER_TAG.INTEGER, value);
}

/** Big-endian bytes of a hex string (either case; an odd number of digits gets a leading 0). */
export function hexOctets(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('not a hex string');
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
}

/** A non-negative INTEGER whose magnitude is given in hex; see `unsignedInteger`. */
export function unsignedIntegerFromHex(hex: string): DerBytes {
  return unsignedInteger(hexOctets(hex));
}

/** A small non-negative INTEGER such as a version number (0 … 2^31 − 1). */
export function smallInteger(value: number): DerBytes {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`${value} is not a small non-negative integer`);
  const octets: number[] = [];
  for (let rest = value; rest > 0; rest >>>= 8) octets.unshift(rest & 0xff);
  return unsignedInteger(Uint8Array.from(octets));
}

const oidCache = new Map<string, DerBytes>();
/** Distinct OIDs are few (a certificate uses about twenty), but the cache is bounded anyway. */
const OID_CACHE_LIMIT = 1024;

/**
 * An OBJECT IDENTIFIER from dotted-decimal text (X.690 8.19). Encodings are cached by text;
 * each call returns a copy, so a caller may not corrupt the cache.
 */
export function objectIdentifier(dotted: string): DerBytes {
  let encoded = oidCache.get(dotted);
  if (encoded === undefined) {
    encoded = encodeObjectIdentifier(dotted);
    if (oidCache.size >= OID_CACHE_LIMIT) oidCache.clear();
    oidCache.set(dotted, encoded);
  }
  return encoded.slice();
}

function encodeObjectIdentifier(dotted: string): DerBytes {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new TypeError(`${JSON.stringify(dotted)} is not a dotted OID`);
  const arcs = dotted.split('.').map((arc) => BigInt(arc));
  const [first = 0n, second = 0n, ...rest] = arcs;
  if (first < 2n && second > 39n) throw new TypeError(`${dotted}: the second arc must be below 40`);
  const content: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const base128: number[] = [Number(arc & 0x7fn)];
    for (let value = arc >> 7n; value > 0n; value >>= 7n) base128.unshift(Number(value & 0x7fn) | 0x80);
    content.push(...base128);
  }
  return tlv(DER_TAG.OBJECT_IDENTIFIER, Uint8Array.from(content));
}

function digits(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/**
 * A certificate validity Time (RFC 5280 4.1.2.5): UTCTime YYMMDDHHMMSSZ for 1950 through 2049,
 * GeneralizedTime YYYYMMDDHHMMSSZ from 2050, always in UTC, with seconds and without fractions
 * (milliseconds are truncated). Years before 1950 or after 9999 cannot be encoded and throw.
 */
export function certificateTime(date: Date): DerBytes {
  const time = date.getTime();
  if (Number.isNaN(time)) throw new RangeError('invalid date');
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`year ${year} cannot be encoded in a certificate validity`);
  const rest =
    digits(date.getUTCMonth() + 1, 2) +
    digits(date.getUTCDate(), 2) +
    digits(date.getUTCHours(), 2) +
    digits(date.getUTCMinutes(), 2) +
    digits(date.getUTCSeconds(), 2) +
    'Z';
  return year < 2050
    ? tlv(DER_TAG.UTC_TIME, asciiOctets(digits(year % 100, 2) + rest))
    : tlv(DER_TAG.GENERALIZED_TIME, asciiOctets(digits(year, 4) + rest));
}

function asciiOctets(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) throw new RangeError(`non-ASCII character U+${code.toString(16).padStart(4, '0')} in an ASCII string`);
    out[i] = code;
  }
  return out;
}

/** The octets of an IA5String value (ASCII only; anything else throws rather than being mangled). */
export function ia5Octets(text: string): Uint8Array {
  return asciiOctets(text);
}

export function ia5String(text: string): DerBytes {
  return tlv(DER_TAG.IA5_STRING, asciiOctets(text));
}

const utf8 = new TextEncoder();

export function utf8String(text: string): DerBytes {
  return tlv(DER_TAG.UTF8_STRING, utf8.encode(text));
}

/** X.680 PrintableString characters. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function isPrintableString(text: string): boolean {
  return PRINTABLE.test(text);
}

export function printableString(text: string): DerBytes {
  if (!isPrintableString(text)) throw new RangeError('the value has characters a PrintableString cannot hold');
  return tlv(DER_TAG.PRINTABLE_STRING, asciiOctets(text));
}

function contextTag(number: number, constructed: boolean): number {
  if (!Number.isInteger(number) || number < 0 || number > 30) throw new RangeError(`context tag [${number}] needs more than one identifier octet`);
  return 0x80 | (constructed ? 0x20 : 0) | number;
}

/** `[number] EXPLICIT`: a constructed context-specific TLV wrapping complete TLVs. */
export function explicitContext(number: number, ...items: readonly Uint8Array[]): DerBytes {
  return tlv(contextTag(number, true), ...items);
}

/** `[number] IMPLICIT` of a primitive type: the context tag replaces the universal one. */
export function implicitPrimitive(number: number, content: Uint8Array): DerBytes {
  return tlv(contextTag(number, false), content);
}

/** `[number] IMPLICIT` of a constructed type (SEQUENCE, SET, CHOICE of them): `items` are its elements. */
export function implicitConstructed(number: number, ...items: readonly Uint8Array[]): DerBytes {
  return tlv(contextTag(number, true), ...items);
}
