import type { Codec } from './codec.js';

const BYTES_CODEC: Codec<Uint8Array> = {
  name: 'bytes',
  encode(value) {
    if (!(value instanceof Uint8Array)) throw new TypeError('the bytes codec takes a Uint8Array or Buffer');
    return value;
  },
  decode(bytes) {
    return bytes;
  },
};

/** Raw bytes, passed through untouched. */
export function bytes(): Codec<Uint8Array> {
  return BYTES_CODEC;
}
