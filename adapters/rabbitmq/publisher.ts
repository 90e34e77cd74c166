/**
 * Publishing: one confirm channel per adapter, persistent messages, every send resolved by its
 * publisher confirms.
 *
 * - Backpressure: when `channel.publish` returns false the socket buffer is full; nothing more is
 *   written until the channel emits `drain`.
 * - Recovery: messages written but not confirmed when the channel or connection dies (their fate
 *   is unknown) are published again on the next channel, ahead of messages not yet written, so
 *   order per send is kept; the broker may then hold them twice (at-least-once).
 * - Timeout: a send that is not confirmed within `confirmTimeoutMs` of its start rejects with a
 *   retryable BrokerError, also while the broker is down: no send hangs. Its messages still
 *   waiting to be written are dropped; those already written may or may not be stored.
 *
 * Wire format (see also subscriber.ts): the body is the payload; headers go in the AMQP headers
 * table as long strings; the key in header `polybus.key`, the timestamp in milliseconds in
 * header `polybus.timestamp` (and in seconds in the `timestamp` property, as other clients read
 * it); the message id, a random UUID, in the `message-id` property.
 */
import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, ClosedError, errorText, InvalidConfigError, MessageTooLargeError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { backoffDelay } from '../shared/backoff.js';
import type { RabbitConnection } from './connection.js';
import { toBrokerError } from './errors.js';
import { checkTopic } from './topology.js';

/** Header carrying the message key. */
export const KEY_HEADER = 'polybus.key';
/** Header carrying the send timestamp in milliseconds since the epoch (the `timestamp` property holds seconds). */
export const TIMESTAMP_HEADER = 'polybus.timestamp';

/**
 * Largest encoded headers table amqplib can send: it encodes tables in a 64 KiB scratch buffer
 * and throws synchronously past it (a RangeError, amqplib 2.3.1).
 */
export const MAX_HEADER_TABLE_BYTES = 65_536;
/** Bytes a long-string header adds besides its name and value: name length (1), type (1), value length (4). */
const HEADER_ENTRY_OVERHEAD = 6;

/**
 * The AMQP properties for one record, checked: header names of at most 255 bytes, the headers
 * table within 64 KiB, no header using polybus's reserved names, the body within `maxMessageBytes`.
 * @throws {InvalidConfigError} naming the header at fault; {@link MessageTooLargeError} for the body.
 */
export function publishOptions(record: TransportRecord, messageId: string, maxMessageBytes: number): Options.Publish {
  if (record.value.byteLength > maxMessageBytes) {
    throw new MessageTooLargeError('rabbitmq', record.value.byteLength, maxMessageBytes);
  }
  const headers: Record<string, string> = {};
  let tableBytes = 4;
  let largest = '';
  let largestBytes = 0;
  const source = record.headers;
  for (const name in source) {
    const value = source[name] as string;
    if (name === KEY_HEADER || name === TIMESTAMP_HEADER) {
      throw badHeader(
        name,
        `is reserved: polybus carries the message ${name === KEY_HEADER ? 'key' : 'timestamp'} in it`,
        'Rename the header.',
      );
    }
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes > 255) {
      throw badHeader(
        name,
        `has a name of ${nameBytes} bytes; AMQP header names hold at most 255`,
        'Shorten the header name.',
      );
    }
    const entryBytes = HEADER_ENTRY_OVERHEAD + nameBytes + Buffer.byteLength(value);
    if (entryBytes > largestBytes) {
      largest = name;
      largestBytes = entryBytes;
    }
    tableBytes += entryBytes;
    headers[name] = value;
  }
  const timestamp = record.timestamp;
  const stamp = String(timestamp);
  tableBytes += HEADER_ENTRY_OVERHEAD + TIMESTAMP_HEADER.length + stamp.length;
  headers[TIMESTAMP_HEADER] = stamp;
  if (record.key !== undefined) {
    tableBytes += HEADER_ENTRY_OVERHEAD + KEY_HEADER.length + Buffer.byteLength(record.key);
    headers[KEY_HEADER] = record.key;
  }
  if (tableBytes > MAX_HEADER_TABLE_BYTES) {
    const what =
      record.key !== undefined && Buffer.byteLength(record.key) + HEADER_ENTRY_OVERHEAD > largestBytes
        ? 'the key'
        : `the largest is ${showName(largest)} (${largestBytes} bytes)`;
    throw new InvalidConfigError(
      `the headers and key take ${tableBytes} bytes encoded, over the 65,536 an AMQP headers table may hold with amqplib (${what})`,
      {
        broker: 'rabbitmq',
        operation: 'send',
        hint: 'Move large values from headers into the payload.',
      },
    );
  }
  return {
    persistent: true,
    messageId,
    timestamp: Math.floor(timestamp / 1000),
    headers,
  };
}

function badHeader(name: string, problem: string, hint: string): InvalidConfigError {
  return new InvalidConfigError(`header ${showName(name)} ${problem}`, { broker: 'rabbitmq', operation: 'send', hint });
}

function showName(name: string): string {
  return JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
}

/** One publish call. */
interface Call {
  readonly receipts: Receipt[];
  remaining: number;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(receipts: Receipt[]): void;
  reject(error: Error): void;
}

/** One message of a call, on its way to a confirm. */
interface Entry {
  readonly call: Call;
  readonly topic: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
  /** The channel it was last written to (undefined while waiting). */
  channel: ConfirmChannel | undefined;
}

/** What the publisher needs from the adapter. */
export interface PublisherOptions {
  connection: RabbitConnection;
  exchange: string;
  confirmTimeoutMs: number;
  maxMessageBytes: number;
  /** Failures of the channel, for health and diagnostics. */
  onError(error: BrokerError): void;
}

/** Sends records to RabbitMQ for one adapter over one confirm channel. */
export class RabbitPublisher {
  readonly #options: PublisherOptions;
  /** Messages to write, in order; `#head` is the next one. Lost ones are put back in front. */
  #queue: Entry[] = [];
  #head = 0;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<void> | undefined;
  #waitingForDrain = false;
  #reopenAttempt = 0;
  #reopenTimer: NodeJS.Timeout | undefined;
  #lastChannelError: unknown;
  #closed = false;
  readonly #unhook: () => void;

  constructor(options: PublisherOptions) {
    this.#options = options;
    this.#unhook = options.connection.onReconnect((model) => this.#open(model));
  }

  /** Opens the confirm channel on the first connection. */
  async start(model: ChannelModel): Promise<void> {
    await this.#open(model);
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'rabbitmq'));
    if (records.length === 0) return Promise.resolve([]);
    const entries: Entry[] = new Array(records.length);
    const receipts: Receipt[] = new Array(records.length);
    let resolve!: (receipts: Receipt[]) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Receipt[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const call: Call = { receipts, remaining: records.length, settled: false, timer: undefined, resolve, reject };
    try {
      checkTopic(topic, 'send');
      const maxMessageBytes = this.#options.maxMessageBytes;
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as TransportRecord;
        const id = randomUUID();
        const value = record.value;
        // A Buffer view of the caller's bytes; amqplib copies them into its frames when writing.
        const content = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        entries[i] = { call, topic, content, options: publishOptions(record, id, maxMessageBytes), channel: undefined };
        receipts[i] = { id, topic };
      }
    } catch (error) {
      return Promise.reject(error);
    }
    call.timer = setTimeout(() => this.#timeout(call), this.#options.confirmTimeoutMs);
    for (const entry of entries) this.#queue.push(entry);
    this.#pump();
    return promise;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook();
    clearTimeout(this.#reopenTimer);
    const closed = new ClosedError('connection', 'send', 'rabbitmq');
    for (let i = this.#head; i < this.#queue.length; i++) this.#fail((this.#queue[i] as Entry).call, closed);
    this.#queue = [];
    this.#head = 0;
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close().catch(() => {});
  }

  /** Writes waiting messages while the channel takes them. */
  #pump(): void {
    const channel = this.#channel;
    if (channel === undefined) {
      this.#ensureChannel();
      return;
    }
    if (this.#waitingForDrain) return;
    const exchange = this.#options.exchange;
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const entry = queue[this.#head] as Entry;
      if (entry.call.settled) {
        this.#head++;
        continue;
      }
      let accepted: boolean;
      try {
        entry.channel = channel;
        accepted = channel.publish(exchange, entry.topic, entry.content, entry.options, (error) =>
          this.#confirmed(entry, channel, error),
        );
      } catch (error) {
        entry.channel = undefined;
        if (channel !== this.#channel) break; // closed while writing: it goes out on the next channel
        this.#head++;
        this.#fail(entry.call, toBrokerError('send', error));
        continue;
      }
      this.#head++;
      if (!accepted) {
        this.#waitingForDrain = true;
        channel.once('drain', () => {
          if (this.#channel !== channel) return;
          this.#waitingForDrain = false;
          this.#pump();
        });
        break;
      }
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #confirmed(entry: Entry, channel: ConfirmChannel, error: Error | null): void {
    const call = entry.call;
    if (call.settled) return;
    if (error === null) {
      if (--call.remaining === 0) {
        call.settled = true;
        clearTimeout(call.timer);
        call.resolve(call.receipts);
      }
      return;
    }
    if (error.message === 'message nacked') {
      this.#fail(
        call,
        new BrokerError(
          'rabbitmq',
          'send',
          new Error('RabbitMQ refused the message (basic.nack)'),
          'The queue may be over its length limit or the broker low on resources; retrying later is safe.',
        ),
      );
      return;
    }
    // The channel closed before the confirm came: the message may or may not be stored. Write it
    // again on the next channel, ahead of what was not written yet (amqplib reports them in order).
    if (entry.channel !== channel) return;
    entry.channel = undefined;
    this.#lost.push(entry);
    if (!this.#lostScheduled) {
      this.#lostScheduled = true;
      queueMicrotask(() => this.#requeueLost());
    }
  }

  #lost: Entry[] = [];
  #lostScheduled = false;

  #requeueLost(): void {
    this.#lostScheduled = false;
    const lost = this.#lost;
    this.#lost = [];
    this.#queue = [...lost, ...this.#queue.slice(this.#head)];
    this.#head = 0;
    this.#pump();
  }

  #timeout(call: Call): void {
    if (call.settled) return;
    const ms = this.#options.confirmTimeoutMs;
    const connection = this.#options.connection.status();
    const cause = new Error(
      `not confirmed within confirmTimeoutMs (${ms} ms)${connection.ok ? '' : `; ${connection.detail}`}${
        this.#lastChannelError === undefined ? '' : `; last channel error: ${errorText(this.#lastChannelError)}`
      }`,
    );
    this.#fail(
      call,
      new BrokerError(
        'rabbitmq',
        'send',
        cause,
        'RabbitMQ did not confirm in time (unreachable, restarting or blocked): the messages may or may not be stored; retrying is safe (at-least-once).',
      ),
    );
  }

  #fail(call: Call, error: Error): void {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    call.reject(error);
  }

  /** Opens a channel when the connection is up and none is open (after a channel-level error). */
  #ensureChannel(): void {
    if (this.#closed || this.#opening !== undefined || this.#reopenTimer !== undefined) return;
    const model = this.#options.connection.current;
    // Down: the connection's reconnect hook opens the channel.
    if (model === undefined) return;
    this.#open(model).catch((error: unknown) => {
      this.#options.onError(toBrokerError('open publish channel', error));
      // Try again after a backoff while the connection stays up.
      this.#reopenAttempt++;
      this.#reopenTimer = setTimeout(
        () => {
          this.#reopenTimer = undefined;
          this.#pump();
        },
        backoffDelay(this.#reopenAttempt, { initialMs: 100, maxMs: 5_000 }),
      );
    });
  }

  #open(model: ChannelModel): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const opening = this.#openChannel(model);
    const settled = opening.then(
      () => undefined,
      () => undefined,
    );
    this.#opening = settled;
    void settled.then(() => {
      if (this.#opening === settled) this.#opening = undefined;
    });
    return opening;
  }

  async #openChannel(model: ChannelModel): Promise<void> {
    let channel: ConfirmChannel;
    try {
      channel = await model.createConfirmChannel();
    } catch (error) {
      throw toBrokerError('open publish channel', error);
    }
    if (this.#closed) {
      await channel.close().catch(() => {});
      return;
    }
    channel.on('error', (error: Error) => {
      this.#lastChannelError = error;
      this.#options.onError(toBrokerError('publish channel', error));
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      this.#waitingForDrain = false;
      // Still connected (a channel-level error): open another one for what is waiting.
      if (!this.#closed) queueMicrotask(() => this.#pump());
    });
    const previous = this.#channel;
    this.#channel = channel;
    this.#waitingForDrain = false;
    this.#reopenAttempt = 0;
    // A reconnect while the old channel still looked open: retire it.
    if (previous !== undefined) void previous.close().catch(() => {});
    this.#pump();
  }
}
