/** Turns values into bytes and back. Used by producers (encode) and consumers (decode). */
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
