import { DecodeError, EncodeError } from '../errors.js';
import { asBuffer, type Codec, describeValue, isWellFormed, loneSurrogateAt, STRICT_UTF8 } from './codec.js';

const STRING_CODEC: Codec<string> = {
  name: 'string',
  encode(value) {
    if (typeof value !== 'string') {
      throw new EncodeError('string', new TypeError(`the string codec takes a string, got ${describeValue(value)}`));
    }
    if (!isWellFormed(value)) {
      throw new EncodeError(
        'string',
        new TypeError(`the string has ${loneSurrogateAt(value)}, which UTF-8 cannot represent`),
      );
    }
    return Buffer.from(value, 'utf8');
  },
  decode(bytes) {
    try {
      return STRICT_UTF8.decode(asBuffer(bytes));
    } catch (cause) {
      throw new DecodeError('string', cause);
    }
  },
};

/**
 * UTF-8 text that round-trips exactly: a leading U+FEFF (byte order mark) is kept, invalid UTF-8
 * is a DecodeError rather than replacement characters, and a string with a lone surrogate (which
 * UTF-8 cannot represent) is an EncodeError rather than being sent with U+FFFD in its place.
 */
export function string(): Codec<string> {
  return STRING_CODEC;
}
