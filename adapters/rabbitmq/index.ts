/**
 * The RabbitMQ adapter (amqplib, loaded on first use): `amqp://user:pass@host:5672/vhost` or
 * `amqps://…`. See config.ts for the options, topology.ts for what it declares and how it names
 * queues, publisher.ts and subscriber.ts for the wire format and the delivery semantics.
 */
import type { ChannelModel, Options } from 'amqplib';
import type {
  Adapter,
  Capabilities,
  HealthStatus,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from '../../src/adapter.js';
import { type BrokerError, ClosedError, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { importClient } from '../../src/optional-require.js';
import type { RabbitMqConfig } from '../../src/url.js';
import { nodeTlsOptions } from '../shared/tls.js';
import {
  DEFAULT_HEARTBEAT_SECONDS,
  RABBITMQ_DEFAULTS,
  type RabbitMqOptions,
  type RabbitMqOptionsInput,
  resolveRabbitMqOptions,
} from './config.js';
import { type AmqpClient, RabbitConnection } from './connection.js';
import { RabbitPublisher } from './publisher.js';
import { RabbitSubscription } from './subscriber.js';
import { Topology } from './topology.js';

export {
  DEFAULT_HEARTBEAT_SECONDS,
  parseRabbitMqOptions,
  RABBITMQ_BASE_URL_PARAMS,
  RABBITMQ_DEFAULTS,
  RABBITMQ_URL_PARAMS,
  type RabbitMqOptions,
  type RabbitMqOptionsInput,
  type RabbitMqQueueType,
  resolveRabbitMqOptions,
} from './config.js';
export { ExchangeNotFoundError, QueueNotFoundError } from './errors.js';
export { KEY_HEADER, TIMESTAMP_HEADER } from './publisher.js';
export type { RabbitRawMessage } from './subscriber.js';
export { queueName } from './topology.js';

/**
 * What a RabbitMQ adapter can do with the given options.
 *
 * - `perKeyOrdering`: only with `singleActiveConsumer`. Without it the members of a group share
 *   the queue round-robin, so two messages of one key may run at once on two members. Within one
 *   consumer order holds in both modes (one queue; failed messages return to its front).
 * - `replay`: false. A group's queue exists from its first subscribe on; earlier messages were
 *   routed to no queue of it (`from: 'earliest'` reads what the queue holds, nothing older).
 * - `nativeDelay`: true. RabbitMQ cannot delay a redelivery itself; the adapter holds a failed
 *   message for its delay and then rejects it with requeue, so that the broker counts it.
 * - `nativeDeadLetter`: true (RabbitMQ has dead-letter exchanges); polybus's deadLetter() does
 *   not use them.
 */
export function rabbitMqCapabilities(
  options: Pick<RabbitMqOptions, 'singleActiveConsumer' | 'maxMessageBytes'>,
): Capabilities {
  return Object.freeze({
    perKeyOrdering: options.singleActiveConsumer,
    persistent: true,
    replay: false,
    nativeDelay: true,
    nativeDeadLetter: true,
    maxMessageBytes: options.maxMessageBytes,
    maxBatch: 10_000,
  });
}

/** The capabilities with the default options (round-robin groups, 16 MiB messages). */
export const RABBITMQ_CAPABILITIES: Capabilities = rabbitMqCapabilities(RABBITMQ_DEFAULTS);

/** amqplib's module as `import()` returns it (a CommonJS module: its exports under `default`). */
interface AmqplibModule extends Partial<AmqpClient> {
  default?: AmqpClient;
}

class RabbitMqAdapter implements Adapter {
  readonly broker = 'rabbitmq' as const;
  readonly capabilities: Capabilities;
  readonly #options: RabbitMqOptions;
  readonly #client: AmqpClient;
  readonly #connect: Options.Connect;
  readonly #socket: Record<string, unknown>;
  readonly #where: string;
  readonly #vhost: string;
  readonly #exchange: string;
  readonly #publishConnection: RabbitConnection;
  readonly #publishTopology: Topology;
  readonly #publisher: RabbitPublisher;
  #consumeConnection: RabbitConnection | undefined;
  #consumeTopology: Topology | undefined;
  readonly #subscriptions = new Set<RabbitSubscription>();
  #closed = false;

  constructor(config: RabbitMqConfig, options: RabbitMqOptions, client: AmqpClient) {
    this.#options = options;
    this.#client = client;
    this.capabilities = rabbitMqCapabilities(options);
    this.#vhost = config.vhost;
    this.#exchange = config.exchange;
    this.#where = `${config.tls ? 'amqps' : 'amqp'}://${config.host}:${config.port} vhost "${config.vhost}"`;
    this.#connect = {
      protocol: config.tls ? 'amqps' : 'amqp',
      hostname: config.host,
      port: config.port,
      vhost: config.vhost,
      heartbeat: config.heartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
      frameMax: 131_072,
    };
    if (config.username !== undefined) this.#connect.username = config.username;
    if (config.password !== undefined) this.#connect.password = config.password.reveal();
    this.#socket = {
      // Nagle on, as amqplib's default: amqplib writes each small message as one buffer, so a
      // lone send still goes out at once, while bursts coalesce (TCP_NODELAY cost a third of the
      // batched publish throughput here, in socket writes).
      noDelay: false,
      timeout: options.connectTimeoutMs,
      ...(options.tlsOptions === undefined ? {} : nodeTlsOptions(options.tlsOptions)),
    };
    this.#publishTopology = this.#topology();
    this.#publishConnection = this.#connection('publish', this.#publishTopology);
    this.#publisher = new RabbitPublisher({
      connection: this.#publishConnection,
      exchange: config.exchange,
      confirmTimeoutMs: options.confirmTimeoutMs,
      maxMessageBytes: options.maxMessageBytes,
      onError: () => {
        // Channel failures show in health() and in the send that they fail.
      },
    });
  }

  /** Connects the publishing side and declares the exchange: wrong hosts, credentials and vhosts fail here. */
  async start(): Promise<void> {
    const model = await this.#publishConnection.open();
    try {
      await this.#publishTopology.declareExchange(model);
      await this.#publisher.start(model);
    } catch (error) {
      await this.#publishConnection.close();
      throw error;
    }
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'rabbitmq'));
    return this.#publisher.publish(topic, records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'rabbitmq');
    if (this.#consumeConnection === undefined) {
      this.#consumeTopology = this.#topology();
      this.#consumeConnection = this.#connection('consume', this.#consumeTopology);
      const model = await this.#consumeConnection.open();
      await this.#consumeTopology.declareExchange(model);
    }
    const subscription = new RabbitSubscription({
      connection: this.#consumeConnection,
      topology: this.#consumeTopology as Topology,
      queueType: this.#options.queueType,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      subscribe: options,
      onClose: (closed) => this.#subscriptions.delete(closed),
    });
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      throw error;
    }
    return subscription;
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'rabbitmq', detail: 'closed' };
    const states = [this.#publishConnection.status()];
    if (this.#consumeConnection !== undefined) states.push(this.#consumeConnection.status());
    return {
      ok: states.every((state) => state.ok),
      broker: 'rabbitmq',
      detail: states.map((s) => s.detail).join('; '),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#publisher.close();
    await Promise.all([this.#publishConnection.close(), this.#consumeConnection?.close()]);
  }

  #topology(): Topology {
    const { queueType, deliveryLimit, singleActiveConsumer, autoDeclare } = this.#options;
    return new Topology({
      exchange: this.#exchange,
      vhost: this.#vhost,
      queueType,
      deliveryLimit,
      singleActiveConsumer,
      autoDeclare,
    });
  }

  /** A connection that declares its topology again first thing after each reconnect. */
  #connection(role: string, topology: Topology): RabbitConnection {
    const connection = new RabbitConnection({
      client: this.#client,
      role,
      connect: this.#connect,
      socket: this.#socket,
      where: this.#where,
      onError: (error: BrokerError) => {
        // A dropped consume connection is reported to every consumer (SubscribeOptions.onError);
        // a dropped publish connection shows in health() and in sends that time out.
        if (role === 'consume') for (const subscription of this.#subscriptions) subscription.reportError(error);
      },
    });
    connection.onReconnect((model: ChannelModel) => topology.restore(model));
    return connection;
  }
}

/**
 * Adapter factory for `amqp://` and `amqps://` URLs (or a `RabbitMqConfig`, with the options of
 * {@link RabbitMqOptionsInput} beside its fields). Connects before it resolves.
 * @throws {InvalidConfigError} for a bad option; {@link AdapterNotInstalledError} without amqplib;
 *   `BrokerError` when RabbitMQ cannot be reached (retryable) or refuses the login (not retryable).
 */
export async function createAdapter(config: RabbitMqConfig & RabbitMqOptionsInput): Promise<Adapter> {
  if (config?.broker !== 'rabbitmq') {
    throw new InvalidConfigError(`the rabbitmq adapter got a ${String(config?.broker)} config`, {
      broker: 'rabbitmq',
      operation: 'connect',
      hint: 'Use an amqp:// or amqps:// URL.',
    });
  }
  const options = resolveRabbitMqOptions(config as unknown as Readonly<Record<string, unknown>>);
  const module = await importClient<AmqplibModule>('rabbitmq', 'amqplib');
  const client = (typeof module.connect === 'function' ? module : module.default) as AmqpClient;
  const adapter = new RabbitMqAdapter(config, options, client);
  await adapter.start();
  return adapter;
}
