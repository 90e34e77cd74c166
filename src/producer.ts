import type { Adapter, TransportRecord } from './adapter.js';
import type { Codec } from './codecs/codec.js';
import { json } from './codecs/json.js';
import { ClosedError, InvalidConfigError, MessageTooLargeError } from './errors.js';
import type { OutgoingMessage, Receipt } from './message.js';
import { codecMiddleware } from './middleware/serialize.js';
import { composePublish, type MiddlewareInput, type Next, type PublishContext, toMiddleware } from './pipeline.js';

/** Options of {@link Broker.producer}. */
export interface ProducerOptions<T> {
  /** How values become bytes (default json()). */
  codec?: Codec<T>;
  /** Publish-side middleware, e.g. tracing(). Order is fixed by each middleware's step. */
  use?: MiddlewareInput[];
}

/** Sends messages to topics. */
export interface Producer<T> {
  /**
   * Sends one message, or a batch in order. Resolves once the broker has accepted every message,
   * with one receipt each (same shape as the input).
   */
  send(topic: string, message: OutgoingMessage<T>): Promise<Receipt>;
  send(topic: string, messages: readonly OutgoingMessage<T>[]): Promise<Receipt[]>;
  /** Waits for sends in progress, then refuses new ones. */
  close(): Promise<void>;
}

export class ProducerImpl<T> implements Producer<T> {
  readonly #adapter: Adapter;
  readonly #chain: Next<PublishContext>;
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;
  readonly #onClose: (producer: ProducerImpl<T>) => void;

  constructor(adapter: Adapter, options: ProducerOptions<T>, onClose: (producer: ProducerImpl<T>) => void) {
    this.#adapter = adapter;
    this.#onClose = onClose;
    const codec = (options.codec ?? json()) as Codec<unknown>;
    const middleware = [codecMiddleware(codec), ...(options.use ?? []).map(toMiddleware)];
    this.#chain = composePublish(middleware, (ctx) => this.#transport(ctx));
  }

  send(topic: string, message: OutgoingMessage<T>): Promise<Receipt>;
  send(topic: string, messages: readonly OutgoingMessage<T>[]): Promise<Receipt[]>;
  send(topic: string, input: OutgoingMessage<T> | readonly OutgoingMessage<T>[]): Promise<Receipt | Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('producer', 'send', this.#adapter.broker));
    if (typeof topic !== 'string' || topic.length === 0) {
      return Promise.reject(
        new InvalidConfigError('the topic name is empty', {
          operation: 'send',
          hint: "Call send('orders', { value }).",
        }),
      );
    }
    const single = !Array.isArray(input);
    const messages = single ? [input as OutgoingMessage<T>] : (input as readonly OutgoingMessage<T>[]);
    const ctx: PublishContext = { broker: this.#adapter.broker, topic, messages, records: [], receipts: [] };
    const sent = this.#chain(ctx).then(() => (single ? (ctx.receipts[0] as Receipt) : ctx.receipts));
    this.#pending.add(sent);
    const forget = (): void => {
      this.#pending.delete(sent);
    };
    sent.then(forget, forget);
    return sent;
  }

  async #transport(ctx: PublishContext): Promise<void> {
    const { maxMessageBytes, maxBatch } = this.#adapter.capabilities;
    const records = ctx.records;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TransportRecord;
      if (recordSize(record) <= maxMessageBytes) continue;
      const size = exactRecordSize(record);
      if (size > maxMessageBytes) throw new MessageTooLargeError(this.#adapter.broker, size, maxMessageBytes);
    }
    if (records.length <= maxBatch) {
      ctx.receipts = await this.#adapter.publish(ctx.topic, records);
      return;
    }
    const receipts: Receipt[] = [];
    for (let start = 0; start < records.length; start += maxBatch) {
      receipts.push(...(await this.#adapter.publish(ctx.topic, records.slice(start, start + maxBatch))));
    }
    ctx.receipts = receipts;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    this.#onClose(this);
  }
}

/** Bytes a record takes on the wire, approximately: payload, key and headers. */
function recordSize(record: TransportRecord): number {
  // UTF-16 length × 3 bounds the UTF-8 length; count exactly only when the bound is near the limit.
  let upper = record.value.byteLength + (record.key === undefined ? 0 : record.key.length * 3);
  const headers = record.headers;
  for (const name in headers) upper += (name.length + (headers[name]?.length ?? 0)) * 3;
  return upper;
}

function exactRecordSize(record: TransportRecord): number {
  let size = record.value.byteLength + (record.key === undefined ? 0 : Buffer.byteLength(record.key));
  const headers = record.headers;
  for (const name in headers) size += Buffer.byteLength(name) + Buffer.byteLength(headers[name] ?? '');
  return size;
}
