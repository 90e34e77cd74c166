import { DecodeError, EncodeError } from '../errors.js';
import { asBuffer, type Codec, describeValue } from './codec.js';

// RFC 8259 lets parsers skip a byte order mark, which is not part of the JSON text; invalid UTF-8 throws.
const UTF8_WITHOUT_BOM = new TextDecoder('utf-8', { fatal: true });

const JSON_CODEC: Codec<unknown> = {
  name: 'json',
  encode(value) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (cause) {
      // BigInt, cycles, a throwing toJSON().
      throw new EncodeError('json', cause);
    }
    // undefined, functions and symbols have no JSON form; NaN and ±Infinity would become null.
    if (text === undefined || (typeof value === 'number' && !Number.isFinite(value))) {
      throw new EncodeError('json', new TypeError(`${describeValue(value)} is not JSON-serialisable`));
    }
    return Buffer.from(text, 'utf8');
  },
  decode(bytes) {
    let text: string;
    try {
      text = UTF8_WITHOUT_BOM.decode(asBuffer(bytes));
    } catch (cause) {
      throw new DecodeError('json', cause);
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new DecodeError('json', cause);
    }
  },
};

/**
 * JSON in UTF-8: the default codec. Values without a JSON form (undefined, functions, symbols,
 * BigInt, cyclic objects, a top-level NaN or Infinity) are an EncodeError; invalid UTF-8 or JSON
 * is a DecodeError (a leading byte order mark is skipped). Inside objects the usual JSON.stringify rules apply (undefined properties are
 * left out, NaN becomes null, Map and Set become {}).
 */
export function json<T = unknown>(): Codec<T> {
  return JSON_CODEC as Codec<T>;
}
