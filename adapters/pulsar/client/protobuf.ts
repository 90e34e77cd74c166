/**
 * A minimal protocol-buffers (proto2) wire codec: exactly what Pulsar's protocol uses.
 *
 * Field kinds: varint integers (64-bit values are JavaScript numbers, exact up to 2^53; negative
 * values are written as ten-byte two's complement varints, as Java writes them), booleans,
 * length-delimited strings/bytes/messages, fixed64 doubles, and full 64-bit bit sets as bigint.
 * Messages are described by a small schema ({@link defineMessage}); decoding checks required
 * fields and skips unknown ones, so newer brokers can add fields.
 */
import { PulsarProtocolError } from './errors.js';

const TWO_32 = 4294967296;

/** A growable byte buffer that protobuf values are appended to. */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An unsigned or signed integer as a varint (negative values take ten bytes, as in Java). */
  varint(value: number): this {
    if (!Number.isInteger(value)) throw new RangeError(`varint needs an integer, got ${value}`);
    this.ensure(10);
    if (value >= 0 && value < 0x80000000) {
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      this.buf[this.pos++] = v;
      return this;
    }
    if (value > 0 && value <= Number.MAX_SAFE_INTEGER) {
      // Timestamps and large ids: same bytes as the bigint path, without bigints.
      let v = value;
      while (v > 0x7f) {
        this.buf[this.pos++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      this.buf[this.pos++] = v;
      return this;
    }
    return this.varintBig(BigInt(value));
  }

  /** A 64-bit value (e.g. a bit set word) as a varint, two's complement for negatives. */
  varintBig(value: bigint): this {
    this.ensure(10);
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint((field << 3) | wireType);
  }

  bytes(value: Uint8Array): this {
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  string(value: string): this {
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
    return this;
  }

  /** Raw bytes, no length prefix. */
  raw(value: Uint8Array): this {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** A copy of what was written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Empties the writer, keeping its buffer (for writers reused across encodings). */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** What was written, without copying: valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Skips `n` bytes to fill in later with {@link Writer.setUint32BE}; returns where they start. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** Overwrites 4 bytes written (or reserved) before. */
  setUint32BE(at: number, value: number): void {
    this.buf.writeUInt32BE(value, at);
  }
}

/** Reads protobuf values from a byte range; every read is bounds-checked. */
export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string): never {
    throw new PulsarProtocolError(`malformed protobuf: ${what} at byte ${this.pos}`);
  }

  /** A varint as a signed 64-bit value in a number (exact within ±2^53). */
  varint(): number {
    const buf = this.buf;
    let lo = 0;
    let shift = 0;
    let byte: number;
    // Low 28 bits
    do {
      if (this.pos >= this.end) this.fail('truncated varint');
      byte = buf[this.pos++] as number;
      lo |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 28);
    if (!(byte & 0x80)) return lo >>> 0;
    // Bits 28..63
    let hi = 0;
    if (this.pos >= this.end) this.fail('truncated varint');
    byte = buf[this.pos++] as number;
    lo = (lo | ((byte & 0x0f) << 28)) >>> 0;
    hi = (byte & 0x70) >> 4;
    shift = 3;
    while (byte & 0x80) {
      if (shift > 31) this.fail('varint longer than 10 bytes');
      if (this.pos >= this.end) this.fail('truncated varint');
      byte = buf[this.pos++] as number;
      hi |= (byte & 0x7f) << shift;
      shift += 7;
    }
    hi >>>= 0;
    if (hi & 0x80000000) {
      // negative two's complement
      const nlo = ~lo >>> 0;
      const nhi = ~hi >>> 0;
      return -(nhi * TWO_32 + nlo + 1);
    }
    return hi * TWO_32 + lo;
  }

  /** A varint as an unsigned 64-bit bigint (for bit sets). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.buf[this.pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return BigInt.asUintN(64, result);
      shift += 7n;
      if (shift > 63n) this.fail('varint longer than 10 bytes');
    }
  }

  /** A length-delimited field's bounds, checked against the end of this reader. */
  lengthDelimited(): [number, number] {
    const end = this.delimitedEnd();
    const start = this.pos;
    this.pos = end;
    return [start, end];
  }

  /**
   * Reads a length prefix and returns where the field ends, checked against the end of this
   * reader; `pos` is left at the field's start (no array allocated: this runs per field decoded).
   */
  delimitedEnd(): number {
    const length = this.varint();
    if (length < 0 || this.pos + length > this.end) this.fail(`length ${length} past the end`);
    return this.pos + length;
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated fixed64');
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.delimitedEnd();
        return;
      case 5:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }
}

/** How one field is stored. */
export type FieldKind =
  /** varint, signed 64-bit semantics, value is a number */
  | 'int64'
  /** varint, low 32 bits taken as signed (int32 and enums) */
  | 'int32'
  | 'bool'
  | 'string'
  | 'bytes'
  /** fixed64 IEEE double */
  | 'double'
  /** varint, full unsigned 64 bits as bigint */
  | 'uint64big'
  | 'message';

/** One field of a message schema. */
export interface FieldDef {
  readonly name: string;
  readonly no: number;
  readonly kind: FieldKind;
  readonly repeated?: boolean;
  readonly required?: boolean;
  /** For kind 'message'. */
  readonly type?: MessageType<object>;
}

/** A message schema plus its encoder and decoder. */
export interface MessageType<T extends object> {
  readonly name: string;
  readonly fields: readonly FieldDef[];
  encode(value: T, writer?: Writer): Writer;
  decode(buf: Buffer, start?: number, end?: number): T;
}

function wireTypeOf(kind: FieldKind): number {
  switch (kind) {
    case 'double':
      return 1;
    case 'string':
    case 'bytes':
    case 'message':
      return 2;
    default:
      return 0;
  }
}

function writeValue(writer: Writer, field: FieldDef, value: unknown): void {
  writer.tag(field.no, wireTypeOf(field.kind));
  switch (field.kind) {
    case 'int64':
    case 'int32':
      writer.varint(value as number);
      return;
    case 'bool':
      writer.varint(value ? 1 : 0);
      return;
    case 'string':
      writer.string(value as string);
      return;
    case 'bytes':
      writer.bytes(value as Uint8Array);
      return;
    case 'double':
      writer.double(value as number);
      return;
    case 'uint64big':
      writer.varintBig(value as bigint);
      return;
    case 'message': {
      const type = field.type as MessageType<object>;
      const inner = type.encode(value as object, new Writer(64)).finish();
      writer.bytes(inner);
      return;
    }
  }
}

function readValue(reader: Reader, field: FieldDef, wireType: number): unknown {
  const expected = wireTypeOf(field.kind);
  if (wireType !== expected) {
    throw new PulsarProtocolError(`malformed protobuf: field ${field.name} has wire type ${wireType}`);
  }
  switch (field.kind) {
    case 'int64':
      return reader.varint();
    case 'int32':
      return reader.varint() | 0;
    case 'bool':
      return reader.varint() !== 0;
    case 'string': {
      const end = reader.delimitedEnd();
      const start = reader.pos;
      reader.pos = end;
      return reader.buf.toString('utf8', start, end);
    }
    case 'bytes': {
      const end = reader.delimitedEnd();
      const start = reader.pos;
      reader.pos = end;
      return reader.buf.subarray(start, end);
    }
    case 'double':
      return reader.double();
    case 'uint64big':
      return reader.varintBig();
    case 'message': {
      const end = reader.delimitedEnd();
      const start = reader.pos;
      reader.pos = end;
      return (field.type as MessageType<object>).decode(reader.buf, start, end);
    }
  }
}

/**
 * Defines a message type from its fields. `T` is the TypeScript shape: optional fields are
 * `undefined` when absent, repeated fields are arrays (empty when absent).
 */
export function defineMessage<T extends object>(name: string, fields: readonly FieldDef[]): MessageType<T> {
  // Field numbers are small: an array indexed by number is a cheaper lookup than a Map, per field.
  const byNumber: (FieldDef | undefined)[] = [];
  for (const field of fields) byNumber[field.no] = field;
  const required = fields.filter((f) => f.required);
  const repeated = fields.filter((f) => f.repeated);
  return {
    name,
    fields,
    encode(value: T, writer = new Writer()): Writer {
      const record = value as Record<string, unknown>;
      for (const field of fields) {
        const v = record[field.name];
        if (v === undefined || v === null) {
          if (field.required) throw new PulsarProtocolError(`${name}.${field.name} is required`);
          continue;
        }
        if (field.repeated) {
          for (const item of v as unknown[]) writeValue(writer, field, item);
        } else {
          writeValue(writer, field, v);
        }
      }
      return writer;
    },
    decode(buf: Buffer, start = 0, end = buf.length): T {
      const reader = new Reader(buf, start, end);
      const out: Record<string, unknown> = {};
      for (const field of repeated) out[field.name] = [];
      while (!reader.done) {
        const tag = reader.varint();
        const no = tag >>> 3;
        const wireType = tag & 7;
        const field = byNumber[no];
        if (!field) {
          reader.skip(wireType);
          continue;
        }
        if (field.repeated && wireType === 2 && wireTypeOf(field.kind) === 0) {
          // packed repeated scalars
          const e = reader.delimitedEnd();
          const inner = new Reader(buf, reader.pos, e);
          reader.pos = e;
          const list = out[field.name] as unknown[];
          while (!inner.done) list.push(readValue(inner, field, 0));
          continue;
        }
        const value = readValue(reader, field, wireType);
        if (field.repeated) (out[field.name] as unknown[]).push(value);
        else out[field.name] = value;
      }
      for (const field of required) {
        if (out[field.name] === undefined) {
          throw new PulsarProtocolError(`malformed ${name}: required field ${field.name} missing`);
        }
      }
      return out as T;
    },
  };
}
