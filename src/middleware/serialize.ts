import type { TransportRecord } from '../adapter.js';
import type { Codec } from '../codecs/codec.js';
import { DecodeError, EncodeError } from '../errors.js';
import type { Middleware } from '../pipeline.js';

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Encodes outgoing values and decodes incoming payloads with one codec. Always present. */
export function codecMiddleware(codec: Codec<unknown>): Middleware {
  return {
    name: 'codec',
    publish: {
      step: 'serialize',
      handle(ctx, next) {
        const { messages } = ctx;
        const records: TransportRecord[] = new Array(messages.length);
        const now = Date.now();
        for (let i = 0; i < messages.length; i++) {
          const message = messages[i];
          if (message === undefined) continue;
          let value: Uint8Array;
          try {
            value = codec.encode(message.value);
          } catch (cause) {
            // The built-in codecs throw EncodeError themselves, naming the problem.
            return Promise.reject(cause instanceof EncodeError ? cause : new EncodeError(codec.name, cause));
          }
          records[i] = {
            // null is accepted as "no key" (send() checks the rest); adapters only see undefined.
            key: message.key ?? undefined,
            value,
            headers: message.headers ?? NO_HEADERS,
            timestamp: message.timestamp ?? now,
          };
        }
        ctx.records = records;
        return next(ctx);
      },
    },
    consume: {
      step: 'decode',
      handle(ctx, next) {
        try {
          ctx.message.value = codec.decode(ctx.message.payload);
        } catch (cause) {
          return Promise.reject(cause instanceof DecodeError ? cause : new DecodeError(codec.name, cause));
        }
        return next(ctx);
      },
    },
  };
}
