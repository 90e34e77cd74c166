import type { Codec } from './codec.js';

/** The part of a protobufjs message `Type` polybus uses (`root.lookupType('pkg.Order')`). */
export interface ProtobufType {
  verify(message: unknown): string | null;
  fromObject(object: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Protocol Buffers via a protobufjs message type (protobufjs is an optional peer dependency:
 * load your .proto with it and pass the looked-up type). Values are plain objects; longs become
 * strings and enums their names, so they survive JSON and dead-letter round trips.
 */
export function protobuf<T extends Record<string, unknown>>(type: ProtobufType): Codec<T> {
  return {
    name: 'protobuf',
    encode(value) {
      const message = type.fromObject(value);
      const problem = type.verify(message);
      if (problem) throw new TypeError(problem);
      return type.encode(message).finish();
    },
    decode(bytes) {
      return type.toObject(type.decode(bytes), { longs: String, enums: String, defaults: true }) as T;
    },
  };
}
