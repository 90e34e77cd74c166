import { EncodeError } from '../errors.js';
import { type Codec, describeValue } from './codec.js';

const BYTES_CODEC: Codec<Uint8Array> = {
  name: 'bytes',
  encode(value) {
    if (!(value instanceof Uint8Array)) {
      throw new EncodeError(
        'bytes',
        new TypeError(`the bytes codec takes a Uint8Array or Buffer, got ${describeValue(value)}`),
      );
    }
    return value;
  },
  decode(bytes) {
    return bytes;
  },
};

/** Raw bytes, passed through untouched. Anything but a Uint8Array (or Buffer) is an EncodeError. */
export function bytes(): Codec<Uint8Array> {
  return BYTES_CODEC;
}
