import { optionalRequire } from '../optional-require.js';
import { asBuffer, type Codec } from './codec.js';

/** The part of an avsc `Type` polybus uses. */
export interface AvroType<T> {
  toBuffer(value: T): Buffer;
  fromBuffer(buffer: Buffer): T;
}

interface Avsc {
  Type: { forSchema(schema: unknown): AvroType<unknown> };
}

/**
 * Apache Avro binary encoding via `avsc` (an optional peer dependency).
 * @param schema an Avro schema (object or JSON string) or an avsc `Type`.
 */
export function avro<T>(schema: AvroType<T> | object | string): Codec<T> {
  const type =
    typeof schema === 'object' && schema !== null && 'toBuffer' in schema && 'fromBuffer' in schema
      ? (schema as AvroType<T>)
      : (optionalRequire<Avsc>('avsc', 'avro()').Type.forSchema(
          typeof schema === 'string' ? JSON.parse(schema) : schema,
        ) as AvroType<T>);
  return {
    name: 'avro',
    encode: (value) => type.toBuffer(value),
    decode: (bytes) => type.fromBuffer(asBuffer(bytes)),
  };
}
