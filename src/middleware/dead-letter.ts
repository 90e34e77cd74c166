import type { TransportRecord } from '../adapter.js';
import type { BrokerName } from '../errors.js';
import { ClosedError, DeliveryLimitError, errorText, InvalidConfigError, isRetryable } from '../errors.js';
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
 * dead-letter publish fails, the original is redelivered: nothing is dropped.
 *
 * With the consumer's `maxDeliveries`, a retryable failure is redelivered (after the redelivery
 * backoff) until the message has been handled that many times, and a message delivered again
 * after that (a crash loop) goes here without running the handler.
 */
export function deadLetter(topic: string, options: DeadLetterOptions = {}): Middleware {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new InvalidConfigError('deadLetter needs a topic name', {
      operation: 'configure deadLetter',
      hint: "Example: deadLetter('orders.dlq').",
    });
  }
  const maxErrorLength = options.maxErrorLength ?? 1000;
  if (!Number.isInteger(maxErrorLength) || maxErrorLength < 1) {
    throw new InvalidConfigError('deadLetter option maxErrorLength must be an integer >= 1', {
      operation: 'configure deadLetter',
      hint: "Example: deadLetter('orders.dlq', { maxErrorLength: 1000 }).",
    });
  }

  async function send(ctx: ConsumeContext, error: unknown): Promise<void> {
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
    ctx.error = error;
    await ctx.publish(topic, [record]);
    ctx.report(error, 'dead-lettered');
  }

  function failed(ctx: ConsumeContext, error: unknown): Promise<void> {
    // A consumer closing mid-retry is not a failure of the message: let it be redelivered.
    if (error instanceof ClosedError) return Promise.reject(error);
    const limit = ctx.consumer.maxDeliveries;
    // Below the delivery limit a retryable failure goes back to the broker for another delivery.
    if (ctx.message.attempt < limit && limit !== Number.POSITIVE_INFINITY && isRetryable(error)) {
      return Promise.reject(error);
    }
    return send(ctx, error);
  }

  // Not an async function: the success path is the hot one, and a callback is cheaper than an async frame.
  function handle(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    const limit = ctx.consumer.maxDeliveries;
    if (ctx.message.attempt > limit) {
      return send(ctx, new DeliveryLimitError(ctx.message.attempt - 1, limit, ctx.consumer.broker as BrokerName));
    }
    let result: Promise<void>;
    try {
      result = next(ctx);
    } catch (error) {
      return failed(ctx, error);
    }
    return result.then(undefined, (error: unknown) => failed(ctx, error));
  }
  return { name: 'deadLetter', consume: { step: 'deadLetter', handle } };
}
