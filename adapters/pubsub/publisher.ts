/**
 * Publishing: records become Pub/Sub messages (key → ordering key, headers → attributes, checked
 * against Pub/Sub's limits before anything is sent), batched by the client, with a bounded wait.
 */
import type { TransportRecord } from '../../src/adapter.js';
import { InvalidConfigError, MessageTooLargeError, TimeoutError } from '../../src/errors.js';
import type { Headers, Receipt } from '../../src/message.js';
import { withDeadline } from '../shared/backoff.js';
import { GRPC, grpcCode, toBrokerError } from './errors.js';
import { checkTopicName, type PubSubTopology, topicNotFound } from './topology.js';

/** Most attributes one Pub/Sub message may carry. */
export const MAX_ATTRIBUTES = 100;
/** Largest attribute name, in UTF-8 bytes. */
export const MAX_ATTRIBUTE_NAME_BYTES = 256;
/** Largest attribute value, in UTF-8 bytes. */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
/** Largest ordering key, in UTF-8 bytes. */
export const MAX_ORDERING_KEY_BYTES = 1024;
/**
 * Pub/Sub refuses a message with neither data nor attributes. polybus sends an empty message
 * with this one attribute instead, and removes it on delivery.
 */
export const EMPTY_MESSAGE_ATTRIBUTE = 'polybus-empty';

/** The message shape `Topic.publishMessage` takes (a subset of the client's `PubsubMessage`). */
export interface OutgoingPubSubMessage {
  data: Uint8Array;
  /** Left out when there are none: the client spends about 1 µs per message on even an empty object. */
  attributes?: Record<string, string>;
  orderingKey?: string;
}

/** What the publisher needs of a client `Topic` (with `messageOrdering: true`). */
export interface PublishTarget {
  publishMessage(message: OutgoingPubSubMessage): Promise<string>;
  resumePublishing(orderingKey: string): void;
  flush(): Promise<void>;
}

/** Options of {@link PubSubPublisher}. */
export interface PublisherOptions {
  /** Returns the client's Topic for a name, made once with the batching and ordering settings. */
  target(topic: string): PublishTarget;
  topology: PubSubTopology;
  maxMessageBytes: number;
  sendTimeoutMs: number;
  /** Notes an error for health(). */
  onError(error: Error): void;
}

/** Extra time past sendTimeoutMs before polybus gives up on the client (whose RPC timeout is sendTimeoutMs). */
const GUARD_MS = 2_000;

/** Sends records to topics; one per adapter, shared by every producer of the connection. */
export class PubSubPublisher {
  readonly #options: PublisherOptions;
  readonly #targets = new Map<string, PublishTarget>();

  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  /**
   * Resolves once Pub/Sub has accepted every record, with the message ids in record order.
   * @throws {InvalidConfigError} for a topic name or header Pub/Sub cannot take (nothing is sent).
   * @throws {MessageTooLargeError} for a record over maxMessageBytes (nothing is sent).
   * @throws {TopicNotFoundError} for a missing topic with autoCreate off.
   * @throws {BrokerError} (retryable per status) or {@link TimeoutError} when Pub/Sub did not accept them in time.
   */
  async publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    let target = this.#targets.get(topic);
    if (target === undefined) {
      checkTopicName(topic, 'send');
      target = this.#options.target(topic);
      this.#targets.set(topic, target);
    }
    const messages = new Array<OutgoingPubSubMessage>(records.length);
    for (let i = 0; i < records.length; i++) {
      messages[i] = toPubSubMessage(records[i] as TransportRecord, i, this.#options.maxMessageBytes);
    }
    const topology = this.#options.topology;
    // Creating the topic counts against the send's deadline: unreachable, the client retries
    // an admin call for 30 s whatever sendTimeoutMs says.
    const deadline = Date.now() + this.#options.sendTimeoutMs + GUARD_MS;
    const ensureTopic = (): Promise<unknown> =>
      withDeadline(topology.ensureTopic(topic, 'send'), deadline, () => this.#timeoutError());
    if (topology.autoCreate) await ensureTopic();
    let ids: string[];
    try {
      ids = await this.#send(target, messages);
    } catch (error) {
      if (!(error instanceof NotFound)) throw error;
      if (!topology.autoCreate) throw topicNotFound(topic, 'send');
      // The topic went away (deleted, or the emulator restarted): create it again and resend
      // what was refused, once. Nothing refused with NOT_FOUND was published.
      topology.forget(topic);
      await ensureTopic();
      const retried = await this.#send(
        target,
        error.failed.map((i) => messages[i] as OutgoingPubSubMessage),
      ).catch((again: unknown) => {
        throw again instanceof NotFound ? toBrokerError('send', again.cause) : again;
      });
      ids = error.ids;
      error.failed.forEach((index, n) => {
        ids[index] = retried[n] as string;
      });
    }
    const receipts = new Array<Receipt>(ids.length);
    for (let i = 0; i < ids.length; i++) receipts[i] = { id: ids[i] as string, topic };
    return receipts;
  }

  #timeoutError(): TimeoutError {
    const error = new TimeoutError(
      'send',
      this.#options.sendTimeoutMs,
      'Pub/Sub did not confirm the messages in time (unreachable?); they may still arrive: retry the send (duplicates are possible), and check health().',
      'pubsub',
    );
    this.#options.onError(error);
    return error;
  }

  /** Publishes messages through the client's batching; rejects with NotFound when the topic is missing. */
  #send(target: PublishTarget, messages: readonly OutgoingPubSubMessage[]): Promise<string[]> {
    const pending = messages.map((message) => target.publishMessage(message));
    const all = Promise.all(pending);
    const timeoutMs = this.#options.sendTimeoutMs;
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.#timeoutError()), timeoutMs + GUARD_MS);
      all.then(
        (ids) => {
          clearTimeout(timer);
          resolve(ids);
        },
        () => {
          // Wait for every message of the call, so that the failed ones are known and their
          // ordering keys resumed; the client's RPC timeout bounds this.
          void Promise.allSettled(pending).then((results) => {
            clearTimeout(timer);
            const failed: number[] = [];
            const ids: string[] = new Array(results.length);
            let firstError: unknown;
            let allNotFound = true;
            results.forEach((result, i) => {
              if (result.status === 'fulfilled') {
                ids[i] = result.value;
                return;
              }
              failed.push(i);
              firstError ??= result.reason;
              if (grpcCode(result.reason) !== GRPC.NOT_FOUND) allNotFound = false;
              const key = messages[i]?.orderingKey;
              // A failed ordered publish pauses its key in the client: resume it, so that one
              // failure does not block the key forever.
              if (key !== undefined) target.resumePublishing(key);
            });
            if (allNotFound) {
              reject(new NotFound(ids, failed, firstError));
              return;
            }
            const error = toBrokerError('send', firstError);
            this.#options.onError(error);
            reject(error);
          });
        },
      );
    });
  }

  /** Sends what the client still batches (bounded by sendTimeoutMs). */
  async flush(): Promise<void> {
    const flushes = [...this.#targets.values()].map((target) => target.flush().catch(() => {}));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(flushes),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.sendTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** Some messages were refused because the topic does not exist. */
class NotFound extends Error {
  readonly ids: string[];
  readonly failed: number[];
  constructor(ids: string[], failed: number[], cause: unknown) {
    super('topic not found', { cause });
    this.ids = ids;
    this.failed = failed;
  }
}

/**
 * One record as a Pub/Sub message, checked against Pub/Sub's limits: at most 100 attributes,
 * names ≤ 256 bytes not starting with `goog`, values ≤ 1024 bytes, ordering key ≤ 1024 bytes,
 * and data + attributes + ordering key ≤ maxMessageBytes.
 * @throws {InvalidConfigError} naming the header (or key) that Pub/Sub cannot carry.
 * @throws {MessageTooLargeError} when the message is over the size limit.
 */
export function toPubSubMessage(
  record: TransportRecord,
  index: number,
  maxMessageBytes: number,
): OutgoingPubSubMessage {
  // The client takes any Uint8Array (a Buffer or not) and only reads it: handed over as it is.
  const data = record.value;
  let size = data.byteLength;
  const headers: Headers = record.headers;
  let count = 0;
  for (const name in headers) {
    const headerValue = headers[name] as string;
    count++;
    if (name.startsWith('goog')) {
      throw badHeader(index, name, 'starts with "goog", which Pub/Sub reserves for itself: rename the header');
    }
    const nameBytes = utf8Length(name);
    if (nameBytes > MAX_ATTRIBUTE_NAME_BYTES) {
      throw badHeader(
        index,
        name,
        `is ${nameBytes} bytes long; Pub/Sub allows attribute names up to ${MAX_ATTRIBUTE_NAME_BYTES} bytes`,
      );
    }
    const valueBytes = utf8Length(headerValue);
    if (valueBytes > MAX_ATTRIBUTE_VALUE_BYTES) {
      throw badHeader(
        index,
        name,
        `has a value of ${valueBytes} bytes; Pub/Sub allows attribute values up to ${MAX_ATTRIBUTE_VALUE_BYTES} bytes (put large data in the payload)`,
      );
    }
    size += nameBytes + valueBytes;
  }
  if (count > MAX_ATTRIBUTES) {
    throw new InvalidConfigError(
      `messages[${index}] has ${count} headers; Pub/Sub carries at most ${MAX_ATTRIBUTES} attributes per message`,
      { broker: 'pubsub', operation: 'send', hint: 'Send fewer headers, or put the extra data in the payload.' },
    );
  }
  const key = record.key;
  if (key !== undefined) {
    const keyBytes = utf8Length(key);
    if (keyBytes > MAX_ORDERING_KEY_BYTES) {
      throw new InvalidConfigError(
        `messages[${index}].key is ${keyBytes} bytes long; Pub/Sub ordering keys are at most ${MAX_ORDERING_KEY_BYTES} bytes`,
        { broker: 'pubsub', operation: 'send', hint: 'Use a shorter key, e.g. an id or a hash of the long one.' },
      );
    }
    size += keyBytes;
  }
  if (size > maxMessageBytes) throw new MessageTooLargeError('pubsub', size, maxMessageBytes);
  // The client only reads the attributes; the record's headers object is handed over as it is.
  if (count === 0) {
    if (data.byteLength === 0) {
      const attributes = { [EMPTY_MESSAGE_ATTRIBUTE]: '1' };
      return key === undefined || key === '' ? { data, attributes } : { data, attributes, orderingKey: key };
    }
    return key === undefined || key === '' ? { data } : { data, orderingKey: key };
  }
  return key === undefined || key === ''
    ? { data, attributes: headers }
    : { data, attributes: headers, orderingKey: key };
}

function badHeader(index: number, name: string, problem: string): InvalidConfigError {
  const shown = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  return new InvalidConfigError(`messages[${index}].headers["${shown}"] ${problem}`, {
    broker: 'pubsub',
    operation: 'send',
    hint: 'Pub/Sub carries headers as attributes: at most 100 per message, names up to 256 bytes not starting with "goog", values up to 1024 bytes.',
  });
}

/** UTF-8 length, without encoding when the string is plainly short enough to be ASCII-sized. */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return text.length;
}
