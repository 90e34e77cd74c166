import { channel } from 'node:diagnostics_channel';
import { setTimeout as delay } from 'node:timers/promises';
import type { Adapter, Delivery, StartFrom, Subscription, TransportRecord } from './adapter.js';
import type { Codec } from './codecs/codec.js';
import { json } from './codecs/json.js';
import { ClosedError, InvalidConfigError, TimeoutError } from './errors.js';
import type { Headers, Message, Receipt } from './message.js';
import { codecMiddleware } from './middleware/serialize.js';
import {
  type ConsumeContext,
  type ConsumerInfo,
  composeConsume,
  composePublish,
  type FailureOutcome,
  type MiddlewareInput,
  type Next,
  type PublishContext,
  toMiddleware,
} from './pipeline.js';
import { Queue } from './queue.js';

export type { FailureOutcome } from './pipeline.js';

/**
 * Handles one message: resolve to ack, throw to retry / dead-letter / redeliver. `signal` aborts
 * when the consumer's close timeout expires or after `handlerTimeoutMs`: stop work when it fires.
 */
export type Handler<T> = (message: Message<T>, signal: AbortSignal) => Promise<void> | void;

/** Options of {@link Broker.consumer}. */
export interface ConsumerOptions<T> {
  topic: string;
  /** Consumer group: each group gets every message; members of one group share them. */
  group: string;
  /** Handlers running at once (default 1). Messages with one key always run one at a time, in order. */
  concurrency?: number;
  /** Most unsettled messages held at once, running or waiting (default max(2 × concurrency, 16)). */
  prefetch?: number;
  /** Where a new group starts: `latest` (default) or `earliest` where the broker can replay. */
  from?: StartFrom;
  /** How payloads become values (default json()). */
  codec?: Codec<T>;
  /** Consume-side middleware: retry(), deadLetter(), tracing(), validate(), or your own. */
  use?: MiddlewareInput[];
  /** How long close() waits for running handlers before it aborts their signal and gives up (default 30 s). */
  closeTimeoutMs?: number;
  /**
   * First delay before a failed message is delivered again (default 100 ms). Each further
   * redelivery of the same message doubles it, up to `maxRedeliveryDelayMs`, with jitter
   * (a uniform pick in the upper half). A redelivery always waits at least 1 ms, so a message
   * that keeps failing never spins the event loop.
   */
  redeliveryDelayMs?: number;
  /** Upper bound of the redelivery delay (default 30 s). */
  maxRedeliveryDelayMs?: number;
  /**
   * With deadLetter(): how many times a handler may see a message before it goes to the
   * dead-letter topic. Failures before that are redelivered with the redelivery backoff (like a
   * broker's delivery limit); a message delivered again after that many handler calls (a crash
   * loop) goes to the dead-letter topic without running the handler. Default: unlimited, so
   * deadLetter() takes a message at its first failure that reaches it (after retry()).
   * Without deadLetter() nothing is ever dropped: the message keeps coming back at the capped
   * backoff and each failure is reported.
   */
  maxDeliveries?: number;
  /** Aborts the handler's `signal` this long after a handler call starts (default: never). */
  handlerTimeoutMs?: number;
  /**
   * Called for every failure: `outcome` says what happens to the message next. Errors of the
   * subscription itself come with no message and outcome `error`. A callback that throws is
   * reported on the `polybus:hook:error` diagnostics channel and changes nothing else.
   */
  onError?: (error: unknown, message: Message<T> | undefined, outcome: FailureOutcome) => void;
}

/** Counters of a consumer, for health checks and tests. */
export interface ConsumerStats {
  /** Handlers holding a concurrency slot now. */
  readonly running: number;
  /** Delivered but not yet settled (running, waiting for their key, or backing off). */
  readonly unsettled: number;
  readonly acked: number;
  readonly nacked: number;
}

/** Receives messages from one topic as part of one group. */
export interface Consumer<T> {
  /** Subscribes and starts handling. Resolves once the subscription is live. */
  run(handler: Handler<T>): Promise<void>;
  /** Stops taking new messages (running handlers finish). */
  pause(): void;
  resume(): void;
  /** Stops fetching, waits for running handlers (up to closeTimeoutMs), settles, unsubscribes. */
  close(): Promise<void>;
  readonly stats: ConsumerStats;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** Published on diagnostics_channel `polybus:consumer:error` for every failure: `{ error, message, consumer, outcome }`. */
export const consumerErrorChannel = channel('polybus:consumer:error');
/** Published on diagnostics_channel `polybus:hook:error` when a user callback throws: `{ error, hook, consumer }`. */
export const hookErrorChannel = channel('polybus:hook:error');

/** Every option of {@link ConsumerOptions}: anything else is a typo we report. */
const CONSUMER_OPTIONS: ReadonlySet<string> = new Set([
  'topic',
  'group',
  'concurrency',
  'prefetch',
  'from',
  'codec',
  'use',
  'closeTimeoutMs',
  'redeliveryDelayMs',
  'maxRedeliveryDelayMs',
  'maxDeliveries',
  'handlerTimeoutMs',
  'onError',
]);

const DEFAULT_REDELIVERY_DELAY_MS = 100;
const DEFAULT_MAX_REDELIVERY_DELAY_MS = 30_000;
/** Attempt counts remembered for messages handed back to the broker; the oldest are forgotten past this. */
const REMEMBERED_ATTEMPTS = 10_000;

/** The message a handler sees: the decoded value and attempt, the rest read from the delivery. */
class DeliveredMessage<T> implements Message<T> {
  value: T;
  attempt: number;
  readonly #delivery: Delivery;

  constructor(delivery: Delivery, attempt: number) {
    this.#delivery = delivery;
    this.value = undefined as T;
    this.attempt = attempt;
  }

  get id(): string {
    return this.#delivery.id;
  }
  get topic(): string {
    return this.#delivery.topic;
  }
  get key(): string | undefined {
    return this.#delivery.key;
  }
  get headers(): Headers {
    return this.#delivery.headers as Headers;
  }
  get timestamp(): number {
    return this.#delivery.timestamp;
  }
  get payload(): Uint8Array {
    return this.#delivery.value;
  }
  get raw(): unknown {
    return this.#delivery.raw;
  }

  /** Plain fields for console.log and JSON (getters are not own properties). */
  toJSON(): Omit<Message<T>, 'raw' | 'payload'> {
    const { id, topic, key, value, headers, timestamp, attempt } = this;
    return { id, topic, key, value, headers, timestamp, attempt };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): object {
    return { ...this.toJSON(), payload: this.payload };
  }
}

/** One delivery on its way through the chain. Methods, not closures, so nothing is allocated per message but this. */
class DeliveryContext<T> implements ConsumeContext<T> {
  readonly message: DeliveredMessage<T>;
  readonly delivery: Delivery;
  readonly consumer: ConsumerInfo;
  firstFailureAt: number | undefined;
  error: unknown;
  /** The handler call's own signal, made on first use when handlerTimeoutMs is set. */
  callSignal: AbortSignal | undefined;
  callStartedAt: number;
  readonly #owner: ConsumerImpl<T>;

  constructor(owner: ConsumerImpl<T>, delivery: Delivery, attempt: number) {
    this.#owner = owner;
    this.delivery = delivery;
    this.consumer = owner.info;
    this.message = new DeliveredMessage<T>(delivery, attempt);
    this.firstFailureAt = undefined;
    this.error = undefined;
    this.callSignal = undefined;
    this.callStartedAt = 0;
  }

  get signal(): AbortSignal {
    return this.#owner.signalOf(this);
  }

  sleep(ms: number): Promise<void> {
    return this.#owner.sleepOutsideSlot(ms);
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    return this.#owner.publishRecords(topic, records);
  }

  report(error: unknown, outcome: FailureOutcome): void {
    this.#owner.report(error, this.message, outcome);
  }

  // Settling through two small callbacks instead of awaiting in an async method measured 1.8x the
  // throughput on memory:// (bench/memory.ts): an async frame costs more than two closures.
  readonly succeeded = (): void => this.#owner.finish(this, false, undefined);
  readonly failed = (error: unknown): void => this.#owner.finish(this, true, error);
}

/** A failed message kept in process while it waits out its redelivery delay (brokers without native delay). */
interface HeldRedelivery<T> {
  readonly ctx: DeliveryContext<T>;
  readonly timer: NodeJS.Timeout;
}

export class ConsumerImpl<T> implements Consumer<T> {
  readonly info: ConsumerInfo;
  readonly #adapter: Adapter;
  readonly #options: ConsumerOptions<T>;
  readonly #concurrency: number;
  readonly #prefetch: number;
  readonly #closeTimeoutMs: number;
  readonly #redeliveryDelayMs: number;
  readonly #maxRedeliveryDelayMs: number;
  readonly #handlerTimeoutMs: number | undefined;
  /** The broker cannot delay a redelivery: failed messages wait here, holding their key. */
  readonly #holdInProcess: boolean;
  readonly #onClose: (consumer: ConsumerImpl<T>) => void;

  #chain: Next<ConsumeContext> | undefined;
  /** Publishes already-encoded records (dead-letter) through the publish stages of `use` (tracing). */
  #publishChain: Next<PublishContext> | undefined;
  #subscription: Subscription | undefined;
  /** Settles to the subscription (or undefined if subscribing failed) while run() subscribes. */
  #subscribing: Promise<Subscription | undefined> | undefined;
  /** Deliveries ready to start (no other delivery of their key is unsettled). */
  readonly #ready = new Queue<Delivery>();
  /** Failed messages whose in-process redelivery delay is over: served before new deliveries. */
  readonly #due = new Queue<DeliveryContext<T>>();
  readonly #held = new Set<HeldRedelivery<T>>();
  /** Keys with an unsettled delivery, mapped to the deliveries of that key waiting behind it. */
  readonly #keys = new Map<string, Queue<Delivery> | undefined>();
  /** Retries waiting for a slot after their backoff; served before new deliveries. */
  readonly #slotWaiters = new Queue<() => void>();
  /** Handler calls so far of messages handed back to the broker, by message id, so `attempt` never goes back. */
  readonly #attempts = new Map<string, number>();
  /** Aborts retry backoffs when the consumer starts closing. */
  readonly #closing = new AbortController();
  /** Aborts handlers' signals when the close timeout expires. */
  readonly #abortHandlers = new AbortController();
  #closed = false;

  #slots = 0;
  #unsettled = 0;
  #acked = 0;
  #nacked = 0;
  #flowPaused = false;
  #userPaused = false;
  #closePromise: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(adapter: Adapter, options: ConsumerOptions<T>, onClose: (consumer: ConsumerImpl<T>) => void) {
    if (options === null || typeof options !== 'object') throw badOption('options', 'an object');
    const unknown = Object.keys(options).find((name) => !CONSUMER_OPTIONS.has(name));
    if (unknown !== undefined) {
      const close = [...CONSUMER_OPTIONS].find((name) => name.toLowerCase() === unknown.toLowerCase());
      throw new InvalidConfigError(
        `unknown consumer option "${unknown}"${close === undefined ? '' : ` (did you mean "${close}"?)`}`,
        {
          operation: 'create consumer',
          hint: `A consumer takes ${[...CONSUMER_OPTIONS].join(', ')}.`,
        },
      );
    }
    if (typeof options.topic !== 'string' || options.topic.length === 0)
      throw badOption('topic', 'a non-empty string', options.topic);
    if (typeof options.group !== 'string' || options.group.length === 0)
      throw badOption('group', 'a non-empty string', options.group);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw badOption('concurrency', 'an integer >= 1', options.concurrency);
    const prefetch = options.prefetch ?? Math.max(2 * concurrency, 16);
    if (!Number.isInteger(prefetch) || prefetch < concurrency)
      throw badOption('prefetch', 'an integer >= concurrency', options.prefetch);
    if (options.from !== undefined && options.from !== 'latest' && options.from !== 'earliest')
      throw badOption('from', '"latest" or "earliest"', options.from);
    if (options.use !== undefined && !Array.isArray(options.use))
      throw badOption('use', 'an array, e.g. use: [retry(), deadLetter("orders.dlq")]', options.use);
    if (options.onError !== undefined && typeof options.onError !== 'function')
      throw badOption('onError', 'a function (error, message, outcome) => void', options.onError);
    if (
      options.codec !== undefined &&
      (options.codec === null ||
        typeof options.codec.decode !== 'function' ||
        typeof options.codec.encode !== 'function')
    )
      throw badOption('codec', 'a codec such as json(), string() or bytes()', options.codec);
    const maxDeliveries = options.maxDeliveries;
    if (maxDeliveries !== undefined && (!Number.isInteger(maxDeliveries) || maxDeliveries < 1))
      throw badOption('maxDeliveries', 'an integer >= 1', maxDeliveries);
    this.#closeTimeoutMs = milliseconds('closeTimeoutMs', options.closeTimeoutMs, 30_000);
    this.#redeliveryDelayMs = milliseconds('redeliveryDelayMs', options.redeliveryDelayMs, DEFAULT_REDELIVERY_DELAY_MS);
    this.#maxRedeliveryDelayMs = milliseconds(
      'maxRedeliveryDelayMs',
      options.maxRedeliveryDelayMs,
      Math.max(DEFAULT_MAX_REDELIVERY_DELAY_MS, this.#redeliveryDelayMs),
    );
    if (this.#maxRedeliveryDelayMs < this.#redeliveryDelayMs)
      throw badOption('maxRedeliveryDelayMs', 'a number >= redeliveryDelayMs', options.maxRedeliveryDelayMs);
    this.#handlerTimeoutMs =
      options.handlerTimeoutMs === undefined
        ? undefined
        : milliseconds('handlerTimeoutMs', options.handlerTimeoutMs, 0);
    this.#adapter = adapter;
    this.#options = options;
    this.#concurrency = concurrency;
    this.#prefetch = prefetch;
    this.#holdInProcess = !adapter.capabilities.nativeDelay;
    this.#onClose = onClose;
    this.info = Object.freeze({
      broker: adapter.broker,
      topic: options.topic,
      group: options.group,
      maxDeliveries: maxDeliveries ?? Number.POSITIVE_INFINITY,
    });
  }

  get stats(): ConsumerStats {
    return { running: this.#slots, unsettled: this.#unsettled, acked: this.#acked, nacked: this.#nacked };
  }

  async run(handler: Handler<T>): Promise<void> {
    if (this.#closed) throw new ClosedError('consumer', 'run', this.#adapter.broker);
    if (this.#chain) {
      throw new InvalidConfigError('run() was already called on this consumer', {
        broker: this.#adapter.broker,
        operation: 'run',
        hint: 'Create one consumer per handler; several consumers in one group share the messages.',
      });
    }
    if (typeof handler !== 'function') throw badOption('handler', 'a function (message) => Promise<void>', handler);
    const codec = (this.#options.codec ?? json()) as Codec<unknown>;
    const middleware = [codecMiddleware(codec), ...(this.#options.use ?? []).map(toMiddleware)];
    this.#chain = composeConsume(middleware, (ctx) => {
      if (this.#handlerTimeoutMs !== undefined) {
        (ctx as DeliveryContext<T>).callStartedAt = Date.now();
        (ctx as DeliveryContext<T>).callSignal = undefined;
      }
      const result = handler(ctx.message as Message<T>, ctx.signal);
      // A synchronous handler: share one resolved promise instead of allocating one per message.
      return result === undefined ? RESOLVED : Promise.resolve(result);
    });
    // Dead-letter records are encoded already: only the trace step of the publish path applies.
    this.#publishChain = composePublish(
      middleware.filter((m) => m.publish?.step === 'trace'),
      async (ctx) => {
        ctx.receipts = await this.#adapter.publish(ctx.topic, ctx.records);
      },
    );
    const subscribing = this.#adapter.subscribe({
      topic: this.#options.topic,
      group: this.#options.group,
      prefetch: this.#prefetch,
      from: this.#options.from ?? 'latest',
      onDelivery: (delivery) => this.#receive(delivery),
      onError: (error) => this.report(error, undefined, 'error'),
      signal: this.#closing.signal,
    });
    this.#subscribing = subscribing.then(
      (subscription) => subscription,
      () => undefined,
    );
    let subscription: Subscription;
    try {
      subscription = await subscribing;
    } catch (error) {
      // close() gave up the subscribe: nothing to report, the consumer is closed.
      if (this.#closed) return;
      // Not subscribed: let the caller try run() again.
      this.#chain = undefined;
      this.#subscribing = undefined;
      throw error;
    }
    // close() was called meanwhile: it closes this subscription once subscribing settles.
    if (this.#closed) return;
    this.#subscription = subscription;
    if (this.#userPaused || this.#flowPaused) subscription.pause();
  }

  pause(): void {
    this.#userPaused = true;
    this.#subscription?.pause();
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#flowPaused && !this.#closed) this.#subscription?.resume();
    this.#pump();
  }

  #receive(delivery: Delivery): void {
    if (this.#closed) {
      delivery.nack();
      return;
    }
    this.#unsettled++;
    if (this.#unsettled >= this.#prefetch && !this.#flowPaused) {
      this.#flowPaused = true;
      this.#subscription?.pause();
    }
    const key = delivery.key;
    if (key === undefined) {
      this.#ready.push(delivery);
    } else if (this.#keys.has(key)) {
      let waiting = this.#keys.get(key);
      if (waiting === undefined) {
        waiting = new Queue<Delivery>();
        this.#keys.set(key, waiting);
      }
      waiting.push(delivery);
    } else {
      this.#keys.set(key, undefined);
      this.#ready.push(delivery);
    }
    this.#pump();
  }

  /** Starts work while slots are free: retries first, then redeliveries held here, then new deliveries. */
  #pump(): void {
    while (this.#slots < this.#concurrency) {
      const waiter = this.#slotWaiters.shift();
      if (waiter !== undefined) {
        this.#slots++;
        waiter();
        continue;
      }
      if (this.#userPaused || this.#closed) return;
      const due = this.#due.shift();
      if (due !== undefined) {
        if (due.delivery.stale === true) {
          this.#settle(due.delivery);
          continue;
        }
        due.message.attempt++;
        due.error = undefined;
        this.#slots++;
        this.#run(due);
        continue;
      }
      const delivery = this.#ready.shift();
      if (delivery === undefined) return;
      // The adapter lost this message (partition revoked): its new owner handles it.
      if (delivery.stale === true) {
        this.#settle(delivery);
        continue;
      }
      let attempt = delivery.attempt;
      if (this.#attempts.size !== 0) {
        const seen = this.#attempts.get(delivery.id);
        if (seen !== undefined && seen >= attempt) attempt = seen + 1;
      }
      this.#slots++;
      this.#run(new DeliveryContext<T>(this, delivery, attempt));
    }
  }

  #run(ctx: DeliveryContext<T>): void {
    let result: Promise<void>;
    try {
      result = (this.#chain as Next<ConsumeContext>)(ctx);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(ctx.succeeded, ctx.failed);
  }

  /** Called once the chain resolved or threw for a delivery. */
  finish(ctx: DeliveryContext<T>, failed: boolean, failure: unknown): void {
    const delivery = ctx.delivery;
    this.#slots--;
    if (!failed) {
      this.#acked++;
      if (this.#attempts.size !== 0) this.#attempts.delete(delivery.id);
      delivery.ack();
      this.#settle(delivery);
      return;
    }
    this.#nacked++;
    const attempt = ctx.message.attempt;
    if (delivery.stale === true) {
      this.#settle(delivery);
      return;
    }
    if (this.#closed || failure instanceof ClosedError) {
      // Closing: hand it back at once, so the broker redelivers it (to us later, or to a peer).
      this.#remember(delivery.id, attempt);
      delivery.nack(0, attempt);
      this.#handBackSuccessors(delivery.key, 0);
      this.#settle(delivery);
      return;
    }
    this.report(failure, ctx.message, 'nacked');
    const delayMs = this.#redeliveryDelay(attempt);
    if (this.#holdInProcess) {
      this.#hold(ctx, delayMs);
      this.#pump();
      return;
    }
    this.#remember(delivery.id, attempt);
    delivery.nack(delayMs, attempt);
    this.#handBackSuccessors(delivery.key, delayMs);
    this.#settle(delivery);
  }

  /** Exponential from redeliveryDelayMs, capped, jittered in the upper half; never 0, so the event loop always turns. */
  #redeliveryDelay(attempt: number): number {
    const base = Math.min(this.#maxRedeliveryDelayMs, this.#redeliveryDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.max(1, Math.round(base / 2 + (Math.random() * base) / 2));
  }

  /** Keeps a failed message (and its key) here until its delay is over, then runs it again. */
  #hold(ctx: DeliveryContext<T>, delayMs: number): void {
    const held: HeldRedelivery<T> = {
      ctx,
      timer: setTimeout(() => {
        this.#held.delete(held);
        this.#due.push(ctx);
        this.#pump();
      }, delayMs),
    };
    this.#held.add(held);
  }

  #remember(id: string, attempt: number): void {
    if (this.#attempts.size >= REMEMBERED_ATTEMPTS) {
      const oldest = this.#attempts.keys().next();
      if (!oldest.done) this.#attempts.delete(oldest.value);
    }
    this.#attempts.set(id, attempt);
  }

  /**
   * A failed message goes back to the broker; so do the messages of its key still waiting behind
   * it here, unstarted, so that a broker that keeps per-key order redelivers them after it.
   */
  #handBackSuccessors(key: string | undefined, delayMs: number): void {
    if (key === undefined) return;
    const waiting = this.#keys.get(key);
    if (waiting === undefined) return;
    for (let next = waiting.shift(); next !== undefined; next = waiting.shift()) {
      next.nack(delayMs);
      this.#nacked++;
      this.#unsettled--;
    }
  }

  #settle(delivery: Delivery): void {
    this.#unsettled--;
    const key = delivery.key;
    if (key !== undefined) {
      const waiting = this.#keys.get(key);
      const next = waiting?.shift();
      if (next === undefined) this.#keys.delete(key);
      else this.#ready.push(next);
    }
    if (this.#flowPaused && this.#unsettled <= this.#prefetch >> 1 && !this.#closed) {
      this.#flowPaused = false;
      if (!this.#userPaused) this.#subscription?.resume();
    }
    if (this.#unsettled === 0 && this.#idle) this.#idle();
    this.#pump();
  }

  /** The signal a handler call gets: the consumer's, or one that also fires after handlerTimeoutMs. */
  signalOf(ctx: DeliveryContext<T>): AbortSignal {
    const timeoutMs = this.#handlerTimeoutMs;
    if (timeoutMs === undefined) return this.#abortHandlers.signal;
    if (ctx.callSignal === undefined) {
      const left = Math.max(0, timeoutMs - (Date.now() - ctx.callStartedAt));
      ctx.callSignal = AbortSignal.any([this.#abortHandlers.signal, AbortSignal.timeout(left)]);
    }
    return ctx.callSignal;
  }

  /** Releases the caller's slot for `ms`, then waits for a slot again (ahead of new deliveries). */
  async sleepOutsideSlot(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    if (signal.aborted) throw new ClosedError('consumer', 'retry backoff', this.#adapter.broker);
    this.#slots--;
    this.#pump();
    try {
      await delay(ms, undefined, { signal });
    } catch {
      // Closing: take a slot back anyway so that the slot count stays right, then give up.
      this.#slots++;
      throw new ClosedError('consumer', 'retry backoff', this.#adapter.broker);
    }
    if (this.#slots < this.#concurrency) {
      this.#slots++;
      return;
    }
    await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
  }

  publishRecords(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    const ctx: PublishContext = {
      broker: this.#adapter.broker,
      topic,
      messages: [],
      records: records.slice(),
      receipts: [],
    };
    return (this.#publishChain as Next<PublishContext>)(ctx).then(() => ctx.receipts);
  }

  /** Reports a failure to onError and the diagnostics channel; a throwing onError changes nothing. */
  report(error: unknown, message: Message<T> | undefined, outcome: FailureOutcome): void {
    if (consumerErrorChannel.hasSubscribers) {
      consumerErrorChannel.publish({ error, message, consumer: this.info, outcome });
    }
    const onError = this.#options.onError;
    if (onError === undefined) return;
    try {
      onError(error, message, outcome);
    } catch (hookError) {
      if (hookErrorChannel.hasSubscribers) {
        hookErrorChannel.publish({ error: hookError, hook: 'onError', consumer: this.info });
      }
    }
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    const subscription = this.#subscription ?? (await this.#pendingSubscription());
    subscription?.pause();
    // Not started yet: hand back at once so the broker redelivers them (to us later, or to a peer).
    const handBack: Delivery[] = [];
    for (const held of this.#held) {
      clearTimeout(held.timer);
      this.#due.push(held.ctx);
    }
    this.#held.clear();
    for (let ctx = this.#due.shift(); ctx !== undefined; ctx = this.#due.shift()) {
      this.#remember(ctx.delivery.id, ctx.message.attempt);
      handBack.push(ctx.delivery);
    }
    handBack.push(...this.#ready.drain());
    for (const waiting of this.#keys.values()) if (waiting) handBack.push(...waiting.drain());
    for (const delivery of handBack) {
      if (delivery.stale !== true) delivery.nack(0, this.#attempts.get(delivery.id));
      this.#unsettled--;
      this.#nacked++;
    }
    this.#keys.clear();
    if (this.#unsettled > 0) await this.#waitForHandlers();
    await subscription?.close();
    this.#onClose(this);
  }

  /**
   * The subscription run() is still establishing, once it settles: adapters stop subscribing
   * when the closing signal aborts. One that does not gets closeTimeoutMs; after that close()
   * goes on, and the subscription is closed as soon as it is established.
   */
  async #pendingSubscription(): Promise<Subscription | undefined> {
    const subscribing = this.#subscribing;
    if (subscribing === undefined) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#closeTimeoutMs);
    });
    const settled = await Promise.race([subscribing, gaveUp]);
    clearTimeout(timer);
    if (settled !== 'timeout') return settled;
    void subscribing.then((late) => late?.close());
    return undefined;
  }

  /** Waits for running handlers up to closeTimeoutMs; then aborts their signals and reports a TimeoutError. */
  async #waitForHandlers(): Promise<void> {
    const timeoutMs = this.#closeTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    // A referenced timer: close() must resolve even when nothing else keeps the process alive.
    const timedOut = await new Promise<boolean>((resolve) => {
      this.#idle = () => resolve(false);
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    clearTimeout(timer);
    this.#idle = undefined;
    if (!timedOut) return;
    this.#abortHandlers.abort(
      new TimeoutError('close consumer', timeoutMs, 'the consumer closed while this handler ran', this.#adapter.broker),
    );
    this.report(
      new TimeoutError(
        'close consumer',
        timeoutMs,
        `${this.#unsettled} handler(s) still running were left unacknowledged and will be redelivered; raise closeTimeoutMs or stop work when the handler's signal aborts.`,
        this.#adapter.broker,
      ),
      undefined,
      'error',
    );
  }
}

function badOption(name: string, expected: string, got?: unknown): InvalidConfigError {
  const actual = got === undefined ? '' : `, got ${describeValue(got)}`;
  return new InvalidConfigError(`consumer option ${name} must be ${expected}${actual}`, {
    operation: 'create consumer',
    hint: "Example: bus.consumer({ topic: 'orders', group: 'billing', concurrency: 16 }).",
  });
}

function milliseconds(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw badOption(name, 'a finite number of milliseconds >= 0', value);
  return value;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
