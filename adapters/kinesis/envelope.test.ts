import { describe, expect, it } from 'vitest';
import { ENVELOPE_OVERHEAD, looksEnveloped, unwrap, wrap } from './envelope.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

describe('kinesis envelope', () => {
  it('writes the documented bytes for a message without headers', () => {
    const wrapped = wrap(bytes('hi'), {}, false);
    expect([...wrapped]).toEqual([0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00, 0x00, 0x68, 0x69]);
    expect(wrapped.byteLength).toBe(ENVELOPE_OVERHEAD + 2);
  });

  it('writes headers as varint-length-prefixed UTF-8 pairs and marks keyless messages', () => {
    const wrapped = wrap(bytes('x'), { a: 'é' }, true);
    expect([...wrapped]).toEqual([0xc1, 0xb5, 0x50, 0x42, 0x01, 0x01, 0x01, 0x01, 0x61, 0x02, 0xc3, 0xa9, 0x78]);
  });

  it('round-trips payloads, unicode headers, long values and the keyless flag', () => {
    const headers: Record<string, string> = {
      tenant: 't1',
      'ünïcode-名前': 'välue ✓ 🚀',
      long: 'v'.repeat(300),
      empty: '',
    };
    const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    const out = unwrap(wrap(payload, headers, true));
    expect(out.enveloped).toBe(true);
    expect(out.keyless).toBe(true);
    expect(out.headers).toEqual(headers);
    expect([...out.payload]).toEqual([...payload]);
    expect(unwrap(wrap(new Uint8Array(0), {}, false))).toMatchObject({ enveloped: true, keyless: false, headers: {} });
  });

  it('keeps a header named __proto__ as data', () => {
    const out = unwrap(wrap(bytes('p'), { ['__proto__']: 'x' }, false));
    expect(Object.getPrototypeOf(out.headers)).toBe(Object.prototype);
    expect(Object.entries(out.headers)).toEqual([['__proto__', 'x']]);
  });

  it('delivers records of other producers as plain payloads', () => {
    for (const plain of ['{"id":1}', '', 'hello', '\u00c1bc']) {
      const out = unwrap(bytes(plain));
      expect(out.enveloped).toBe(false);
      expect(out.headers).toEqual({});
      expect(text(out.payload)).toBe(plain);
    }
  });

  it('treats data that starts with the magic but does not parse as a plain payload', () => {
    const cases = [
      [0xc1, 0xb5, 0x50, 0x42, 0x02, 0x00, 0x00], // unknown version
      [0xc1, 0xb5, 0x50, 0x42, 0x01, 0x80, 0x00], // unknown flag
      [0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00, 0x05, 0x01], // more headers than bytes
      [0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00, 0x01, 0x09, 0x61], // name longer than the record
      [0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00, 0x01, 0x01, 0xff, 0x00], // name not UTF-8
      [0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00], // too short
    ];
    for (const data of cases) {
      const record = Uint8Array.from(data);
      const out = unwrap(record);
      expect(out.enveloped).toBe(false);
      expect(out.payload).toBe(record);
    }
  });

  it('recognises the magic only with a known version and flags', () => {
    expect(looksEnveloped(wrap(bytes('a'), {}, false))).toBe(true);
    expect(looksEnveloped(bytes('{"a":1}'))).toBe(false);
  });
});
