/**
 * Consuming: one streaming-pull subscription per consumer group, flow-controlled by the core's
 * prefetch, paused in the adapter, reopened by itself when the stream dies, and closed with its
 * acks flushed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Delivery, SubscribeOptions } from '../../src/adapter.js';
import { BrokerError, errorText } from '../../src/errors.js';
import type { Headers } from '../../src/message.js';
import { backoffDelay } from '../shared/backoff.js';
import { GRPC, grpcCode, toBrokerError } from './errors.js';
import { EMPTY_MESSAGE_ATTRIBUTE } from './publisher.js';
import type { PubSubTopology } from './topology.js';

/** The fields and methods polybus uses of the client's received `Message`. */
export interface ReceivedPubSubMessage {
  readonly id: string;
  readonly attributes: Record<string, string>;
  readonly data: Buffer;
  /** 0 unless the subscription has a dead-letter policy. */
  readonly deliveryAttempt: number;
  readonly orderingKey?: string | undefined;
  readonly publishTime: Date;
  /** When the client received it (ms since the epoch). */
  readonly received: number;
  ack(): void;
  nack(): void;
}

/** A streaming-pull subscription of the client (`PubSub.subscription(name, options)`), as polybus uses it. */
export interface StreamingSubscription {
  on(event: 'message', listener: (message: ReceivedPubSubMessage) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'debug', listener: (debug: { message?: string; error?: unknown }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  removeAllListeners(): unknown;
  readonly isOpen: boolean;
  open(): void;
  close(): Promise<void>;
}

/** What a {@link PubSubSubscription} needs from its adapter. */
export interface SubscriptionDeps {
  topology: PubSubTopology;
  /** Makes the client's subscription object (flow control from prefetch, ack batching, close behaviour). */
  createStream(name: string, prefetch: number): StreamingSubscription;
  /** How long the client keeps extending a lease (its maxExtensionTime), in ms. */
  maxLeaseMs: number;
  /** Longest close() waits for the client to flush acks and nacks, in ms. */
  closeTimeoutMs: number;
}

/** Backoff while a dead stream is reopened. */
const REOPEN_BACKOFF = { initialMs: 250, maxMs: 15_000 };
/** A stream problem this recent, with no message since, makes health() report the subscription down. */
const TROUBLE_WINDOW_MS = 30_000;
/** This many retried stream ends within STREAM_END_WINDOW_MS, with no message between, are reported as an outage. */
const STREAM_ENDS_REPORTED = 6;
const STREAM_END_WINDOW_MS = 15_000;

/** One received message as the consumer core sees it. */
class PubSubDelivery implements Delivery {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  readonly attempt: number;
  readonly raw: ReceivedPubSubMessage;
  /** Handed back by the client (its stream closed): Pub/Sub delivers it again. */
  lost = false;
  #settled = false;
  readonly #owner: PubSubSubscription;

  constructor(owner: PubSubSubscription, topic: string, message: ReceivedPubSubMessage) {
    this.#owner = owner;
    this.raw = message;
    this.id = message.id;
    this.topic = topic;
    this.key = message.orderingKey ? message.orderingKey : undefined;
    const data = message.data;
    this.value = data;
    const attributes = message.attributes;
    this.headers =
      data.byteLength === 0 && attributes[EMPTY_MESSAGE_ATTRIBUTE] === '1' && Object.keys(attributes).length === 1
        ? {}
        : attributes;
    this.timestamp = message.publishTime.getTime();
    this.attempt = Math.max(1, message.deliveryAttempt || 0);
  }

  /**
   * True once the client no longer holds this message's lease: its stream closed (it was nacked)
   * or the lease ran past maxExtensionTime, so Pub/Sub delivers it again, maybe to another member.
   */
  get stale(): boolean {
    return this.lost || Date.now() - this.raw.received >= this.#owner.maxLeaseMs;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.settled(this);
    this.raw.ack();
  }

  /**
   * Hands the message back: Pub/Sub redelivers it at once (a nack). The adapter declares no
   * native delay, so the core keeps failed messages for their backoff and calls this only to
   * hand them back unstarted, or when it closes; `delayMs` is then 0.
   */
  nack(_delayMs?: number, _attempt?: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.settled(this);
    this.raw.nack();
  }
}

/** A live consumer-group subscription: the core's {@link Subscription}, plus health. */
export class PubSubSubscription {
  readonly maxLeaseMs: number;
  readonly #options: SubscribeOptions;
  readonly #deps: SubscriptionDeps;
  /** Handed to the core, not yet settled: marked lost if the client's stream closes under them. */
  readonly #outstanding = new Set<PubSubDelivery>();
  /** Received while paused, handed to the core on resume. */
  #buffered: PubSubDelivery[] = [];
  #stream: StreamingSubscription | undefined;
  #name = '';
  #paused = false;
  #closing = false;
  #closed: Promise<void> | undefined;
  #recovering: Promise<void> | undefined;
  readonly #stopRecovery = new AbortController();
  /** The last stream problem, until a message arrives or the stream is reopened. */
  #trouble: { text: string; at: number } | undefined;
  /** Stream ends the client retried since the last message, and when the first of them was. */
  #streamEnds = 0;
  #streamEndsSince = 0;

  constructor(options: SubscribeOptions, deps: SubscriptionDeps) {
    this.#options = options;
    this.#deps = deps;
    this.maxLeaseMs = deps.maxLeaseMs;
  }

  /** The subscription's name, once {@link start} resolved. */
  get name(): string {
    return this.#name;
  }

  /** Creates (or checks) the subscription and opens the streaming pull. */
  async start(): Promise<void> {
    const ensured = await this.#deps.topology.ensureSubscription(this.#options.topic, this.#options.group);
    this.#name = ensured.name;
    if (ensured.ordered === false) {
      this.#report(
        new BrokerError(
          'pubsub',
          'subscribe',
          new Error(`subscription "${ensured.name}" was created without message ordering`),
          'Messages of one key may arrive out of order: recreate the subscription with --enable-message-ordering (Pub/Sub sets it only at creation).',
          false,
        ),
      );
    }
    const stream = this.#deps.createStream(ensured.name, this.#options.prefetch);
    this.#stream = stream;
    stream.on('error', (error) => this.#onStreamError(error));
    stream.on('debug', (debug) => this.#onDebug(debug));
    stream.on('close', () => this.#onStreamClosed());
    // Last: the client opens the streaming pull when the first 'message' listener is added.
    stream.on('message', (message) => this.#receive(message));
  }

  #receive(message: ReceivedPubSubMessage): void {
    if (this.#closing) {
      message.nack();
      return;
    }
    if (this.#trouble !== undefined || this.#streamEnds !== 0) {
      this.#trouble = undefined;
      this.#streamEnds = 0;
    }
    const delivery = new PubSubDelivery(this, this.#options.topic, message);
    if (this.#paused) {
      this.#buffered.push(delivery);
      return;
    }
    this.#outstanding.add(delivery);
    this.#options.onDelivery(delivery);
  }

  /** Called by a delivery when the core acks or nacks it. */
  settled(delivery: PubSubDelivery): void {
    this.#outstanding.delete(delivery);
  }

  /** Stops handing messages to the core at once; those the client still delivers wait here (leased). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    while (!this.#paused && !this.#closing && this.#buffered.length > 0) {
      const buffered = this.#buffered;
      this.#buffered = [];
      let i = 0;
      for (; i < buffered.length && !this.#paused; i++) {
        const delivery = buffered[i] as PubSubDelivery;
        if (delivery.stale) {
          // Its lease is gone: Pub/Sub delivers it again; settle the client's copy.
          delivery.nack();
          continue;
        }
        this.#outstanding.add(delivery);
        this.#options.onDelivery(delivery);
      }
      // Paused again by the core (prefetch reached) part-way: keep the rest, in order.
      if (i < buffered.length) this.#buffered = buffered.slice(i).concat(this.#buffered);
    }
  }

  #onStreamError(error: Error): void {
    if (this.#closing) return;
    const code = grpcCode(error);
    this.#trouble = { text: errorText(error), at: Date.now() };
    const operation = `receive from subscription "${this.#name}"`;
    this.#report(
      code === GRPC.NOT_FOUND
        ? new BrokerError(
            'pubsub',
            operation,
            error,
            this.#deps.topology.autoCreate
              ? 'The subscription is gone (deleted, or the emulator restarted): polybus creates it again and reopens the stream.'
              : 'The subscription is gone: create it again (autoCreate is off); polybus keeps trying to reopen the stream.',
            true,
          )
        : toBrokerError(operation, error),
    );
  }

  #onDebug(debug: { message?: string; error?: unknown }): void {
    if (this.#closing) return;
    const error = debug.error;
    if (!(error instanceof Error)) return;
    if (Array.isArray((error as { ackIds?: unknown }).ackIds)) {
      // A failed ack or nack batch: those messages come back (duplicates), say so.
      this.#report(toBrokerError(`acknowledge on subscription "${this.#name}"`, error));
      return;
    }
    // A stream ended and the client reopens it by itself. Pub/Sub also ends healthy streams now
    // and then, so only a run of them with no message in between is an outage worth reporting.
    const now = Date.now();
    if (this.#streamEnds === 0 || now - this.#streamEndsSince > STREAM_END_WINDOW_MS) {
      this.#streamEnds = 0;
      this.#streamEndsSince = now;
    }
    this.#streamEnds++;
    if (this.#streamEnds === STREAM_ENDS_REPORTED) {
      this.#trouble = { text: debug.message ?? errorText(error), at: now };
      this.#report(toBrokerError(`receive from subscription "${this.#name}"`, error));
    } else if (this.#streamEnds > STREAM_ENDS_REPORTED && this.#trouble !== undefined) {
      this.#trouble.at = now;
    }
  }

  /** The client closed the stream by itself (a non-retryable stream error): reopen it. */
  #onStreamClosed(): void {
    if (this.#closing) return;
    // The client nacked everything it held when it closed: none of it may be acked or run now.
    for (const delivery of this.#outstanding) delivery.lost = true;
    this.#outstanding.clear();
    for (const delivery of this.#buffered) delivery.lost = true;
    this.#buffered = [];
    this.#trouble ??= { text: 'stream closed', at: Date.now() };
    this.#recovering ??= this.#reopen().finally(() => {
      this.#recovering = undefined;
    });
  }

  async #reopen(): Promise<void> {
    const signal = this.#stopRecovery.signal;
    for (let attempt = 1; !this.#closing; attempt++) {
      try {
        await sleep(backoffDelay(attempt, REOPEN_BACKOFF), undefined, { signal });
        await this.#deps.topology.ensureSubscription(this.#options.topic, this.#options.group, 'reopen subscription');
        if (this.#closing) return;
        this.#stream?.open();
        this.#trouble = undefined;
        this.#streamEnds = 0;
        return;
      } catch (error) {
        if (this.#closing) return;
        this.#trouble = { text: errorText(error), at: Date.now() };
        this.#report(toBrokerError(`reopen subscription "${this.#name}"`, error));
      }
    }
  }

  /** Whether the stream is up; `detail` says why not. */
  health(): { ok: boolean; detail: string } {
    if (this.#closing) return { ok: false, detail: `${this.#name}: closed` };
    if (this.#recovering !== undefined) {
      return { ok: false, detail: `${this.#name}: reopening (${this.#trouble?.text ?? 'stream closed'})` };
    }
    const trouble = this.#trouble;
    if (trouble !== undefined && Date.now() - trouble.at < TROUBLE_WINDOW_MS) {
      return { ok: false, detail: `${this.#name}: ${trouble.text}` };
    }
    return { ok: true, detail: `${this.#name}: streaming` };
  }

  /**
   * Stops fetching, hands back what the core never got, and closes the client's stream, which
   * sends every pending ack and nack before it resolves (bounded by closeTimeoutMs).
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#stopRecovery.abort();
    for (const delivery of this.#buffered) delivery.nack();
    this.#buffered = [];
    await this.#recovering;
    const stream = this.#stream;
    if (stream === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        stream.close(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#deps.closeTimeoutMs + 2_000);
        }),
      ]);
    } catch (error) {
      this.#report(toBrokerError(`close subscription "${this.#name}"`, error));
    } finally {
      clearTimeout(timer);
      stream.removeAllListeners();
      // A late 'error' after close must not become an uncaught exception.
      stream.on('error', () => {});
    }
  }

  #report(error: Error): void {
    try {
      this.#options.onError(error);
    } catch {
      // The core's onError never throws; a custom caller's may: nothing more to do here.
    }
  }
}
