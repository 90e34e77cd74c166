/**
 * The polybus envelope: how a Kinesis record carries headers (Kinesis has none) and whether the
 * message had a key. Format version 1, every byte:
 *
 * ```
 * offset  size  value
 * 0       4     magic C1 B5 50 42  (0xC1 never occurs in UTF-8 text, so no JSON or text payload starts with it)
 * 4       1     version 0x01
 * 5       1     flags: bit 0 = the message had no key (the partition key is random: deliver key undefined);
 *               bits 1-7 are 0 (a reader refuses an envelope with unknown flags as "not an envelope")
 * 6       n     header count, unsigned LEB128 varint
 *               then per header: name length (varint), name (UTF-8), value length (varint), value (UTF-8)
 * ...     rest  the payload, unchanged
 * ```
 *
 * A message without headers costs 7 bytes. A reader treats a record as enveloped only when the
 * magic, the version and the flags match and every header parses exactly (lengths inside the
 * record, names and values valid UTF-8); anything else (a record written by another producer, or
 * with `envelope=false`) is delivered as a plain payload, with no headers and its partition key as
 * the key.
 */

/** The four bytes every enveloped record starts with. */
export const ENVELOPE_MAGIC: readonly number[] = Object.freeze([0xc1, 0xb5, 0x50, 0x42]);
/** The format version this code writes and reads. */
export const ENVELOPE_VERSION = 1;
/** Flag bit: the message was sent without a key. */
export const FLAG_KEYLESS = 0x01;
/** Bytes an envelope adds to a message without headers. */
export const ENVELOPE_OVERHEAD = 7;

const KNOWN_FLAGS = FLAG_KEYLESS;
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** A record's data, unwrapped. */
export interface Unwrapped {
  /** The payload (a view into the record's data, not a copy). */
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /** Whether the record carried a polybus envelope. */
  readonly enveloped: boolean;
  /** The sender gave no key (only known for enveloped records). */
  readonly keyless: boolean;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeVarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 0x80);
  }
  target[offset++] = value;
  return offset;
}

/**
 * Wraps a payload and its headers in the envelope.
 * @param keyless - the message has no key: its partition key is random, readers deliver no key.
 */
export function wrap(payload: Uint8Array, headers: Readonly<Record<string, string>>, keyless: boolean): Uint8Array {
  let count = 0;
  let size = ENVELOPE_OVERHEAD - 1;
  let encoded: Uint8Array[] | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    encoded ??= [];
    const nameBytes = encoder.encode(name);
    const valueBytes = encoder.encode(value);
    encoded.push(nameBytes, valueBytes);
    size += varintSize(nameBytes.byteLength) + nameBytes.byteLength + varintSize(valueBytes.byteLength);
    size += valueBytes.byteLength;
    count++;
  }
  size += varintSize(count) + payload.byteLength;
  const out = new Uint8Array(size);
  out.set(ENVELOPE_MAGIC, 0);
  out[4] = ENVELOPE_VERSION;
  out[5] = keyless ? FLAG_KEYLESS : 0;
  let offset = writeVarint(out, 6, count);
  if (encoded !== undefined) {
    for (const part of encoded) {
      offset = writeVarint(out, offset, part.byteLength);
      out.set(part, offset);
      offset += part.byteLength;
    }
  }
  out.set(payload, offset);
  return out;
}

/** Reads a varint at `offset`; undefined when it runs past `end` or exceeds 2^32. */
function readVarint(data: Uint8Array, offset: number, end: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (offset >= end) return undefined;
    const byte = data[offset++] as number;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, offset];
    scale *= 0x80;
  }
  return undefined;
}

/** Whether data starts with the magic, the version and known flags (a cheap first test). */
export function looksEnveloped(data: Uint8Array): boolean {
  return (
    data.byteLength >= ENVELOPE_OVERHEAD &&
    data[0] === 0xc1 &&
    data[1] === 0xb5 &&
    data[2] === 0x50 &&
    data[3] === 0x42 &&
    data[4] === ENVELOPE_VERSION &&
    ((data[5] as number) & ~KNOWN_FLAGS) === 0
  );
}

/** Unwraps a record's data: the envelope's headers and payload, or the data itself as a plain payload. */
export function unwrap(data: Uint8Array): Unwrapped {
  const plain: Unwrapped = { payload: data, headers: NO_HEADERS, enveloped: false, keyless: false };
  if (!looksEnveloped(data)) return plain;
  const end = data.byteLength;
  const counted = readVarint(data, 6, end);
  if (counted === undefined) return plain;
  let [count, offset] = counted;
  // Each header takes at least two bytes: a count above that cannot be an envelope.
  if (count > (end - offset) / 2) return plain;
  let headers: Record<string, string> | undefined;
  try {
    for (let i = 0; i < count; i++) {
      const nameLength = readVarint(data, offset, end);
      if (nameLength === undefined || nameLength[1] + nameLength[0] > end) return plain;
      const name = strictDecoder.decode(data.subarray(nameLength[1], nameLength[1] + nameLength[0]));
      offset = nameLength[1] + nameLength[0];
      const valueLength = readVarint(data, offset, end);
      if (valueLength === undefined || valueLength[1] + valueLength[0] > end) return plain;
      const value = strictDecoder.decode(data.subarray(valueLength[1], valueLength[1] + valueLength[0]));
      offset = valueLength[1] + valueLength[0];
      headers ??= {};
      // A header named "__proto__" is data, not the object's prototype.
      if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true });
      else headers[name] = value;
    }
  } catch {
    // Not valid UTF-8: not an envelope.
    return plain;
  }
  return {
    payload: data.subarray(offset),
    headers: headers ?? NO_HEADERS,
    enveloped: true,
    keyless: ((data[5] as number) & FLAG_KEYLESS) !== 0,
  };
}
