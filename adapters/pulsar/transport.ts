/**
 * What the Pulsar adapter needs from a transport: the binary protocol (our client, binary.ts) and
 * the broker's WebSocket API (websocket/) both provide it, so that publisher.ts and subscriber.ts
 * (receipts, attempts, the per-key redelivery gate, pause/resume) are written once and behave the
 * same on both. Full topic names (`persistent://tenant/ns/topic`) everywhere here.
 */
import type { PulsarSubscriptionType } from './config.js';

/** One message to publish. */
export interface PulsarOutgoing {
  key: string | undefined;
  payload: Uint8Array;
  properties: Record<string, string>;
  /** Epoch ms (Pulsar's event time). */
  eventTime: number;
}

/** A producer on one topic. `send` resolves with the message id string (`ledger:entry:partition:batchIndex`). */
export interface TransportProducer {
  send(message: PulsarOutgoing): Promise<string>;
  close(): Promise<void>;
}

/** One received message. */
export interface PulsarIncoming {
  /** `ledger:entry:partition:batchIndex`: stable across redeliveries, equal to the send's id. */
  readonly id: string;
  readonly key: string | undefined;
  readonly payload: Uint8Array;
  readonly properties: Readonly<Record<string, string>>;
  /** Event time if the producer set one, else publish time (epoch ms). */
  readonly timestamp: number;
  /** Deliveries before this one, as the broker counts them (Shared and Key_Shared only; else 0). */
  readonly redeliveryCount: number;
  /** The transport's own message (our client's `Message`, or the WebSocket frame). */
  readonly raw: unknown;
}

/** What a transport needs to subscribe. */
export interface TransportSubscribeOptions {
  topic: string;
  subscription: string;
  subscriptionType: PulsarSubscriptionType;
  initialPosition: 'earliest' | 'latest';
  /** Messages the broker may push ahead (flow permits). */
  receiverQueueSize: number;
  /** Called for each message while not paused. */
  onMessage(message: PulsarIncoming): void;
  /** Errors the transport cannot recover from by itself, and outages worth reporting. */
  onError(error: Error): void;
}

/** A live consumer on one subscription. */
export interface TransportConsumer {
  /** Stops calling onMessage soon (messages already received wait, holding their permits). */
  pause(): void;
  resume(): void;
  ack(message: PulsarIncoming): void;
  /** Asks the broker to deliver the message again after `delayMs`. */
  nack(message: PulsarIncoming, delayMs: number): void;
  /** Sends pending acknowledgements and detaches; unacknowledged messages go back to the broker. */
  close(): Promise<void>;
}

/** A connection to Pulsar through one of the transports. */
export interface PulsarTransport {
  readonly kind: 'binary' | 'websocket';
  /** Connects once (checks the address and credentials). */
  start(): Promise<void>;
  createProducer(topic: string): Promise<TransportProducer>;
  subscribe(options: TransportSubscribeOptions): Promise<TransportConsumer>;
  /** Whether the broker can be reached now, and a short description. */
  health(): Promise<{ ok: boolean; detail: string }>;
  close(): Promise<void>;
}
