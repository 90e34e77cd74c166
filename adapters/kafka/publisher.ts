/**
 * Publishing: one idempotent kafkajs producer, one produce request in flight at a time, sends
 * that arrive meanwhile coalesced into the next request, requests split below the broker's size
 * limit, and each record's offset computed from the partition's base offset.
 *
 * Why one request at a time: kafkajs assigns idempotence sequence numbers per request and rolls
 * them back when a request fails; a second request sent meanwhile would reuse them and the broker
 * could take its records for duplicates of the first. Coalescing keeps the throughput that
 * parallel requests would have given.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message, PartitionMetadata, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, ClosedError, MessageTooLargeError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { backoffDelay, withDeadline } from '../shared/backoff.js';
import { kafkaErrorType, toBrokerError } from './errors.js';

/** kafkajs's partitioner function (what `Partitioners.DefaultPartitioner()` returns). */
export type Partitioner = (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;

/** What the publisher needs from the adapter. */
export interface PublisherDeps {
  /** A new, unconnected kafkajs producer (idempotent, with bounded retries). */
  createProducer(): Producer;
  /** Places a message on a partition: kafkajs's Java-compatible murmur2 partitioner. */
  partitioner: Partitioner;
  /** The partitions of a topic (created on first use if allowed). */
  partitions(topic: string, operation: string): Promise<PartitionMetadata[]>;
  /** Forget cached metadata of a topic the broker no longer knows. */
  forget(topic: string): void;
  acks: -1 | 0 | 1;
  compression: 'none' | 'gzip';
  maxMessageBytes: number;
  sendTimeoutMs: number;
  /** Failures, for health(). */
  onError(error: BrokerError): void;
}

/** Bytes a record adds to a record batch besides its key, value and headers (lengths, deltas, attributes). */
const RECORD_OVERHEAD = 24;
/** Bytes each header adds besides its name and value (two varint lengths). */
const HEADER_OVERHEAD = 6;
/** Most records in one produce request. */
const MAX_RECORDS_PER_REQUEST = 10_000;
/** Bytes of keyless records one partition takes before the next takes over (the Java client's batch.size). */
const STICKY_BYTES = 16_384;
/** kafkajs's code for gzip in `CompressionTypes` (0 is none). */
const GZIP = 1;

interface Call {
  readonly receipts: Receipt[];
  remaining: number;
  readonly deadline: number;
  settled: boolean;
  resolve(receipts: Receipt[]): void;
  reject(error: Error): void;
}

/** A slice of one publish call that fits one request. */
interface Part {
  readonly topic: string;
  readonly messages: Message[];
  readonly bytes: number;
  readonly call: Call;
  /** Index of this part's first record in the call's receipts. */
  readonly first: number;
}

let unacknowledged = 0;

/** Sends records to Kafka for one adapter. */
export class KafkaPublisher {
  readonly #deps: PublisherDeps;
  /** Records bytes per request: the broker's limit for one message, which bounds each partition's batch too. */
  readonly #budget: number;
  readonly #queue: Part[] = [];
  #head = 0;
  #sending = false;
  #closed = false;
  #producer: Promise<Producer> | undefined;
  #idle: (() => void) | undefined;
  readonly #sticky = new Map<string, { index: number; partition: number; bytes: number }>();
  readonly #starting = new Set<Promise<Receipt[]>>();

  constructor(deps: PublisherDeps) {
    this.#deps = deps;
    this.#budget = deps.maxMessageBytes + 1_024;
  }

  /** Resolves once Kafka stored every record, in order, with one receipt each. */
  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'kafka'));
    if (records.length === 0) return Promise.resolve([]);
    const sent = this.#publish(topic, records);
    // close() waits for sends that started before it, even while they look up the topic.
    this.#starting.add(sent);
    const forget = (): void => {
      this.#starting.delete(sent);
    };
    sent.then(forget, forget);
    return sent;
  }

  async #publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    const deadline = Date.now() + this.#deps.sendTimeoutMs;
    const sizes = this.#sizes(records);
    // The topic lookup (and creation) counts against the send's deadline: with Kafka down,
    // kafkajs's admin client retries for about a minute.
    const partitions = await withDeadline(this.#deps.partitions(topic, 'send'), deadline, () =>
      this.#timeoutError('look up the topic'),
    );
    const partitioner = this.#deps.partitioner;
    return new Promise<Receipt[]>((resolve, reject) => {
      const call: Call = {
        receipts: new Array<Receipt>(records.length),
        remaining: 0,
        deadline,
        settled: false,
        resolve,
        reject,
      };
      let messages: Message[] = [];
      let bytes = 0;
      let first = 0;
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as TransportRecord;
        const size = sizes[i] as number;
        if (messages.length > 0 && (bytes + size > this.#budget || messages.length >= MAX_RECORDS_PER_REQUEST)) {
          this.#queue.push({ topic, messages, bytes, call, first });
          call.remaining++;
          first = i;
          messages = [];
          bytes = 0;
        }
        const value = record.value;
        const message: Message = {
          key: record.key ?? null,
          value: Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
          headers: record.headers,
          timestamp: String(record.timestamp),
        };
        message.partition =
          record.key === undefined
            ? this.#stickyPartition(topic, partitions, size)
            : partitioner({ topic, partitionMetadata: partitions, message });
        messages.push(message);
        bytes += size;
      }
      this.#queue.push({ topic, messages, bytes, call, first });
      call.remaining++;
      this.#pump();
    });
  }

  /**
   * The partition of a record without a key: the same one for STICKY_BYTES, then the next one
   * that has a leader, like the Java client's sticky partitioner. A small keyless batch thus
   * lands in one partition, in order, in one record batch.
   */
  #stickyPartition(topic: string, partitions: PartitionMetadata[], size: number): number {
    let sticky = this.#sticky.get(topic);
    if (sticky === undefined || sticky.bytes >= STICKY_BYTES || sticky.partition >= partitions.length) {
      const count = partitions.length;
      const from = sticky === undefined ? Math.floor(Math.random() * count) : sticky.index + 1;
      let index = from % count;
      for (let i = 0; i < count; i++) {
        const candidate = partitions[(from + i) % count] as PartitionMetadata;
        if (candidate.leader >= 0) {
          index = (from + i) % count;
          break;
        }
      }
      sticky = { index, partition: (partitions[index] as PartitionMetadata).partitionId, bytes: 0 };
      this.#sticky.set(topic, sticky);
    }
    sticky.bytes += size;
    return sticky.partition;
  }

  /** Estimated encoded size of each record; refuses any over the limit before anything is sent. */
  #sizes(records: readonly TransportRecord[]): number[] {
    const limit = this.#deps.maxMessageBytes;
    const sizes = new Array<number>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TransportRecord;
      let size = record.value.byteLength + (record.key === undefined ? 0 : Buffer.byteLength(record.key));
      let headerCount = 0;
      const headers = record.headers;
      for (const name in headers) {
        size += Buffer.byteLength(name) + Buffer.byteLength(headers[name] ?? '');
        headerCount++;
      }
      if (size > limit) throw new MessageTooLargeError('kafka', size, limit);
      sizes[i] = size + RECORD_OVERHEAD + headerCount * HEADER_OVERHEAD;
    }
    return sizes;
  }

  /** Starts the next request if none is in flight: as many queued parts as fit. */
  #pump(): void {
    if (this.#sending) return;
    const queue = this.#queue;
    const batch: Part[] = [];
    let bytes = 0;
    let count = 0;
    while (this.#head < queue.length) {
      const part = queue[this.#head] as Part;
      if (part.call.settled) {
        this.#head++;
        continue;
      }
      if (
        batch.length > 0 &&
        (bytes + part.bytes > this.#budget || count + part.messages.length > MAX_RECORDS_PER_REQUEST)
      )
        break;
      batch.push(part);
      bytes += part.bytes;
      count += part.messages.length;
      this.#head++;
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    }
    if (batch.length === 0) {
      this.#idle?.();
      return;
    }
    this.#sending = true;
    void this.#send(batch).finally(() => {
      this.#sending = false;
      this.#pump();
    });
  }

  /**
   * Sends one request, again (on a new producer) after a retryable failure while the earliest
   * deadline of its sends allows, and settles its sends. Nothing else is sent meanwhile, so a
   * retried request keeps its place in the order.
   */
  async #send(batch: Part[]): Promise<void> {
    let deadline = Number.POSITIVE_INFINITY;
    for (const part of batch) if (part.call.deadline < deadline) deadline = part.call.deadline;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), 'timeout');
    });
    try {
      for (let attempt = 1; ; attempt++) {
        const request = this.#request(batch, Math.max(0, deadline - Date.now()));
        request.catch(() => {});
        let outcome: RecordMetadata[] | 'timeout';
        try {
          outcome = await Promise.race([request, timedOut]);
        } catch (error) {
          const type = kafkaErrorType(error);
          if (type === 'UNKNOWN_TOPIC_OR_PARTITION') for (const part of batch) this.#deps.forget(part.topic);
          // Unless the broker refused the request outright, whether it stored the records is
          // unknown: never reuse this producer's sequence numbers.
          if (type !== 'MESSAGE_TOO_LARGE' && type !== 'RECORD_LIST_TOO_LARGE' && type !== 'INVALID_RECORD') {
            this.#abandonProducer();
          }
          const failure = toBrokerError('send', error);
          const pause = backoffDelay(attempt, { initialMs: 250, maxMs: 2_000 });
          if (!failure.retryable || this.#closed || Date.now() + pause >= deadline) {
            this.#fail(batch, failure);
            return;
          }
          this.#deps.onError(failure);
          if ((await Promise.race([sleep(pause, 'retry' as const), timedOut])) === 'timeout') outcome = 'timeout';
          else continue;
        }
        if (outcome === 'timeout') {
          // kafkajs may still be retrying: drop that producer (a new one gets a new producer id,
          // so its sequence numbers cannot clash) and tell the callers to retry.
          this.#abandonProducer();
          this.#fail(batch, this.#timeoutError('acknowledge the send'));
          return;
        }
        this.#succeed(batch, outcome);
        return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #timeoutError(what: string): BrokerError {
    return new BrokerError(
      'kafka',
      'send',
      new Error(`Kafka did not ${what} within ${this.#deps.sendTimeoutMs} ms`),
      'The brokers are unreachable or overloaded; polybus keeps reconnecting. Retrying is safe (at-least-once: the message may still be stored); raise sendTimeoutMs to wait longer.',
      true,
    );
  }

  async #request(batch: Part[], timeoutMs: number): Promise<RecordMetadata[]> {
    const producer = await this.#ensureProducer();
    const topicMessages: { topic: string; messages: Message[] }[] = [];
    for (const part of batch) {
      const last = topicMessages.find((entry) => entry.topic === part.topic);
      if (last === undefined) topicMessages.push({ topic: part.topic, messages: part.messages.slice() });
      else for (const message of part.messages) last.messages.push(message);
    }
    const request: ProducerBatch = {
      acks: this.#deps.acks,
      topicMessages,
      timeout: Math.min(30_000, Math.max(1_000, timeoutMs)),
    };
    if (this.#deps.compression === 'gzip') request.compression = GZIP;
    return producer.sendBatch(request);
  }

  #succeed(batch: Part[], metadata: RecordMetadata[]): void {
    // Next offset per topic and partition: each record's offset is its partition's base offset
    // plus its place among that partition's records in this request (kafkajs keeps their order).
    const next = new Map<string, Map<number, number | bigint>>();
    for (const entry of metadata) {
      const base = entry.baseOffset ?? entry.offset;
      if (base === undefined) continue;
      let partitions = next.get(entry.topicName);
      if (partitions === undefined) {
        partitions = new Map();
        next.set(entry.topicName, partitions);
      }
      const number = Number(base);
      partitions.set(entry.partition, Number.isSafeInteger(number) ? number : BigInt(base));
    }
    for (const part of batch) {
      const call = part.call;
      if (call.settled) continue;
      const receipts = call.receipts;
      const messages = part.messages;
      const topic = part.topic;
      const offsets = next.get(topic);
      for (let i = 0; i < messages.length; i++) {
        const partition = (messages[i] as Message).partition as number;
        const offset = offsets?.get(partition);
        if (offset === undefined) {
          if (this.#deps.acks === 0) {
            receipts[part.first + i] = { id: `${partition}-unacknowledged-${++unacknowledged}`, topic, partition };
            continue;
          }
          this.#fail(
            [part],
            new BrokerError(
              'kafka',
              'send',
              new Error(`Kafka's answer has no offset for ${topic} partition ${partition}`),
              'This should not happen; retrying is safe.',
            ),
          );
          break;
        }
        const sequence = String(offset);
        (offsets as Map<number, number | bigint>).set(partition, typeof offset === 'bigint' ? offset + 1n : offset + 1);
        receipts[part.first + i] = { id: `${partition}-${sequence}`, topic, partition, sequence };
      }
      if (call.settled) continue;
      if (--call.remaining === 0) {
        call.settled = true;
        call.resolve(receipts);
      }
    }
  }

  #fail(batch: Part[], error: BrokerError): void {
    let reported = false;
    for (const part of batch) {
      if (part.call.settled) continue;
      part.call.settled = true;
      part.call.reject(error);
      if (!reported) {
        reported = true;
        this.#deps.onError(error);
      }
    }
  }

  #ensureProducer(): Promise<Producer> {
    if (this.#producer !== undefined) return this.#producer;
    const producer = this.#deps.createProducer();
    const connecting = producer.connect().then(
      () => producer,
      (error: unknown) => {
        if (this.#producer === connecting) this.#producer = undefined;
        producer.disconnect().catch(() => {});
        throw toBrokerError('connect producer', error);
      },
    );
    this.#producer = connecting;
    return connecting;
  }

  #abandonProducer(): void {
    const producer = this.#producer;
    this.#producer = undefined;
    producer?.then((p) => p.disconnect()).catch(() => {});
  }

  /** Whether a request is in flight or waiting. */
  get busy(): boolean {
    return this.#sending || this.#head < this.#queue.length;
  }

  /** Sends what is queued (within its deadline), then disconnects. Later publishes are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#starting]);
    if (this.busy) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        this.#pump();
      });
    }
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer !== undefined) {
      await producer.then(
        (p) => p.disconnect(),
        () => {},
      );
    }
  }
}
