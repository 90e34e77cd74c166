/**
 * The binary-protocol transport (`pulsar://`, `pulsar+ssl://`): our own client
 * (adapters/pulsar/client), loaded on first use. Producers batch per key (a batch never mixes
 * keys, so Key_Shared keeps per-key order) and resend after reconnects; consumers pull through
 * flow permits, so at most `receiverQueueSize` messages wait unhandled.
 */
import type { ConnectionOptions } from 'node:tls';
import type { Consumer, Message, Producer, PulsarClient, PulsarTlsOptions } from './client/index.js';
import type { PulsarOptions } from './config.js';
import type {
  PulsarIncoming,
  PulsarOutgoing,
  PulsarTransport,
  TransportConsumer,
  TransportProducer,
  TransportSubscribeOptions,
} from './transport.js';

/** The client module, loaded lazily by index.ts. */
export type ClientModule = typeof import('./client/index.js');

class BinaryIncoming implements PulsarIncoming {
  #id: string | undefined;
  readonly key: string | undefined;
  readonly payload: Uint8Array;
  readonly properties: Readonly<Record<string, string>>;
  readonly timestamp: number;
  readonly redeliveryCount: number;
  readonly raw: Message;

  constructor(message: Message) {
    this.raw = message;
    this.key = message.key;
    this.payload = message.payload;
    this.properties = message.properties;
    this.timestamp = message.eventTime ?? message.publishTime;
    this.redeliveryCount = message.redeliveryCount;
  }

  /** Built on first use: most messages are acknowledged without anyone asking for their id. */
  get id(): string {
    this.#id ??= this.raw.messageId.toString();
    return this.#id;
  }
}

/** Pulls from a client consumer while not paused and hands each message on. */
class BinaryConsumer implements TransportConsumer {
  readonly #consumer: Consumer;
  readonly #options: TransportSubscribeOptions;
  #paused = false;
  #closed = false;
  /** A message received after pause(): handed on at resume(). */
  #held: Message | undefined;
  #wake: (() => void) | undefined;
  readonly #loop: Promise<void>;

  constructor(consumer: Consumer, options: TransportSubscribeOptions) {
    this.#consumer = consumer;
    this.#options = options;
    this.#loop = this.#pump();
  }

  async #pump(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      if (this.#paused) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      if (this.#held !== undefined) {
        const held = this.#held;
        this.#held = undefined;
        this.#options.onMessage(new BinaryIncoming(held));
        continue;
      }
      let message: Message;
      try {
        message = await this.#consumer.receive();
      } catch (error) {
        if (this.#closed) return;
        // The client gave up on the subscription (not retryable: e.g. Exclusive and taken).
        this.#options.onError(error as Error);
        return;
      }
      if (this.#closed) return;
      if (this.#paused) {
        this.#held = message;
        continue;
      }
      this.#options.onMessage(new BinaryIncoming(message));
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  ack(message: PulsarIncoming): void {
    if (this.#closed) return;
    this.#consumer.acknowledge(message.raw as Message);
  }

  nack(message: PulsarIncoming, delayMs: number): void {
    if (this.#closed) return;
    this.#consumer.negativeAcknowledge(message.raw as Message, delayMs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#consumer.flushAcknowledgements();
    await this.#consumer.close();
    this.#wake?.();
    await this.#loop;
  }
}

class BinaryProducer implements TransportProducer {
  readonly #producer: Producer;

  constructor(producer: Producer) {
    this.#producer = producer;
  }

  send(message: PulsarOutgoing): Promise<string> {
    return this.#producer
      .send({
        payload: message.payload,
        key: message.key,
        properties: message.properties,
        eventTime: message.eventTime,
      })
      .then(String);
  }

  close(): Promise<void> {
    return this.#producer.close();
  }
}

/** The binary-protocol transport over one {@link PulsarClient}. */
export class BinaryTransport implements PulsarTransport {
  readonly kind = 'binary' as const;
  readonly #client: PulsarClient;
  readonly #options: PulsarOptions;

  constructor(
    module: ClientModule,
    serviceUrl: string,
    token: string | undefined,
    options: PulsarOptions,
    tls: ConnectionOptions | undefined,
  ) {
    this.#options = options;
    this.#client = new module.PulsarClient({
      serviceUrl,
      ...(token === undefined ? {} : { token }),
      ...(tls === undefined ? {} : { tls: tls as PulsarTlsOptions }),
      operationTimeoutMs: options.operationTimeoutMs,
      connectionTimeoutMs: options.connectTimeoutMs,
    });
  }

  async start(): Promise<void> {
    await this.#client.connect();
  }

  async createProducer(topic: string): Promise<TransportProducer> {
    const { batching, batchingMaxDelayMs, compression, sendTimeoutMs } = this.#options;
    const producer = await this.#client.createProducer({
      topic,
      batching: batching ? { maxDelayMs: batchingMaxDelayMs } : false,
      compression,
      sendTimeoutMs,
      maxPendingMessages: 50_000,
    });
    return new BinaryProducer(producer);
  }

  async subscribe(options: TransportSubscribeOptions): Promise<TransportConsumer> {
    const consumer = await this.#client.subscribe({
      topic: options.topic,
      subscription: options.subscription,
      subscriptionType: options.subscriptionType,
      initialPosition: options.initialPosition,
      receiverQueueSize: options.receiverQueueSize,
      ackGroupingMs: 10,
    });
    return new BinaryConsumer(consumer, options);
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    const timeoutMs = Math.min(this.#options.connectTimeoutMs, 5000);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { ok: true, detail: `connected (${this.#client.connectionCount} connection(s))` };
    } catch (error) {
      return { ok: false, detail: `cannot connect: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
