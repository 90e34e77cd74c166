/**
 * Consuming: one channel and one consumer per subscription on the group's queue, manual acks.
 *
 * - Acks are tied to the channel a message came on: once that channel is gone the delivery is
 *   `stale`, and its ack or nack is dropped, never sent on another channel (a tag from an old
 *   channel would close the new one with 406, amqplib#271). The broker has requeued it already.
 * - A failed message is held here for its redelivery delay, then rejected with requeue
 *   (`basic.reject`, which RabbitMQ counts in `x-delivery-count`). Later messages of its key that
 *   reach this consumer meanwhile are held with it, and the whole group is rejected together, in
 *   delivery-tag order, in one go: a quorum queue with `x-delivery-limit` puts returned messages
 *   back at the front in the order they were returned (measured on 3.10; rejects spread over
 *   several ticks let later messages overtake). Until they are back, later messages of the key
 *   wait here too (up to {@link RETURN_FENCE_MS}).
 * - A message handed back on close (a nack without delay) stays unacked: closing the channel
 *   returns every unacked message in delivery order, in one step.
 * - Flow: the channel's prefetch is twice the core's, so that messages held for a delay do not
 *   stall other keys; while the core is paused, arriving messages wait here.
 * - Recovery: when the channel or connection drops, the subscription attaches a new channel and
 *   consumer (after the connection's reconnect and topology restore); unacked messages come back
 *   from the broker, and are handled again (duplicates).
 */
import { createHash } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Delivery, SubscribeOptions, Subscription } from '../../src/adapter.js';
import type { Headers } from '../../src/message.js';
import { backoffDelay } from '../shared/backoff.js';
import type { RabbitMqQueueType } from './config.js';
import type { RabbitConnection } from './connection.js';
import { toBrokerError } from './errors.js';
import { KEY_HEADER, TIMESTAMP_HEADER } from './publisher.js';
import type { Topology } from './topology.js';

/** Header RabbitMQ quorum queues set on redeliveries: how often the message was returned. */
const DELIVERY_COUNT_HEADER = 'x-delivery-count';
/** Longest wait for returned messages to come back before later messages of their key go ahead. */
export const RETURN_FENCE_MS = 2_000;
/** Message ids whose attempts are remembered; the oldest are forgotten past this. */
const REMEMBERED = 10_000;

/** What a delivery's `raw` is on RabbitMQ: amqplib's message (fields, properties, content). */
export type RabbitRawMessage = ConsumeMessage;

/** The parts of an AMQP message polybus reads, decoded. */
export interface DecodedMessage {
  id: string;
  key: string | undefined;
  headers: Headers;
  timestamp: number;
  /** Returns the broker counted (`x-delivery-count`), or 1 for a redelivered message on a queue that does not count. */
  returns: number;
}

/**
 * Reads id, key, headers, timestamp and the broker's return count from an AMQP message. Header
 * values other publishers set as numbers, booleans, bytes or tables become strings; polybus's own
 * headers and `x-delivery-count` are taken out (the latter becomes `attempt`).
 */
export function decodeMessage(
  message: Pick<ConsumeMessage, 'fields' | 'properties' | 'content'>,
  countsReturns: boolean,
): DecodedMessage {
  const properties = message.properties;
  const raw = properties.headers as Record<string, unknown> | undefined;
  let headers: Headers = EMPTY_HEADERS;
  let key: string | undefined;
  let stamp: number | undefined;
  let returns = 0;
  if (raw !== undefined && raw !== null) {
    headers = {};
    for (const name in raw) {
      const value = raw[name];
      if (name === KEY_HEADER) key = headerText(value);
      else if (name === TIMESTAMP_HEADER) stamp = Number(headerText(value));
      else if (name === DELIVERY_COUNT_HEADER) {
        // Only the broker's own count: a string of that name is a header someone copied.
        if (typeof value === 'number') returns = value;
        else if (value !== undefined && value !== null) headers[name] = headerText(value) ?? '';
      } else if (value !== undefined && value !== null) headers[name] = headerText(value) ?? '';
    }
  }
  if (!countsReturns) returns = message.fields.redelivered ? 1 : 0;
  let timestamp: number;
  if (stamp !== undefined && Number.isFinite(stamp)) timestamp = stamp;
  else if (typeof properties.timestamp === 'number') timestamp = properties.timestamp * 1000;
  else timestamp = Date.now();
  const messageId = properties.messageId as unknown;
  const id = typeof messageId === 'string' && messageId !== '' ? messageId : fallbackId(message);
  return { id, key, headers, timestamp, returns };
}

const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value, (_name, inner: unknown) =>
      inner instanceof Uint8Array || (inner as { type?: unknown })?.type === 'Buffer'
        ? Buffer.from(inner as Uint8Array).toString('utf8')
        : inner,
    );
  } catch {
    return String(value);
  }
}

/**
 * An id for a message another client published without a `message-id`: a hash of what it carries,
 * so that it stays the same across redeliveries.
 */
function fallbackId(message: Pick<ConsumeMessage, 'fields' | 'properties' | 'content'>): string {
  const hash = createHash('sha256');
  hash.update(message.fields.routingKey);
  hash.update('\0');
  hash.update(String(message.properties.timestamp ?? ''));
  hash.update('\0');
  hash.update(headerText(message.properties.headers ?? {}) ?? '');
  hash.update('\0');
  hash.update(message.content);
  return `sha256:${hash.digest('hex').slice(0, 32)}`;
}

/** What is known here about earlier deliveries of a message: handler runs, and returns without a run. */
interface Seen {
  runs: number;
  skips: number;
}

/**
 * Turns the broker's return count into `attempt` (handler calls so far + 1). The broker counts
 * every return, also of messages handed back unstarted behind a failed one of their key; those
 * are subtracted when they were returned by this subscription. Classic queues count nothing: the
 * count carried by nack() is used, or 2 for a message the broker marks redelivered.
 */
export class AttemptTracker {
  readonly #seen = new Map<string, Seen>();
  readonly #countsReturns: boolean;

  constructor(countsReturns: boolean) {
    this.#countsReturns = countsReturns;
  }

  /** A message goes back: after `attempt` handler calls, or unstarted (`attempt` undefined). */
  returned(id: string, attempt: number | undefined): void {
    let seen = this.#seen.get(id);
    if (seen === undefined) {
      if (this.#seen.size >= REMEMBERED) {
        const oldest = this.#seen.keys().next();
        if (!oldest.done) this.#seen.delete(oldest.value);
      }
      seen = { runs: 0, skips: 0 };
      this.#seen.set(id, seen);
    }
    if (attempt === undefined) seen.skips++;
    else if (attempt > seen.runs) seen.runs = attempt;
  }

  /** The attempt of a delivery, given the broker's return count. */
  attempt(id: string, returns: number): number {
    const seen = this.#seen.get(id);
    if (this.#countsReturns) {
      const counted = returns + 1 - (seen?.skips ?? 0);
      return Math.max(1, counted, seen === undefined ? 1 : seen.runs + 1);
    }
    return seen === undefined ? returns + 1 : seen.runs + 1;
  }

  forget(id: string): void {
    this.#seen.delete(id);
  }
}

/** A channel and whether it is still open: deliveries from a closed one are stale. */
class Link {
  readonly channel: Channel;
  open = true;
  constructor(channel: Channel) {
    this.channel = channel;
  }
}

/** One message from RabbitMQ, tied to the channel it came on. */
export class RabbitDelivery implements Delivery {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  readonly attempt: number;
  readonly raw: RabbitRawMessage;
  readonly link: Link;
  readonly #owner: RabbitSubscription;
  settled = false;

  constructor(
    owner: RabbitSubscription,
    link: Link,
    message: ConsumeMessage,
    decoded: DecodedMessage,
    topic: string,
    attempt: number,
  ) {
    this.#owner = owner;
    this.link = link;
    this.raw = message;
    this.id = decoded.id;
    this.topic = topic;
    this.key = decoded.key;
    this.value = message.content;
    this.headers = decoded.headers;
    this.timestamp = decoded.timestamp;
    this.attempt = attempt;
  }

  get stale(): boolean {
    return !this.link.open;
  }

  get deliveryTag(): number {
    return this.raw.fields.deliveryTag;
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.link.open) this.#owner.acked(this);
  }

  nack(delayMs = 0, attempt?: number): void {
    if (this.settled) return;
    this.settled = true;
    if (this.link.open) this.#owner.nacked(this, delayMs, attempt);
  }
}

/** Messages of one key (or one keyless message) waiting out a redelivery delay before they are rejected. */
interface Parked {
  readonly key: string | undefined;
  readonly link: Link;
  readonly deliveries: RabbitDelivery[];
  timer: NodeJS.Timeout | undefined;
}

/** Messages of a key returned to the broker and not back yet; later ones of the key wait behind them. */
interface Fence {
  readonly ids: Set<string>;
  readonly behind: RabbitDelivery[];
  timer: NodeJS.Timeout;
}

/** What a subscription needs from the adapter. */
export interface SubscriptionOptions {
  connection: RabbitConnection;
  topology: Topology;
  queueType: RabbitMqQueueType;
  /** How long subscribe() waits for the broker when it is down. */
  connectTimeoutMs: number;
  subscribe: SubscribeOptions;
  /** Called once the subscription is closed. */
  onClose(subscription: RabbitSubscription): void;
}

/** A consumer on a group's queue that survives channel and connection loss. */
export class RabbitSubscription implements Subscription {
  readonly #options: SubscriptionOptions;
  readonly #subscribe: SubscribeOptions;
  readonly #window: number;
  readonly #attempts: AttemptTracker;
  readonly #countsReturns: boolean;
  #queue = '';
  #link: Link | undefined;
  #attaching: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryAttempt = 0;
  #paused = false;
  #closed = false;
  /** Messages that arrived while the core was paused, oldest first. */
  #buffer: RabbitDelivery[] = [];
  readonly #parked = new Map<string, Parked>();
  readonly #parkedKeyless = new Set<Parked>();
  readonly #fences = new Map<string, Fence>();
  #unhook: (() => void) | undefined;

  constructor(options: SubscriptionOptions) {
    this.#options = options;
    this.#subscribe = options.subscribe;
    this.#window = Math.min(65_535, Math.max(1, options.subscribe.prefetch * 2));
    this.#countsReturns = options.queueType === 'quorum';
    this.#attempts = new AttemptTracker(this.#countsReturns);
  }

  /** Declares the queue and starts consuming; resolves once the broker confirmed the consumer. */
  async start(): Promise<void> {
    const { connection, topology, connectTimeoutMs } = this.#options;
    const model = await connection.waitUp(connectTimeoutMs);
    this.#queue = await topology.declareQueue(model, this.#subscribe.topic, this.#subscribe.group);
    this.#unhook = connection.onReconnect((next) => this.#reattach(next));
    try {
      await this.#attach(model);
    } catch (error) {
      this.#unhook();
      throw toBrokerError(`subscribe to queue "${this.#queue}"`, error);
    }
  }

  pause(): void {
    this.#paused = true;
  }

  /** Reports a failure of the connection this subscription uses to its consumer. */
  reportError(error: Error): void {
    if (!this.#closed) this.#subscribe.onError(error);
  }

  resume(): void {
    if (this.#closed) return;
    this.#paused = false;
    const buffer = this.#buffer;
    while (!this.#paused && buffer.length > 0) {
      const delivery = buffer.shift() as RabbitDelivery;
      if (delivery.link.open) this.#subscribe.onDelivery(delivery);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unhook?.();
    clearTimeout(this.#retryTimer);
    for (const parked of [...this.#parked.values(), ...this.#parkedKeyless]) clearTimeout(parked.timer);
    this.#parked.clear();
    this.#parkedKeyless.clear();
    for (const fence of this.#fences.values()) clearTimeout(fence.timer);
    this.#fences.clear();
    this.#buffer = [];
    await this.#attaching?.catch(() => {});
    const link = this.#link;
    this.#link = undefined;
    // Closing the channel returns every unacked message (held, waiting, unstarted) to the queue
    // in delivery order, ahead of later messages: one step, no reordering.
    if (link?.open) {
      link.open = false;
      await link.channel.close().catch(() => {});
    }
    this.#options.onClose(this);
  }

  /** Called by a delivery: the handler succeeded. */
  acked(delivery: RabbitDelivery): void {
    this.#attempts.forget(delivery.id);
    try {
      delivery.link.channel.ack(delivery.raw);
    } catch {
      // The channel is closing: the broker returns the message, and it is handled again.
    }
  }

  /** Called by a delivery: hand it back, now or after `delayMs`. */
  nacked(delivery: RabbitDelivery, delayMs: number, attempt: number | undefined): void {
    this.#attempts.returned(delivery.id, attempt);
    if (delayMs <= 0) {
      // A hand-back on close (the core nacks with no delay only then): left unacked, so that
      // closing the channel returns it with everything else, in delivery order, in one step.
      // Rejected now, it would come straight back to this consumer (still active, paused), and
      // closing would then return it behind later messages of its key: on a single-active queue
      // the standby took over with a key out of order (seen in CI: 27 before 21..26).
      return;
    }
    const key = delivery.key;
    let parked = key === undefined ? undefined : this.#parked.get(key);
    if (parked === undefined || parked.link !== delivery.link) {
      parked = { key, link: delivery.link, deliveries: [], timer: undefined };
      if (key === undefined) this.#parkedKeyless.add(parked);
      else {
        this.#parked.set(key, parked);
        // Later messages of the key that are waiting here for the core go back with it.
        if (this.#buffer.length > 0) {
          const keep: RabbitDelivery[] = [];
          for (const waiting of this.#buffer) (waiting.key === key ? parked.deliveries : keep).push(waiting);
          this.#buffer = keep;
        }
      }
      const group = parked;
      group.timer = setTimeout(() => this.#release(group), delayMs);
    }
    parked.deliveries.push(delivery);
  }

  /** Rejects a parked group with requeue, in delivery order, and fences its key until they are back. */
  #release(parked: Parked): void {
    const key = parked.key;
    if (key === undefined) this.#parkedKeyless.delete(parked);
    else if (this.#parked.get(key) === parked) this.#parked.delete(key);
    else return;
    clearTimeout(parked.timer);
    // The channel died meanwhile: the broker has returned them already.
    if (!parked.link.open || this.#closed) return;
    const deliveries = parked.deliveries.sort((a, b) => a.deliveryTag - b.deliveryTag);
    const channel = parked.link.channel;
    try {
      for (const delivery of deliveries) channel.reject(delivery.raw, true);
    } catch {
      // The channel is closing: the broker returns them.
      return;
    }
    if (key === undefined) {
      for (const delivery of deliveries) {
        if (!delivery.settled) {
          delivery.settled = true;
          this.#attempts.returned(delivery.id, undefined);
        }
      }
      return;
    }
    let fence = this.#fences.get(key);
    if (fence === undefined) {
      fence = { ids: new Set(), behind: [], timer: setTimeout(() => this.#lift(key), RETURN_FENCE_MS) };
      this.#fences.set(key, fence);
    } else {
      fence.timer.refresh();
    }
    for (const delivery of deliveries) {
      if (!delivery.settled) {
        // Held here, never handed to the core: a return without a handler run.
        delivery.settled = true;
        this.#attempts.returned(delivery.id, undefined);
      }
      fence.ids.add(delivery.id);
    }
  }

  /** Returned messages of a key are back (or took too long): the ones that waited behind them go on. */
  #lift(key: string): void {
    const fence = this.#fences.get(key);
    if (fence === undefined) return;
    this.#fences.delete(key);
    clearTimeout(fence.timer);
    for (const delivery of fence.behind) if (delivery.link.open) this.#route(delivery);
  }

  #onMessage(link: Link, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted, or a quorum queue's leader moved away).
      if (!this.#closed && link.open) {
        this.#subscribe.onError(
          toBrokerError(
            `consume from queue "${this.#queue}"`,
            new Error('RabbitMQ cancelled the consumer'),
            'The queue was deleted or moved; polybus declares it again (unless autoDeclare=false) and resumes.',
          ),
        );
        link.open = false;
        void link.channel.close().catch(() => {});
        this.#detached(link, true);
      }
      return;
    }
    // Closing: the message stays unacked and goes back when the channel closes.
    if (this.#closed || !link.open) return;
    const decoded = decodeMessage(message, this.#countsReturns);
    const attempt = this.#attempts.attempt(decoded.id, decoded.returns);
    this.#route(new RabbitDelivery(this, link, message, decoded, this.#subscribe.topic, attempt));
  }

  /** Hands a delivery to the core, unless its key is held here (waiting out a delay, or fenced). */
  #route(delivery: RabbitDelivery): void {
    const key = delivery.key;
    if (key !== undefined) {
      const fence = this.#fences.get(key);
      let lift = false;
      if (fence !== undefined) {
        if (!fence.ids.delete(delivery.id)) {
          fence.behind.push(delivery);
          return;
        }
        lift = fence.ids.size === 0;
      }
      const parked = this.#parked.get(key);
      if (parked !== undefined && parked.link === delivery.link) parked.deliveries.push(delivery);
      else this.#handOver(delivery);
      if (lift) this.#lift(key);
      return;
    }
    this.#handOver(delivery);
  }

  #handOver(delivery: RabbitDelivery): void {
    if (this.#paused || this.#buffer.length > 0) this.#buffer.push(delivery);
    else this.#subscribe.onDelivery(delivery);
  }

  async #attach(model: ChannelModel): Promise<void> {
    const attaching = this.#open(model);
    this.#attaching = attaching;
    try {
      await attaching;
    } finally {
      if (this.#attaching === attaching) this.#attaching = undefined;
    }
  }

  async #open(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    const link = new Link(channel);
    channel.on('error', (error: Error) => {
      if (!this.#closed) this.#subscribe.onError(toBrokerError(`consume from queue "${this.#queue}"`, error));
    });
    channel.on('close', () => {
      if (!link.open) return;
      link.open = false;
      this.#detached(link, false);
    });
    try {
      await channel.prefetch(this.#window);
      if (this.#closed) throw new Error('closed');
      await channel.consume(this.#queue, (message) => this.#onMessage(link, message), { noAck: false });
    } catch (error) {
      link.open = false;
      await channel.close().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      link.open = false;
      await channel.close().catch(() => {});
      return;
    }
    this.#link = link;
    this.#retryAttempt = 0;
  }

  /** The channel is gone: forget what it held (the broker returns it) and attach again. */
  #detached(link: Link, redeclare: boolean): void {
    for (const [key, parked] of this.#parked) {
      if (parked.link !== link) continue;
      clearTimeout(parked.timer);
      this.#parked.delete(key);
    }
    for (const parked of this.#parkedKeyless) {
      if (parked.link !== link) continue;
      clearTimeout(parked.timer);
      this.#parkedKeyless.delete(parked);
    }
    for (const fence of this.#fences.values()) clearTimeout(fence.timer);
    this.#fences.clear();
    this.#buffer = this.#buffer.filter((delivery) => delivery.link.open);
    if (this.#link === link) this.#link = undefined;
    if (this.#closed) return;
    // The connection is down: its reconnect hook attaches again. Still up: a channel-level error.
    const model = this.#options.connection.current;
    if (model !== undefined) this.#scheduleRetry(redeclare);
  }

  #scheduleRetry(redeclare: boolean): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    this.#retryAttempt++;
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined;
        const model = this.#options.connection.current;
        if (model === undefined || this.#closed || this.#link !== undefined) return;
        void this.#reattach(model, redeclare);
      },
      backoffDelay(this.#retryAttempt, { initialMs: 100, maxMs: 5_000 }),
    );
  }

  async #reattach(model: ChannelModel, redeclare = false): Promise<void> {
    if (this.#closed || this.#link?.open) return;
    try {
      if (redeclare) {
        await this.#options.topology.declareQueue(model, this.#subscribe.topic, this.#subscribe.group);
      }
      await this.#attach(model);
    } catch (error) {
      if (this.#closed) return;
      this.#subscribe.onError(toBrokerError(`resume consuming from queue "${this.#queue}"`, error));
      if (this.#options.connection.current === model) this.#scheduleRetry(redeclare);
    }
  }
}
