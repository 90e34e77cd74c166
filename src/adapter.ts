import type { BrokerName } from './errors.js';
import type { Headers, Receipt } from './message.js';
import type { BrokerConfig } from './url.js';

/**
 * What a broker can do. The conformance suite reads it to choose which scenarios apply;
 * it never excuses a scenario the broker can do.
 */
export interface Capabilities {
  /** Messages with one key are delivered in send order (Kafka partitions, Pub/Sub ordering keys, …). */
  perKeyOrdering: boolean;
  /** Messages survive the consumer (and the client) going away. */
  persistent: boolean;
  /** A new consumer group can read messages sent before it existed (`from: 'earliest'`). */
  replay: boolean;
  /**
   * `nack(delayMs)` redelivers after the delay: the broker does it (Pulsar's negative ack,
   * memory://), or the adapter holds the message and then hands it back so the broker counts the
   * redelivery (RabbitMQ). Without it (Kafka, Kinesis: no broker redelivery at all) the core keeps
   * a failed message in process for its redelivery delay, holding back later messages of its
   * key, and runs it again.
   */
  nativeDelay: boolean;
  /** The broker has its own dead-letter mechanism. */
  nativeDeadLetter: boolean;
  /** Largest payload + headers in bytes the broker accepts for one message. */
  maxMessageBytes: number;
  /** Most messages one publish call may carry (larger sends are split). */
  maxBatch: number;
}

/** One message as the transport sees it: bytes and string headers. */
export interface TransportRecord {
  key?: string;
  value: Uint8Array;
  headers: Headers;
  timestamp: number;
}

/** A message handed to the consumer core by an adapter. Ack/nack are idempotent. */
export interface Delivery {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  /**
   * 1 on first delivery, then counts deliveries as far as the broker tracks them (a delivery
   * count, or a count the adapter carried from `nack`). The core keeps the larger of this and
   * what it counted itself, so `message.attempt` never goes back.
   */
  readonly attempt: number;
  readonly raw: unknown;
  /**
   * True once the adapter no longer owns this message (its partition or lease moved to another
   * member): the core drops it unstarted, and the adapter ignores its ack and nack.
   */
  readonly stale?: boolean;
  /** Settles the message as done. */
  ack(): void;
  /**
   * Hands the message back for redelivery, after `delayMs` where the broker supports it
   * (`Capabilities.nativeDelay`). `attempt` is how many times handlers have seen it so far;
   * an adapter that can carry it delivers the message next with `attempt + 1`.
   * Without native delay the core holds failed messages itself and calls nack() only to hand
   * messages back when the consumer closes: settle without acknowledging, so that the broker
   * (or the partition's next owner) delivers them again.
   */
  nack(delayMs?: number, attempt?: number): void;
}

/** Where in the stream a new consumer group starts. */
export type StartFrom = 'latest' | 'earliest';

/** What the consumer core asks of an adapter when it subscribes. */
export interface SubscribeOptions {
  topic: string;
  group: string;
  /** Upper bound on unsettled deliveries the adapter should keep outstanding. */
  prefetch: number;
  from: StartFrom;
  /** Called for every message; the adapter must stop calling it soon after `pause()`. */
  onDelivery(delivery: Delivery): void;
  /** Reports errors the adapter cannot recover from by itself (the consumer keeps running). */
  onError(error: Error): void;
  /**
   * Aborts when the consumer closes. An adapter still subscribing then stops (and rejects, e.g.
   * with a ClosedError), so that close() never waits out a subscribe to a broker that is down.
   */
  signal?: AbortSignal;
}

/** A live subscription, controlled by the consumer core. */
export interface Subscription {
  /** Stop handing out deliveries (flow control). */
  pause(): void;
  resume(): void;
  /** Stop fetching, return unsettled deliveries to the broker and release resources. */
  close(): Promise<void>;
}

/** Result of {@link Adapter.health}. */
export interface HealthStatus {
  ok: boolean;
  broker: BrokerName;
  detail?: string;
}

/**
 * The adapter SPI: what each broker implements. Adapters deal in bytes; codecs, retry,
 * dead-letter, tracing and concurrency live in the core and are the same for every broker.
 */
export interface Adapter {
  readonly broker: BrokerName;
  readonly capabilities: Capabilities;
  /** Resolves once the broker has accepted every record (in order), with one receipt each. */
  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]>;
  /** Resolves once the subscription is established (assigned / attached), ready to receive. */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  health(): Promise<HealthStatus>;
  close(): Promise<void>;
}

/** Creates an adapter from its parsed config. Registered per broker. */
export type AdapterFactory<C extends BrokerConfig = BrokerConfig> = (config: C) => Promise<Adapter>;
