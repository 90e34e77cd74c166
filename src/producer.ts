import type { Adapter, TransportRecord } from './adapter.js';
import { type Codec, describeValue } from './codecs/codec.js';
import { json } from './codecs/json.js';
import { ClosedError, InvalidConfigError, MessageTooLargeError } from './errors.js';
import type { OutgoingMessage, Receipt } from './message.js';
import { codecMiddleware } from './middleware/serialize.js';
import { composePublish, type MiddlewareInput, type Next, type PublishContext, toMiddleware } from './pipeline.js';

/** Options of {@link Broker.producer}; checked when the producer is made (InvalidConfigError). */
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
   *
   * Never throws: a malformed call (topic not a non-empty string, a message that is not an object,
   * a key that is not a string, a header value that is not a string, an empty header name, headers
   * that are not a plain object, a timestamp that is not a non-negative integer) rejects with an
   * InvalidConfigError naming the field, e.g. `messages[2].headers.retries must be a string, got
   * number`, and nothing of the batch is sent. `null` key, headers or timestamp mean "none".
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
    checkOptions(options);
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
        new InvalidConfigError(
          typeof topic === 'string'
            ? 'the topic name is empty'
            : `the topic must be a string, got ${describeValue(topic)}`,
          { operation: 'send', hint: "Call send('orders', { value })." },
        ),
      );
    }
    const single = !Array.isArray(input);
    const messages = single ? [input as OutgoingMessage<T>] : (input as readonly OutgoingMessage<T>[]);
    const invalid = invalidMessage(messages, single);
    if (invalid !== undefined) return Promise.reject(invalid);
    const ctx: PublishContext = { broker: this.#adapter.broker, topic, messages, records: [], receipts: [] };
    let chained: Promise<void>;
    try {
      chained = this.#chain(ctx);
    } catch (error) {
      // A custom publish middleware that throws instead of rejecting.
      chained = Promise.reject(error);
    }
    const sent = chained.then(() => (single ? (ctx.receipts[0] as Receipt) : ctx.receipts));
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

const MESSAGE_SHAPE =
  "Send { value, key?: string, headers?: { [name]: string }, timestamp?: number }, e.g. send('orders', { key: 'o-1', value: order, headers: { retries: '3' } })";

/**
 * The first malformed message of a send, or undefined. One pass, no allocation unless a message
 * is bad: this runs for every message sent.
 */
function invalidMessage(messages: readonly unknown[], single: boolean): InvalidConfigError | undefined {
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return badMessage(single, i, '', `must be a message object, got ${describeValue(message)}`, MESSAGE_SHAPE);
    }
    const { key, headers, timestamp } = message as OutgoingMessage<unknown>;
    if (!('value' in message)) {
      return badMessage(single, i, '', 'has no value property', `${MESSAGE_SHAPE}: the payload goes in value.`);
    }
    if (key !== undefined && key !== null && typeof key !== 'string') {
      return badMessage(
        single,
        i,
        '.key',
        `must be a string, got ${describeValue(key)}`,
        'Keys are strings on every broker: convert it, e.g. key: String(order.id).',
      );
    }
    if (
      timestamp !== undefined &&
      timestamp !== null &&
      !(typeof timestamp === 'number' && timestamp >= 0 && Number.isSafeInteger(timestamp))
    ) {
      return badMessage(
        single,
        i,
        '.timestamp',
        `must be a non-negative integer (milliseconds since the epoch), got ${typeof timestamp === 'number' ? timestamp : describeValue(timestamp)}`,
        'Pass e.g. timestamp: Date.now() or date.getTime(), or leave it out for the send time.',
      );
    }
    if (headers !== undefined && headers !== null) {
      // The constructor test is the cheap common case; getPrototypeOf (slower) settles the rest.
      if (typeof headers !== 'object' || (headers.constructor !== Object && !hasPlainPrototype(headers))) {
        return badMessage(
          single,
          i,
          '.headers',
          `must be a plain object of strings, got ${describeValue(headers)}`,
          "Pass headers: { name: 'value' } (for a Map: Object.fromEntries(map)).",
        );
      }
      for (const name in headers) {
        if (name === '') {
          return badMessage(
            single,
            i,
            '.headers',
            'has an empty header name',
            "Name every header: headers: { name: 'value' }.",
          );
        }
        const value: unknown = headers[name];
        if (typeof value !== 'string') {
          return badMessage(
            single,
            i,
            headerPath(name),
            `must be a string, got ${describeValue(value)}`,
            `Header values are strings on every broker: convert it, e.g. headers: { ${JSON.stringify(name)}: String(value) }.`,
          );
        }
      }
    }
  }
  return undefined;
}

function hasPlainPrototype(object: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(object);
  return prototype === Object.prototype || prototype === null;
}

function badMessage(single: boolean, index: number, field: string, problem: string, hint: string): InvalidConfigError {
  const where = single ? `message${field}` : `messages[${index}]${field}`;
  return new InvalidConfigError(`${where} ${problem}`, { operation: 'send', hint });
}

function headerPath(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.headers.${name}` : `.headers[${JSON.stringify(name)}]`;
}

function checkOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidConfigError(`the producer options must be an object, got ${describeValue(options)}`, {
      operation: 'create producer',
      hint: 'Call bus.producer() or bus.producer({ codec: json(), use: [tracing()] }).',
    });
  }
  const unknown = Object.keys(options).find((name) => name !== 'codec' && name !== 'use');
  if (unknown !== undefined) {
    throw new InvalidConfigError(`unknown producer option "${unknown}" (a producer takes codec and use)`, {
      operation: 'create producer',
      hint: 'Call bus.producer() or bus.producer({ codec: json(), use: [tracing()] }).',
    });
  }
  const { codec, use } = options as { codec?: unknown; use?: unknown };
  // null means "the default", as `??` below has always treated it.
  if (
    codec !== undefined &&
    codec !== null &&
    (typeof codec !== 'object' ||
      typeof (codec as Codec<unknown>).encode !== 'function' ||
      typeof (codec as Codec<unknown>).name !== 'string')
  ) {
    throw new InvalidConfigError(
      `codec must be a codec object, got ${describeValue(codec)}${typeof codec === 'string' ? ` ${JSON.stringify(codec)}` : ''}`,
      {
        operation: 'create producer',
        hint: "Call the codec's factory: codec: json() (or string(), bytes(), avro(schema), protobuf(type)), or pass a { name, encode, decode } object.",
      },
    );
  }
  if (use !== undefined && use !== null && !Array.isArray(use)) {
    throw new InvalidConfigError(`use must be an array of middleware, got ${describeValue(use)}`, {
      operation: 'create producer',
      hint: 'Wrap it in a list: use: [tracing()], even for one middleware.',
    });
  }
}
