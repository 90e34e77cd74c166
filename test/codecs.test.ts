import protobufjs from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { avro, bytes, json, protobuf, string } from '../src/index.js';

describe('codecs', () => {
  it('json round-trips values and fails on bad input', () => {
    const codec = json<{ a: number; s: string }>();
    const value = { a: 1, s: 'ünïcode 🚀' };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    expect(() => codec.decode(Buffer.from('{bad'))).toThrow(SyntaxError);
    expect(() => json().encode(undefined)).toThrow(/not JSON-serialisable/);
  });

  it('bytes passes bytes through and refuses other values', () => {
    const payload = new Uint8Array([0, 255, 7]);
    expect(bytes().decode(bytes().encode(payload))).toBe(payload);
    expect(() => bytes().encode('x' as unknown as Uint8Array)).toThrow(/Uint8Array/);
  });

  it('string decodes strict UTF-8', () => {
    expect(string().decode(string().encode('zażółć'))).toBe('zażółć');
    expect(() => string().decode(new Uint8Array([0xff, 0xfe]))).toThrow();
  });

  it('avro encodes with an Avro schema via avsc', () => {
    const codec = avro<{ id: number; note: string }>({
      type: 'record',
      name: 'Order',
      fields: [
        { name: 'id', type: 'int' },
        { name: 'note', type: 'string' },
      ],
    });
    const encoded = codec.encode({ id: 42, note: 'hi' });
    expect(encoded.byteLength).toBe(4); // zigzag varint 42 (1 byte) + length (1) + "hi" (2)
    expect(codec.decode(encoded)).toEqual({ id: 42, note: 'hi' });
    expect(() => codec.encode({ id: 'x' } as unknown as { id: number; note: string })).toThrow();
    expect(() => codec.decode(new Uint8Array([0xff]))).toThrow();
  });

  it('protobuf encodes with a protobufjs type', () => {
    const root = protobufjs.parse(`syntax = "proto3"; message Order { int64 id = 1; string note = 2; }`).root;
    const codec = protobuf<{ id: string; note: string }>(root.lookupType('Order'));
    const encoded = codec.encode({ id: '9007199254740993', note: 'big' });
    expect(codec.decode(encoded)).toEqual({ id: '9007199254740993', note: 'big' });
    expect(() => codec.encode(null as unknown as { id: string; note: string })).toThrow();
    expect(() => codec.decode(new Uint8Array([0x0a, 0xff]))).toThrow();
  });
});
