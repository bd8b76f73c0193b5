/**
 * A small, strict DER (X.690) reader: enough to decode a PKCS#10 certificate request without an
 * ASN.1 object model. It reads one TLV at a time from a byte array it never copies, and every
 * read is bounds-checked against the enclosing element and the input.
 *
 * Problems come in two kinds, because callers report them differently:
 * - `malformed`: not a usable encoding (truncated, a length past the end of its parent or of the
 *   input, an indefinite length, an empty OBJECT IDENTIFIER…). These throw a `DerError` at once.
 * - `not-der`: a valid BER encoding that DER forbids (a long-form length below 128, a length or
 *   INTEGER with redundant leading octets, a BOOLEAN other than 00/FF, non-zero BIT STRING
 *   padding, a constructed string…). Each is recorded in `problems` with a code, and reading
 *   goes on so that a later `malformed` problem still wins; the caller refuses the input when it
 *   is done (with `strict: true` they throw at once instead).
 * High-tag-number identifiers (tag numbers above 30) are read, so that what follows them can be
 * checked, but recorded as a `high-tag-number` problem: the types we decode never use them.
 *
 * With `healOverruns`, the reader reads what asn1js (the lenient BER decoder the caller replaced)
 * reads: an element whose content runs past its parent (but not past the input), the parent then
 * ending where its last child ends (an `overrun` problem), and indefinite lengths (an
 * `indefinite-length` problem). Without it, both are `malformed`. Callers use that mode only to
 * tell how an input they refuse is broken.
 *
 * The reader bounds the work a hostile input can cause: at most `maxElements` TLVs and a
 * nesting depth of `maxDepth` per reader. The defaults are asn1js's (10 000 and 100), and the
 * count includes what asn1js counts: the TLVs it finds when it tries to read the content of an
 * OCTET STRING or BIT STRING as an embedded encoding (see `countEmbedded`).
 */

/** Why a read failed; see the module comment. */
export type DerProblem = 'malformed' | 'not-der';

/** Codes of the `not-der` problems a reader records. */
export type NonDerCode =
  | 'long-form-length'
  | 'indefinite-length'
  | 'length-leading-zero'
  | 'overrun'
  | 'high-tag-number'
  | 'non-minimal-tag'
  | 'integer-padding'
  | 'empty-integer'
  | 'boolean-value'
  | 'null-content'
  | 'oid-padding'
  | 'empty-oid'
  | 'bit-string-padding'
  | 'bit-string-empty'
  | 'constructed-string'
  | 'primitive-sequence'
  | 'end-of-contents'
  | 'end-of-contents-content'
  | 'unknown-universal-type'
  | 'invalid-string'
  | 'time-form'
  /** Found by the caller: a deviation from its schema that a BER decoder reading it would repair. */
  | 'schema';

export interface NonDerIssue {
  readonly code: NonDerCode;
  /** Offset of the element it was found in. */
  readonly at: number;
  /** Whether it was found in an ANY value checked by `checkAny` (its own identifier and length included). */
  inAny: boolean;
}

/** A refused encoding. `message` names the problem for logs and tests; it is not caller-facing. */
export class DerError extends Error {
  override readonly name = 'DerError';

  constructor(
    readonly problem: DerProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Identifier octets of the universal types the reader knows (single-octet tags). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  RELATIVE_OID: 0x0d,
  SEQUENCE: 0x30,
  SET: 0x31,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  VIDEOTEX_STRING: 0x15,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  GRAPHIC_STRING: 0x19,
  VISIBLE_STRING: 0x1a,
  GENERAL_STRING: 0x1b,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

export const TAG_CLASS = { UNIVERSAL: 0x00, APPLICATION: 0x40, CONTEXT: 0x80, PRIVATE: 0xc0 } as const;

const CONSTRUCTED = 0x20;
const HIGH_TAG = 0x1f;

export function tagClass(tag: number): number {
  return tag & 0xc0;
}

export function isConstructed(tag: number): boolean {
  return (tag & CONSTRUCTED) !== 0;
}

export function tagNumber(tag: number): number {
  return tag & 0x1f;
}

/** The identifier octet of a context-specific tag `[number]` (0–30). */
export function contextTag(number: number, constructed: boolean): number {
  return TAG_CLASS.CONTEXT | (constructed ? CONSTRUCTED : 0) | number;
}

/** One TLV: offsets into the reader's bytes. */
export interface DerElement {
  /**
   * The identifier octet. For a high-tag-number identifier (number above 30) it is the first
   * octet, whose low five bits are all ones, so it equals none of the single-octet tags.
   */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset one past the last content octet, as the length says. */
  readonly contentEnd: number;
  /** Offset one past the element: `contentEnd`, unless an overrun was healed. */
  readonly end: number;
  /** Nesting depth: 0 for an element read directly from the reader's top level. */
  readonly depth: number;
}

export interface DerReaderOptions {
  /** Throw on the first `not-der` problem instead of recording it (default false). */
  strict?: boolean;
  /** Read elements that run past their parent as lenient BER decoders do; see the module comment. */
  healOverruns?: boolean;
  /** Most TLVs one reader will read (default 10 000). */
  maxElements?: number;
  /** Deepest nesting one reader will follow, the first element being at depth 0 (default 100). */
  maxDepth?: number;
}

/** Universal types that are always primitive (BOOLEAN, INTEGER, NULL, OIDs, REAL, times…). */
const PRIMITIVE_ONLY: ReadonlySet<number> = new Set([1, 2, 5, 6, 9, 13, 14, 23, 24]);

export class DerReader {
  /** The `not-der` problems found so far, in order (at most a few are kept). */
  readonly problems: NonDerIssue[] = [];
  private elements = 0;
  private anyDepth = 0;
  private anyRoot: DerElement | undefined;
  private readonly strict: boolean;
  private readonly heal: boolean;
  private readonly maxElements: number;
  private readonly maxDepth: number;
  private readonly healed = new Map<number, DerElement>();

  constructor(
    readonly bytes: Uint8Array,
    options: DerReaderOptions = {},
  ) {
    this.strict = options.strict ?? false;
    this.heal = options.healOverruns ?? false;
    this.maxElements = options.maxElements ?? 10_000;
    this.maxDepth = options.maxDepth ?? 100;
  }

  /** Records (or, when strict, throws) a valid-BER-but-not-DER problem. */
  notDer(code: NonDerCode, at = -1): void {
    if (this.strict) throw new DerError('not-der', `not DER: ${code}`);
    if (this.problems.length < 16) this.problems.push({ code, at, inAny: this.anyDepth > 0 });
  }

  /**
   * Reads the TLV at `offset`, whose identifier and length octets must lie before `limit` and
   * whose content must end at or before `limit` (see `healOverruns`) and the end of the input.
   * Only definite lengths are accepted.
   */
  read(offset: number, limit: number, depth = 0): DerElement {
    if (this.heal) {
      const known = this.healed.get(offset);
      if (known !== undefined) return known;
    }
    const bytes = this.bytes;
    if (limit > bytes.length || offset + 2 > limit) throw new DerError('malformed', 'truncated element');
    if (depth > this.maxDepth) throw new DerError('malformed', 'nesting too deep');
    if (++this.elements > this.maxElements) throw new DerError('malformed', 'too many elements');
    let tag = bytes[offset] ?? 0;
    let cursor = offset + 1;
    if ((tag & HIGH_TAG) === HIGH_TAG) {
      let number = 0;
      const first = cursor;
      for (;;) {
        if (cursor >= limit - 1) throw new DerError('malformed', 'truncated identifier');
        const octet = bytes[cursor++] ?? 0;
        number = number * 128 + (octet & 0x7f);
        if ((octet & 0x80) === 0) break;
      }
      if (tagClass(tag) === TAG_CLASS.UNIVERSAL && number >= 37) throw new DerError('malformed', 'reserved universal tag');
      if (number < 31 && cursor - first === 1) {
        // A tag DER writes in one octet: read it as that tag.
        this.notDer('non-minimal-tag', offset);
        tag = (tag & 0xe0) | number;
      } else {
        this.notDer('high-tag-number', offset);
      }
    }
    const first = bytes[cursor++] ?? 0;
    if (first === 0x80) return this.readIndefinite(tag, offset, cursor, limit, depth);
    let length = first;
    if (first >= 0x80) {
      const octets = first & 0x7f;
      if (octets > 8) throw new DerError('malformed', 'length too long');
      if (cursor + octets > limit) throw new DerError('malformed', 'truncated length');
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (bytes[cursor + i] ?? 0);
      if (octets > 1 && (bytes[cursor] ?? 0) === 0) this.notDer('length-leading-zero', offset);
      else if (length < 0x80) this.notDer('long-form-length', offset);
      cursor += octets;
    }
    const contentStart = cursor;
    if (tagClass(tag) === TAG_CLASS.UNIVERSAL && (tag & HIGH_TAG) !== HIGH_TAG) {
      if (isConstructed(tag) && PRIMITIVE_ONLY.has(tagNumber(tag))) throw new DerError('malformed', 'constructed encoding of a primitive type');
      if (tagNumber(tag) === 15) throw new DerError('malformed', 'reserved universal tag');
    }
    if (tag === 0x00 || tag === CONSTRUCTED) {
      // End-of-contents belongs to indefinite lengths, never DER. BER decoders take it as these
      // two octets whatever its length says (and refuse a constructed one with content).
      if (tag === CONSTRUCTED && length > 0) throw new DerError('malformed', 'constructed end-of-contents with content');
      this.notDer(length === 0 ? 'end-of-contents' : 'end-of-contents-content', offset);
      return this.remember({ tag, start: offset, contentStart, contentEnd: contentStart, end: contentStart, depth });
    }
    if (length > bytes.length - contentStart) throw new DerError('malformed', 'length past the end of the input');
    const contentEnd = contentStart + length;
    if (contentEnd > limit) {
      if (!this.heal) throw new DerError('malformed', 'length past the end of the enclosing element');
      this.notDer('overrun', offset);
    }
    // A lenient decoder reads children until they cover the length, wherever the last one ends.
    const end = this.heal && hasChildren(tag) ? this.lastChildEnd(contentStart, contentEnd, depth) : contentEnd;
    return this.remember({ tag, start: offset, contentStart, contentEnd, end, depth });
  }

  private remember(element: DerElement): DerElement {
    if (this.heal) this.healed.set(element.start, element);
    return element;
  }

  /**
   * An indefinite length (BER only, X.690 8.1.3.6): constructed content up to an end-of-contents
   * element, or (for the string types asn1js reads as opaque octets) everything up to `limit`.
   */
  private readIndefinite(tag: number, start: number, contentStart: number, limit: number, depth: number): DerElement {
    if (!this.heal) throw new DerError('malformed', 'indefinite length');
    if (!isConstructed(tag)) throw new DerError('malformed', 'indefinite length of a primitive');
    this.notDer('indefinite-length', start);
    let end = limit;
    // With nothing left in the parent, asn1js reads an empty element and no end-of-contents.
    if (contentStart >= limit) end = contentStart;
    else if (hasChildren(tag)) {
      for (end = contentStart; ; ) {
        if (end >= limit) throw new DerError('malformed', 'indefinite length without end-of-contents');
        const child = this.read(end, limit, depth + 1);
        end = child.end;
        if (child.tag === 0x00) break;
      }
    }
    return this.remember({ tag, start, contentStart, contentEnd: end, end, depth });
  }

  private lastChildEnd(contentStart: number, contentEnd: number, depth: number): number {
    let offset = contentStart;
    while (offset < contentEnd) offset = this.read(offset, contentEnd, depth + 1).end;
    return offset;
  }

  /**
   * Counts against `maxElements` the TLVs a lenient decoder (asn1js) finds when it tries to read
   * the content of a primitive OCTET STRING, or of a BIT STRING without unused bits, as an
   * embedded encoding of its own. Nothing is checked or recorded: the content stays opaque.
   */
  countEmbedded(element: DerElement): void {
    let start = element.contentStart;
    if (element.tag === TAG.BIT_STRING) {
      if (this.bytes[start] !== 0) return;
      start++;
    } else if (element.tag !== TAG.OCTET_STRING) {
      return;
    }
    if (start < element.contentEnd) this.scan(start, element.contentEnd, element.contentEnd, element.depth + 1);
    if (this.elements > this.maxElements) throw new DerError('malformed', 'too many elements');
  }

  /** Counts one element at `offset` and its contents, as far as they read; the end, or -1. */
  private scan(offset: number, limit: number, regionEnd: number, depth: number): number {
    const bytes = this.bytes;
    if (depth > this.maxDepth || offset + 2 > limit) return -1;
    this.elements++;
    const tag = bytes[offset] ?? 0;
    if ((tag & HIGH_TAG) === HIGH_TAG) return -1;
    let cursor = offset + 1;
    let length = bytes[cursor++] ?? 0;
    if (length >= 0x80) {
      const octets = length & 0x7f;
      if (octets === 0 || octets > 8 || cursor + octets > limit) return -1;
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (bytes[cursor + i] ?? 0);
      cursor += octets;
    }
    const end = cursor + length;
    if (end > regionEnd) return -1;
    if (isConstructed(tag)) {
      let child = cursor;
      while (child < end) {
        child = this.scan(child, end, regionEnd, depth + 1);
        if (child < 0) return -1;
      }
      return child;
    }
    if (tag === TAG.OCTET_STRING && cursor < end) this.scan(cursor, end, end, depth + 1);
    if (tag === TAG.BIT_STRING && bytes[cursor] === 0 && cursor + 1 < end) this.scan(cursor + 1, end, end, depth + 1);
    return end;
  }

  /** Reads the one TLV that must fill `[offset, end)` exactly. */
  readExactly(offset: number, end: number, depth = 0): DerElement {
    const element = this.read(offset, end, depth);
    if (element.end !== end) throw new DerError('malformed', 'trailing data after an element');
    return element;
  }

  /** The elements of a constructed element's content, in order. */
  children(parent: DerElement): DerElement[] {
    if (!hasChildren(parent.tag)) throw new DerError('malformed', 'expected a constructed element');
    const items: DerElement[] = [];
    for (let offset = parent.contentStart; offset < parent.contentEnd; ) {
      const child = this.read(offset, parent.contentEnd, parent.depth + 1);
      items.push(child);
      offset = child.end;
    }
    return items;
  }

  /**
   * The content of a constructed (BER) OCTET STRING or BIT STRING: its segments' contents joined
   * (for a BIT STRING, without the unused-bits octets), checked as `checkAny` checks them.
   */
  joinedSegments(element: DerElement): Uint8Array {
    const parts: Uint8Array[] = [];
    const collect = (parent: DerElement): void => {
      for (const child of this.children(parent)) {
        if ((child.tag & ~CONSTRUCTED) !== (parent.tag & ~CONSTRUCTED)) throw new DerError('malformed', 'a constructed string holds segments of its own type');
        if (isConstructed(child.tag)) collect(child);
        else parts.push(this.content(child).subarray(tagNumber(child.tag) === 3 ? 1 : 0));
      }
    };
    collect(element);
    return Uint8Array.from(Buffer.concat(parts));
  }

  /** The content octets of a primitive element (a view, not a copy). */
  content(element: DerElement): Uint8Array {
    return this.bytes.subarray(element.contentStart, element.contentEnd);
  }

  /** The whole TLV (a view, not a copy). */
  encoded(element: DerElement): Uint8Array {
    return this.bytes.subarray(element.start, element.end);
  }

  /** Checks that `element` has `tag`; a wrong tag is `malformed`. */
  expect(element: DerElement, tag: number, what: string): void {
    if (element.tag !== tag) throw new DerError('malformed', `expected ${what}`);
  }

  /** The dotted-decimal text of an OBJECT IDENTIFIER (X.690 8.19). */
  objectIdentifier(element: DerElement): string {
    this.expect(element, TAG.OBJECT_IDENTIFIER, 'an OBJECT IDENTIFIER');
    return this.oidText(element, true);
  }

  /**
   * Decodes OBJECT IDENTIFIER (`absolute`) or RELATIVE-OID content, whatever the tag (for
   * IMPLICIT ones). A subidentifier with a redundant leading 0x80 octet is `oid-padding`.
   */
  oidText(element: DerElement, absolute: boolean): string {
    const bytes = this.bytes;
    const { contentStart, contentEnd } = element;
    if (contentStart === contentEnd) {
      this.notDer('empty-oid');
      return '';
    }
    if (((bytes[contentEnd - 1] ?? 0) & 0x80) !== 0) throw new DerError('malformed', 'truncated object identifier');
    const arcs: string[] = [];
    for (let offset = contentStart; offset < contentEnd; ) {
      if (bytes[offset] === 0x80) this.notDer('oid-padding');
      const subStart = offset;
      let small = 0;
      while (((bytes[offset] ?? 0) & 0x80) !== 0) {
        small = small * 128 + ((bytes[offset] ?? 0) & 0x7f);
        offset++;
      }
      small = small * 128 + (bytes[offset] ?? 0);
      offset++;
      // Seven octets hold 49 bits, exact in a double; longer subidentifiers go through BigInt.
      const value: number | bigint = offset - subStart <= 7 ? small : bigSubidentifier(bytes, subStart, offset);
      if (absolute && arcs.length === 0) {
        if (typeof value === 'bigint') arcs.push('2', (value - 80n).toString());
        else if (value < 40) arcs.push('0', String(value));
        else if (value < 80) arcs.push('1', String(value - 40));
        else arcs.push('2', String(value - 80));
      } else {
        arcs.push(value.toString());
      }
    }
    return arcs.join('.');
  }

  /**
   * The two's-complement content of an INTEGER (or of an IMPLICIT one, given its `tag`): a view,
   * checked to be minimal (X.690 8.3.2).
   */
  integer(element: DerElement, tag: number = TAG.INTEGER): Uint8Array {
    this.expect(element, tag, 'an INTEGER');
    const content = this.content(element);
    if (content.length === 0) {
      this.notDer('empty-integer');
    } else if (content.length > 1) {
      const first = content[0] ?? 0;
      const second = content[1] ?? 0;
      if ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)) this.notDer('integer-padding');
    }
    return content;
  }

  /** An INTEGER as a number, or undefined when it needs more than 48 bits. */
  smallInteger(element: DerElement, tag: number = TAG.INTEGER): number | undefined {
    const content = this.integer(element, tag);
    if (content.length > 6) return undefined;
    let value = (content[0] ?? 0) >= 0x80 ? -1 : 0;
    for (const octet of content) value = value * 256 + octet;
    return value;
  }

  /** A BOOLEAN: DER allows one content octet, 00 (FALSE) or FF (TRUE) (X.690 11.1). */
  boolean(element: DerElement): boolean {
    this.expect(element, TAG.BOOLEAN, 'a BOOLEAN');
    const content = this.content(element);
    if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) this.notDer('boolean-value');
    return content.some((octet) => octet !== 0);
  }

  /** A NULL: no content octets. */
  null(element: DerElement): void {
    this.expect(element, TAG.NULL, 'a NULL');
    if (element.contentEnd !== element.contentStart) this.notDer('null-content');
  }

  /**
   * A primitive BIT STRING (X.690 8.6, 11.2), or an IMPLICIT one given its `tag`: the count of
   * unused bits (0–7, and 0 when there are no bits) and a view of the octets. The unused bits
   * must be zero.
   */
  bitString(element: DerElement, tag: number = TAG.BIT_STRING): { unusedBits: number; bytes: Uint8Array } {
    this.expect(element, tag, 'a BIT STRING');
    const content = this.content(element);
    if (content.length === 0) {
      this.notDer('bit-string-empty');
      return { unusedBits: 0, bytes: content };
    }
    const unusedBits = content[0] ?? 0;
    if (unusedBits > 7) throw new DerError('malformed', 'BIT STRING with more than 7 unused bits');
    const bytes = content.subarray(1);
    if (bytes.length === 0 && unusedBits !== 0) this.notDer('bit-string-empty');
    else if (unusedBits !== 0 && ((bytes[bytes.length - 1] ?? 0) & ((1 << unusedBits) - 1)) !== 0) this.notDer('bit-string-padding');
    return { unusedBits, bytes };
  }

  /** The content of a primitive OCTET STRING, or of an IMPLICIT one given its `tag`. */
  octetString(element: DerElement, tag: number = TAG.OCTET_STRING): Uint8Array {
    this.expect(element, tag, 'an OCTET STRING');
    return this.content(element);
  }

  /**
   * The text of a single-octet-character string (PrintableString, IA5String, TeletexString…),
   * one octet per character: what the decoder this replaced returned, whatever the character set.
   */
  latin1(element: DerElement): string {
    return latin1(this.content(element));
  }

  /** A UTF8String's text; invalid UTF-8 is an `invalid-string` problem (and read as Latin-1). */
  utf8(element: DerElement): string {
    const content = this.content(element);
    try {
      return UTF8.decode(content);
    } catch {
      this.notDer('invalid-string');
      return latin1(content);
    }
  }

  /** A BMPString's text (UTF-16BE code units, unpaired surrogates kept); an odd length is `malformed`. */
  bmp(element: DerElement): string {
    const content = this.content(element);
    if (content.length % 2 !== 0) throw new DerError('malformed', 'BMPString of an odd length');
    let text = '';
    for (let i = 0; i < content.length; i += 2) text += String.fromCharCode(((content[i] ?? 0) << 8) | (content[i + 1] ?? 0));
    return text;
  }

  /**
   * A UniversalString's text (UTF-32BE). A length not a multiple of 4 is `malformed`; a
   * character outside the Basic Multilingual Plane is an `invalid-string` problem (the decoder
   * this replaced could not represent it).
   */
  universal(element: DerElement): string {
    const content = this.content(element);
    if (content.length % 4 !== 0) throw new DerError('malformed', 'UniversalString length not a multiple of 4');
    let text = '';
    for (let i = 0; i < content.length; i += 4) {
      if (content[i] !== 0 || content[i + 1] !== 0) this.notDer('invalid-string');
      text += String.fromCharCode(((content[i + 2] ?? 0) << 8) | (content[i + 3] ?? 0));
    }
    return text;
  }

  /**
   * Checks that `element`, and everything inside it, is a well-formed, DER-encoded value of some
   * type: what an ANY field (algorithm parameters, attribute values) must hold. Constructed
   * elements are followed down; primitive universal types are checked against their content
   * rules. Problems found here are recorded with `inAny` set.
   */
  checkAny(element: DerElement): void {
    // The value's own identifier and length were read before it was known to be an ANY value.
    for (const problem of this.problems) if (problem.at === element.start) problem.inAny = true;
    this.anyDepth++;
    const root = this.anyRoot;
    this.anyRoot = element;
    try {
      this.checkValue(element);
    } finally {
      this.anyDepth--;
      this.anyRoot = root;
    }
  }

  private checkValue(element: DerElement): void {
    const { tag } = element;
    if ((tag & HIGH_TAG) === HIGH_TAG) {
      // Types named by high tag numbers (DATE, TIME-OF-DAY… or private ones) are opaque here.
      if (isConstructed(tag)) {
        if (tagClass(tag) === TAG_CLASS.UNIVERSAL) throw new DerError('malformed', 'constructed encoding of a primitive type');
        for (const child of this.children(element)) this.checkValue(child);
      }
      return;
    }
    if (tagClass(tag) !== TAG_CLASS.UNIVERSAL) {
      if (isConstructed(tag)) for (const child of this.children(element)) this.checkValue(child);
      return;
    }
    const number = tagNumber(tag);
    if (isConstructed(tag)) {
      if (hasChildren(tag)) {
        if (number === 3 || number === 4) {
          // BER builds an OCTET STRING or BIT STRING from segments of its own type.
          this.notDer('constructed-string');
          for (const child of this.children(element)) {
            if ((child.tag & ~CONSTRUCTED) !== number) throw new DerError('malformed', 'a constructed string holds segments of its own type');
            this.checkValue(child);
          }
          return;
        }
        if (tag !== TAG.SEQUENCE && tag !== TAG.SET) this.notDer('unknown-universal-type');
        for (const child of this.children(element)) this.checkValue(child);
        return;
      }
      // End-of-contents was dealt with by `read`; other types whose constructed content decoders
      // take as opaque octets (character strings, ENUMERATED…) are BER only, and still decoded.
      if (number === 0) return;
      this.notDer('constructed-string');
      if (number === 30) this.bmp(element);
      if (number === 28) this.universal(element);
      return;
    }
    switch (tag) {
      case TAG.BOOLEAN:
        this.boolean(element);
        return;
      case TAG.INTEGER:
      case TAG.ENUMERATED:
        this.integer(element, tag);
        return;
      case TAG.BIT_STRING:
        this.bitString(element);
        this.countEmbedded(element);
        return;
      case TAG.NULL:
        this.null(element);
        return;
      case TAG.OBJECT_IDENTIFIER:
        this.oidText(element, true);
        return;
      case TAG.RELATIVE_OID:
        this.oidText(element, false);
        return;
      case TAG.BMP_STRING:
        this.bmp(element);
        return;
      case TAG.UNIVERSAL_STRING:
        this.universal(element);
        return;
      case TAG.UTC_TIME:
        this.checkUtcTime(element);
        return;
      case TAG.GENERALIZED_TIME:
        this.checkGeneralizedTime(element);
        return;
      case TAG.OCTET_STRING:
        this.countEmbedded(element);
        return;
      case TAG.UTF8_STRING:
      case TAG.NUMERIC_STRING:
      case TAG.PRINTABLE_STRING:
      case TAG.TELETEX_STRING:
      case TAG.VIDEOTEX_STRING:
      case TAG.IA5_STRING:
      case TAG.GRAPHIC_STRING:
      case TAG.VISIBLE_STRING:
      case TAG.GENERAL_STRING:
        return;
      default:
        this.checkOtherUniversal(element, number);
    }
  }

  /**
   * UTCTime: DER's YYMMDDHHMMSSZ. Text without such a run of digits at all is `malformed` when it
   * is a whole ANY value (asn1js then refused the value; deeper inside one it did not notice).
   */
  private checkUtcTime(element: DerElement): void {
    const text = this.latin1(element);
    if (/^\d{12}Z$/.test(text)) return;
    if (!/\d{12}Z/i.test(text) && element === this.anyRoot) throw new DerError('malformed', 'UTCTime without a date and time');
    this.notDer('time-form');
  }

  /**
   * GeneralizedTime: DER's YYYYMMDDHHMMSSZ. Text asn1js could not read at all (its parser threw
   * wherever the value was) is `malformed`; other forms are BER or worse.
   */
  private checkGeneralizedTime(element: DerElement): void {
    const text = this.latin1(element);
    if (/^\d{14}Z$/.test(text)) return;
    if (!readableGeneralizedTime(text)) throw new DerError('malformed', 'unreadable GeneralizedTime');
    this.notDer('time-form');
  }

  /** Universal types this reader has no rules for: tolerated as BER where decoders accept them. */
  private checkOtherUniversal(element: DerElement, number: number): void {
    if (number === 0) return;
    if (number === 16 || number === 17) {
      // A primitive SEQUENCE or SET: BER decoders read its content as elements all the same.
      this.notDer('primitive-sequence');
      for (const child of this.children(element)) this.checkValue(child);
      return;
    }
    this.notDer('unknown-universal-type');
  }
}

/**
 * Whether an element's content is a series of elements for asn1js, the BER decoder the caller
 * replaced: constructed elements of the non-universal classes, of OCTET STRING and BIT STRING
 * (segments), of the universal types it has no class for, and SEQUENCE and SET even when
 * (wrongly) primitive. The constructed forms of the other universal types (character strings,
 * ENUMERATED…) it reads as opaque octets.
 */
function hasChildren(tag: number): boolean {
  const number = tagNumber(tag);
  if (tagClass(tag) !== TAG_CLASS.UNIVERSAL) return isConstructed(tag);
  if (number === 16 || number === 17) return true;
  return isConstructed(tag) && (number === 3 || number === 4 || number === 7 || number === 8 || number === 11 || number === HIGH_TAG);
}

/** Whether asn1js's GeneralizedTime parser reads `text` without throwing (it checks the form, not the values). */
function readableGeneralizedTime(text: string): boolean {
  let time = text;
  if (text.endsWith('Z')) {
    time = text.slice(0, -1);
    if (time.includes('+') || time.includes('-')) return false;
  } else {
    if (Number.isNaN(Number(text.slice(-1)))) return false;
    const sign = time.includes('+') ? time.indexOf('+') : time.indexOf('-');
    if (sign !== -1) {
      const offset = time.slice(sign + 1);
      if ((offset.length !== 2 && offset.length !== 4) || Number.isNaN(parseInt(offset.slice(0, 2), 10))) return false;
      if (offset.length === 4 && Number.isNaN(parseInt(offset.slice(2, 4), 10))) return false;
      time = time.slice(0, sign);
    }
  }
  let point = time.indexOf('.');
  if (point === -1) point = time.indexOf(',');
  let dateTime = time;
  if (point !== -1) {
    if (Number.isNaN(Number(`0${time.slice(point)}`))) return false;
    dateTime = time.slice(0, point);
  }
  const digits = { 8: /(\d{4})(\d{2})(\d{2})/, 10: /(\d{4})(\d{2})(\d{2})(\d{2})/, 12: /(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})/, 14: /(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/ }[dateTime.length];
  if (digits === undefined || (dateTime.length === 8 && point !== -1)) return false;
  return digits.test(dateTime);
}

// ignoreBOM: a leading U+FEFF is part of the value, as it was for the decoder we replaced.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (const octet of bytes) text += String.fromCharCode(octet);
  return text;
}

function bigSubidentifier(bytes: Uint8Array, start: number, end: number): bigint {
  let value = 0n;
  for (let i = start; i < end; i++) value = (value << 7n) | BigInt((bytes[i] ?? 0) & 0x7f);
  return value;
}
