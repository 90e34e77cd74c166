import { asBuffer, type Codec } from './codec.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

const STRING_CODEC: Codec<string> = {
  name: 'string',
  encode(value) {
    if (typeof value !== 'string') throw new TypeError('the string codec takes a string');
    return Buffer.from(value, 'utf8');
  },
  decode(bytes) {
    return STRICT_UTF8.decode(asBuffer(bytes));
  },
};

/** UTF-8 text; invalid UTF-8 is a decode error rather than replacement characters. */
export function string(): Codec<string> {
  return STRING_CODEC;
}
