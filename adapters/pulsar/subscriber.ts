/**
 * Consuming: a group is a subscription (Key_Shared by default), each received message becomes a
 * delivery for the core, acks are individual acknowledgements and nacks negative
 * acknowledgements with the core's delay (`Capabilities.nativeDelay`).
 *
 * Per-key order across a nack. The core hands back a failed message and the later messages of
 * its key that it holds, all with the same delay; but later messages of that key may still be on
 * their way (in the client's receive queue, or dispatched by the broker before it learns of the
 * nack). The {@link KeyGate} holds the key shut until the nacked messages come back: a message of
 * a gated key that is not one of them is negatively acknowledged too, due no earlier than them.
 * Pulsar redelivers the messages of one redelivery request in position order and, on Key_Shared,
 * dispatches nothing newer of a key while older messages of it wait for redelivery; so the key's
 * messages come back in their original order.
 */
import type { Delivery, SubscribeOptions, Subscription } from '../../src/adapter.js';
import type { Headers } from '../../src/message.js';
import type { PulsarSubscriptionType } from './config.js';
import type { PulsarIncoming, TransportConsumer } from './transport.js';

/** How long past its due time a key stays gated when its nacked messages do not come back (they went to another member). */
export const GATE_GRACE_MS = 15_000;
/** The least delay of a gated message's nack once the gate's own due time has passed. */
const MIN_GATED_DELAY_MS = 20;
/** Attempt counts remembered per adapter (the oldest are forgotten past this). */
const REMEMBERED = 10_000;

/** The attempts handlers made, carried from nack(delay, attempt) to the next delivery of the message. */
export class AttemptMemory {
  readonly #attempts = new Map<string, number>();

  remember(id: string, attempt: number): void {
    if (this.#attempts.size >= REMEMBERED && !this.#attempts.has(id)) {
      const oldest = this.#attempts.keys().next();
      if (!oldest.done) this.#attempts.delete(oldest.value);
    }
    this.#attempts.set(id, attempt);
  }

  get size(): number {
    return this.#attempts.size;
  }

  get(id: string): number | undefined {
    return this.#attempts.get(id);
  }

  forget(id: string): void {
    this.#attempts.delete(id);
  }
}

interface GateState {
  /** When the last nacked message of the key is due back. */
  dueAt: number;
  /** Nacked messages of the key not yet delivered again. */
  readonly pending: Set<string>;
}

/**
 * Keys whose nacked messages have not come back yet. `admit` decides for each received message
 * whether it may go to the core now or must go back to the broker behind its key's nacked ones.
 */
export class KeyGate {
  readonly #gates = new Map<string, GateState>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get size(): number {
    return this.#gates.size;
  }

  /** Records a nack of message `id` of `key`, due back after `delayMs`. */
  nacked(key: string, id: string, delayMs: number): void {
    const dueAt = this.#now() + delayMs;
    const gate = this.#gates.get(key);
    if (gate === undefined) {
      this.#gates.set(key, { dueAt, pending: new Set([id]) });
      return;
    }
    if (dueAt > gate.dueAt) gate.dueAt = dueAt;
    gate.pending.add(id);
  }

  /**
   * For a received message of `key`: `undefined` when it may be delivered, or the delay to nack it
   * with (its key waits for earlier nacked messages).
   */
  admit(key: string, id: string): number | undefined {
    const gate = this.#gates.get(key);
    if (gate === undefined) return undefined;
    if (gate.pending.delete(id)) {
      if (gate.pending.size === 0) this.#gates.delete(key);
      return undefined;
    }
    const now = this.#now();
    if (now > gate.dueAt + GATE_GRACE_MS) {
      // The nacked messages went elsewhere (another member took the key): stop waiting.
      this.#gates.delete(key);
      return undefined;
    }
    gate.pending.add(id);
    return Math.max(MIN_GATED_DELAY_MS, gate.dueAt - now);
  }

  clear(): void {
    this.#gates.clear();
  }
}

class PulsarDelivery implements Delivery {
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  readonly attempt: number;
  readonly raw: unknown;
  readonly #owner: PulsarSubscription;
  readonly #message: PulsarIncoming;
  #settled = false;

  constructor(owner: PulsarSubscription, topic: string, message: PulsarIncoming, attempt: number) {
    this.#owner = owner;
    this.#message = message;
    this.topic = topic;
    this.key = message.key;
    this.value = message.payload;
    this.headers = message.properties as Headers;
    this.timestamp = message.timestamp;
    this.attempt = attempt;
    this.raw = message.raw;
  }

  get id(): string {
    return this.#message.id;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.ack(this.#message);
  }

  nack(delayMs = 0, attempt?: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.nack(this.#message, delayMs, attempt);
  }
}

/** What a subscription needs from the adapter. */
export interface SubscriptionDeps {
  /** Subscribes on the transport, wiring its messages to `onMessage`. */
  open(onMessage: (message: PulsarIncoming) => void, onError: (error: Error) => void): Promise<TransportConsumer>;
  /** Handler attempts carried across redeliveries (shared by the adapter's subscriptions). */
  attempts: AttemptMemory;
  subscriptionType: PulsarSubscriptionType;
  onClose(subscription: PulsarSubscription): void;
}

/** A group's live subscription: the core's {@link Subscription}. */
export class PulsarSubscription implements Subscription {
  readonly #options: SubscribeOptions;
  readonly #deps: SubscriptionDeps;
  readonly #gate = new KeyGate();
  readonly #prefix: string;
  #consumer: TransportConsumer | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: SubscribeOptions, deps: SubscriptionDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#prefix = `${options.topic}\u0000${options.group}\u0000`;
  }

  async start(): Promise<void> {
    this.#consumer = await this.#deps.open(
      (message) => this.#receive(message),
      (error) => this.#options.onError(error),
    );
  }

  #receive(message: PulsarIncoming): void {
    const consumer = this.#consumer as TransportConsumer;
    if (this.#closed !== undefined) return;
    const key = message.key;
    if (key !== undefined && this.#gate.size > 0) {
      const delay = this.#gate.admit(key, message.id);
      if (delay !== undefined) {
        consumer.nack(message, delay);
        return;
      }
    }
    let attempt = message.redeliveryCount + 1;
    const attempts = this.#deps.attempts;
    if (attempts.size > 0) {
      const carried = attempts.get(this.#prefix + message.id);
      if (carried !== undefined && carried + 1 > attempt) attempt = carried + 1;
    }
    this.#options.onDelivery(new PulsarDelivery(this, this.#options.topic, message, attempt));
  }

  ack(message: PulsarIncoming): void {
    if (this.#consumer === undefined) return;
    const attempts = this.#deps.attempts;
    if (attempts.size > 0) attempts.forget(this.#prefix + message.id);
    this.#consumer.ack(message);
  }

  nack(message: PulsarIncoming, delayMs: number, attempt: number | undefined): void {
    if (this.#consumer === undefined) return;
    const delay = Math.max(0, Math.round(delayMs));
    if (attempt !== undefined) this.#deps.attempts.remember(this.#prefix + message.id, attempt);
    if (message.key !== undefined) this.#gate.nacked(message.key, message.id, delay);
    this.#consumer.nack(message, delay);
  }

  pause(): void {
    this.#consumer?.pause();
  }

  resume(): void {
    if (this.#closed === undefined) this.#consumer?.resume();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#gate.clear();
      try {
        await this.#consumer?.close();
      } finally {
        this.#deps.onClose(this);
      }
    })();
    return this.#closed;
  }
}
