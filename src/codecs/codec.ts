/**
 * Turns values into bytes and back. Used by producers (encode) and consumers (decode).
 *
 * The built-in codecs throw `EncodeError` and `DecodeError` themselves, naming the
 * problem; errors of any other type thrown by a custom codec are wrapped in those by polybus.
 */
export interface Codec<T> {
  /** Short name used in errors and dead-letter headers, e.g. "json". */
  readonly name: string;
  encode(value: T): Uint8Array;
  /** Throws on bad input; the consumer turns that into a DecodeError. */
  decode(bytes: Uint8Array): T;
}

/** Zero-copy view of bytes as a Buffer (for fast UTF-8 decoding). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Strict UTF-8: invalid bytes throw, and a leading U+FEFF is kept as part of the text. */
export const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const nativeIsWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * Whether a string has no lone surrogates, i.e. can be written as UTF-8 without U+FFFD
 * replacing part of it.
 */
export const isWellFormed: (text: string) => boolean = nativeIsWellFormed
  ? (text) => nativeIsWellFormed.call(text)
  : (text) => !LONE_SURROGATE.test(text);

/** Where a string is not well-formed, for error messages. */
export function loneSurrogateAt(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    } else if (unit < 0xdc00 || unit > 0xdfff) continue;
    return `a lone surrogate U+${unit.toString(16).toUpperCase()} at index ${i}`;
  }
  return 'no lone surrogate';
}

/** Short description of a value's type for "expected X, got Y" messages: `null`, `array`, `NaN`, `Map`… */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  if (type === 'number') return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'number' : String(value);
  if (type !== 'object') return type;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) return 'object';
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}
