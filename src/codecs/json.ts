import { asBuffer, type Codec } from './codec.js';

const JSON_CODEC: Codec<unknown> = {
  name: 'json',
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} is not JSON-serialisable`);
    return Buffer.from(text, 'utf8');
  },
  decode(bytes) {
    // toString() without arguments is Buffer's fast UTF-8 path.
    return JSON.parse(asBuffer(bytes).toString());
  },
};

/** JSON in UTF-8: the default codec. */
export function json<T = unknown>(): Codec<T> {
  return JSON_CODEC as Codec<T>;
}
