import type { TransportRecord } from '../adapter.js';
import { ClosedError, errorText, InvalidConfigError } from '../errors.js';
import type { ConsumeContext, Middleware, Next } from '../pipeline.js';

/** Header names set on dead-lettered messages (the original headers are kept too). */
export const DEAD_LETTER_HEADERS = {
  error: 'polybus.dlq.error',
  errorType: 'polybus.dlq.error-type',
  attempts: 'polybus.dlq.attempts',
  topic: 'polybus.dlq.topic',
  group: 'polybus.dlq.group',
  messageId: 'polybus.dlq.message-id',
  firstFailureAt: 'polybus.dlq.first-failure-at',
  failedAt: 'polybus.dlq.failed-at',
} as const;

/** Options of {@link deadLetter}. */
export interface DeadLetterOptions {
  /** Longest error text kept in the header (default 1000 characters). */
  maxErrorLength?: number;
}

/**
 * Sends a message that failed for good (retries exhausted, undecodable, invalid) to `topic`
 * with its original bytes, key and headers, plus headers for the error, the attempt count, the
 * original topic, group and id, and the first-failure time; then acks the original. If the
 * dead-letter publish fails, the original is nacked and comes back: nothing is dropped.
 */
export function deadLetter(topic: string, options: DeadLetterOptions = {}): Middleware {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidConfigError('deadLetter needs a topic name', {
      operation: 'configure deadLetter',
      hint: "Example: deadLetter('orders.dlq').",
    });
  }
  const maxErrorLength = options.maxErrorLength ?? 1000;

  async function send(ctx: ConsumeContext, error: unknown): Promise<void> {
    // A consumer closing mid-retry is not a failure of the message: let it be redelivered.
    if (error instanceof ClosedError) throw error;
    const { message } = ctx;
    const failedAt = Date.now();
    const text = errorText(error);
    const record: TransportRecord = {
      key: message.key,
      value: message.payload,
      timestamp: message.timestamp,
      headers: {
        ...message.headers,
        [DEAD_LETTER_HEADERS.error]: text.length > maxErrorLength ? `${text.slice(0, maxErrorLength - 1)}…` : text,
        [DEAD_LETTER_HEADERS.errorType]: error instanceof Error ? error.name : typeof error,
        [DEAD_LETTER_HEADERS.attempts]: String(message.attempt),
        [DEAD_LETTER_HEADERS.topic]: message.topic,
        [DEAD_LETTER_HEADERS.group]: ctx.consumer.group,
        [DEAD_LETTER_HEADERS.messageId]: message.id,
        [DEAD_LETTER_HEADERS.firstFailureAt]: new Date(ctx.firstFailureAt ?? failedAt).toISOString(),
        [DEAD_LETTER_HEADERS.failedAt]: new Date(failedAt).toISOString(),
      },
    };
    await ctx.publish(topic, [record]);
  }

  // Not an async function: the success path is the hot one, and a callback is cheaper than an async frame.
  function handle(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    let result: Promise<void>;
    try {
      result = next(ctx);
    } catch (error) {
      return send(ctx, error);
    }
    return result.then(undefined, (error: unknown) => send(ctx, error));
  }
  return { name: 'deadLetter', consume: { step: 'deadLetter', handle } };
}
