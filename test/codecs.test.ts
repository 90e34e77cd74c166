import protobufjs from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { avro, bytes, DecodeError, EncodeError, json, protobuf, string } from '../src/index.js';

/** The error a call throws (fails the test if it does not throw). */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('codecs', () => {
  it('json round-trips values and fails on bad input', () => {
    const codec = json<{ a: number; s: string }>();
    const value = { a: 1, s: 'ünïcode 🚀' };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    expect(() => codec.decode(Buffer.from('{bad'))).toThrow(DecodeError);
    expect(() => json().encode(undefined)).toThrow(/not JSON-serialisable/);
  });

  it('json throws EncodeError (not TypeError) for values without a JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [undefined, () => 1, Symbol('s'), 10n, { big: 10n }, cyclic]) {
      expect(() => json().encode(value)).toThrow(EncodeError);
    }
    expect(thrown(() => json().encode({ big: 10n })).message).toMatch(/json codec could not encode.*BigInt/);
  });

  it('json refuses a top-level NaN or Infinity instead of sending null', () => {
    expect(thrown(() => json().encode(Number.NaN)).message).toMatch(/NaN is not JSON-serialisable/);
    expect(() => json().encode(Number.POSITIVE_INFINITY)).toThrow(EncodeError);
  });

  it('json decodes invalid UTF-8 as a DecodeError, not U+FFFD, and skips a byte order mark', () => {
    expect(() => json().decode(new Uint8Array([0x22, 0xff, 0x22]))).toThrow(DecodeError);
    expect(json().decode(Buffer.from('\uFEFF{"a":1}'))).toEqual({ a: 1 });
    const lone = { s: 'a\uD800b' };
    expect(json().decode(json().encode(lone))).toEqual(lone);
  });

  it('bytes passes bytes through and refuses other values with an EncodeError', () => {
    const payload = new Uint8Array([0, 255, 7]);
    expect(bytes().decode(bytes().encode(payload))).toBe(payload);
    const error = thrown(() => bytes().encode('x' as unknown as Uint8Array));
    expect(error).toBeInstanceOf(EncodeError);
    expect(error.message).toMatch(/Uint8Array or Buffer, got string/);
    expect(() => bytes().encode(new ArrayBuffer(2) as unknown as Uint8Array)).toThrow(/got ArrayBuffer/);
  });

  it('string decodes strict UTF-8', () => {
    expect(string().decode(string().encode('zażółć'))).toBe('zażółć');
    expect(() => string().decode(new Uint8Array([0xff, 0xfe]))).toThrow(DecodeError);
  });

  it('string keeps a leading byte order mark', () => {
    expect(string().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toBe('\uFEFFa');
    expect(string().decode(string().encode('\uFEFFhi'))).toBe('\uFEFFhi');
  });

  it('string refuses a lone surrogate instead of sending U+FFFD', () => {
    for (const text of ['a\uD800b', '\uDC00', 'end\uD83D']) {
      const error = thrown(() => string().encode(text));
      expect(error).toBeInstanceOf(EncodeError);
      expect(error.message).toMatch(/lone surrogate U\+D[8-F][0-9A-F]{2} at index \d/);
    }
    expect(string().decode(string().encode('pair 🚀'))).toBe('pair 🚀');
    expect(() => string().encode(5 as unknown as string)).toThrow(EncodeError);
  });

  describe('avro', () => {
    const codec = avro<{ id: number; note: string }>({
      type: 'record',
      name: 'Order',
      fields: [
        { name: 'id', type: 'int' },
        { name: 'note', type: 'string' },
      ],
    });

    it('encodes with an Avro schema via avsc', () => {
      const encoded = codec.encode({ id: 42, note: 'hi' });
      expect(encoded.byteLength).toBe(4); // zigzag varint 42 (1 byte) + length (1) + "hi" (2)
      expect(codec.decode(encoded)).toEqual({ id: 42, note: 'hi' });
      expect(() => codec.encode({ id: 'x' } as unknown as { id: number; note: string })).toThrow(EncodeError);
      expect(() => codec.decode(new Uint8Array([0xff]))).toThrow(DecodeError);
    });

    it('names the field that does not fit', () => {
      const bad = { id: 1, note: 5 } as unknown as { id: number; note: string };
      expect(thrown(() => codec.encode(bad)).message).toMatch(/note: string expected, got number/);
      expect(thrown(() => codec.encode(null as unknown as { id: number; note: string })).message).toMatch(
        /value: Order expected, got null/,
      );
    });

    it('refuses fields the schema does not declare instead of dropping them', () => {
      const extra = { id: 1, note: 'x', notes: 'typo' } as { id: number; note: string };
      const error = thrown(() => codec.encode(extra));
      expect(error).toBeInstanceOf(EncodeError);
      expect(error.message).toMatch(/notes: not a field of Order/);
    });

    it('refuses a lone surrogate instead of sending U+FFFD, and still sends a real U+FFFD', () => {
      expect(thrown(() => codec.encode({ id: 1, note: 'a\uD800' })).message).toMatch(/note: the string has a lone/);
      expect(() => codec.encode({ id: 1, note: `${'long '.repeat(20)}\uDC00` })).toThrow(/note: the string has a lone/);
      for (const note of ['a\uFFFD', '한국어', `${'long '.repeat(20)}\uFFFD`]) {
        expect(codec.decode(codec.encode({ id: 1, note }))).toEqual({ id: 1, note });
      }
    });
  });

  describe('protobuf', () => {
    const root = protobufjs.parse(`
      syntax = "proto3";
      enum Status { UNKNOWN = 0; PAID = 1; SHIPPED = 2; }
      message Item { string sku = 1; uint32 qty = 2; }
      message Order {
        int64 id = 1;
        string note = 2;
        Status status = 3;
        repeated Item items = 4;
        map<string, int32> tags = 5;
        bool gift = 6;
        bytes blob = 7;
        oneof payment { string card = 8; string iban = 9; }
      }`).root;
    type Order = Record<string, unknown>;
    const codec = protobuf<Order>(root.lookupType('Order'));
    const problem = (value: unknown): string => {
      const error = thrown(() => codec.encode(value as Order));
      expect(error).toBeInstanceOf(EncodeError);
      return error.message;
    };

    it('encodes with a protobufjs type; longs as strings and enums as names round-trip', () => {
      const order = {
        id: '9007199254740993',
        note: 'big',
        status: 'PAID',
        items: [{ sku: 'A', qty: 2 }],
        tags: { vip: 1 },
        gift: true,
        card: '4242',
      };
      const decoded = codec.decode(codec.encode(order));
      expect(decoded).toMatchObject(order);
      expect(codec.decode(codec.encode(decoded))).toEqual(decoded);
      expect(codec.decode(codec.encode({ status: 2 })).status).toBe('SHIPPED');
      expect(() => codec.encode(null as unknown as Order)).toThrow(EncodeError);
      expect(() => codec.decode(new Uint8Array([0x0a, 0xff]))).toThrow(DecodeError);
    });

    it('refuses an unknown enum name instead of sending the default', () => {
      expect(problem({ status: 'PAYED' })).toMatch(/status: enum value expected, got "PAYED" \(Status: UNKNOWN, PAID/);
      expect(problem({ status: true })).toMatch(/status: enum value expected, got boolean/);
    });

    it('refuses values protobufjs would convert silently, naming the field', () => {
      expect(problem({ note: 5 })).toMatch(/note: string expected, got number/);
      expect(problem({ id: 1.5 })).toMatch(/id: integer expected, got 1.5/);
      expect(problem({ id: '12abc' })).toMatch(/id: integer .* expected, got "12abc"/);
      expect(problem({ id: '99999999999999999999' })).toMatch(/id: .* out of the int64 range/);
      expect(problem({ id: 2 ** 60 })).toMatch(/id: .* not a safe integer/);
      expect(problem({ gift: 'no' })).toMatch(/gift: boolean expected, got string/);
      expect(problem({ items: [{ sku: 'A', qty: -1 }] })).toMatch(/items\[0\]\.qty: -1 is out of the uint32 range/);
      expect(problem({ items: [{ sku: 3 }] })).toMatch(/items\[0\]\.sku: string expected/);
      expect(problem({ items: {} })).toMatch(/items: array expected, got object/);
      expect(problem({ tags: { vip: 'yes' } })).toMatch(/tags\["vip"\]: integer expected, got string/);
      expect(problem({ blob: 'not base64!' })).toMatch(/blob: bytes .* expected/);
      expect(problem({ note: 'a\uD800' })).toMatch(/note: the string has a lone surrogate/);
    });

    it('refuses unknown fields and two members of one oneof', () => {
      expect(problem({ order_id: 1 })).toMatch(/order_id: not a field of Order/);
      expect(problem({ card: '4242', iban: 'DE00' })).toMatch(/iban: another member of oneof payment/);
    });

    it('checks proto2 required fields and closed enums', () => {
      const legacy = protobufjs.Root.fromJSON({
        nested: {
          Kind: { values: { A: 1, B: 2 } },
          Legacy: { fields: { id: { rule: 'required', type: 'int32', id: 1 }, kind: { type: 'Kind', id: 2 } } },
        },
      });
      legacy.resolveAll();
      const proto2 = protobufjs.parse(
        'syntax = "proto2"; enum Kind { A = 1; B = 2; } message Legacy { required int32 id = 1; optional Kind kind = 2; }',
      ).root;
      for (const type of [legacy.lookupType('Legacy'), proto2.lookupType('Legacy')]) {
        const strict = protobuf(type);
        expect(() => strict.encode({ kind: 'A' })).toThrow(/id: required field missing/);
        expect(strict.decode(strict.encode({ id: 1, kind: 2 }))).toEqual({ id: 1, kind: 'B' });
      }
      expect(() => protobuf(proto2.lookupType('Legacy')).encode({ id: 1, kind: 3 })).toThrow(
        /kind: enum value expected, got 3/,
      );
    });
  });
});
