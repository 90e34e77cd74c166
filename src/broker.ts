import type { Adapter, AdapterFactory, HealthStatus } from './adapter.js';
import { type Consumer, ConsumerImpl, type ConsumerOptions } from './consumer.js';
import {
  AdapterNotInstalledError,
  BrokerError,
  type BrokerName,
  ClosedError,
  InvalidConfigError,
  PolybusError,
} from './errors.js';
import { isResolvable, missingPackageName, peerRange, polybusVersion } from './optional-require.js';
import { type Producer, ProducerImpl, type ProducerOptions } from './producer.js';
import { type BrokerConfig, checkBrokerConfig, parseBrokerUrl } from './url.js';

export type { Consumer, ConsumerOptions, ConsumerStats, Handler } from './consumer.js';
export type { Producer, ProducerOptions } from './producer.js';

/** A connection to one broker: makes producers and consumers and closes them all. */
export interface Broker {
  /** Which broker this is. */
  readonly name: BrokerName;
  producer<T = unknown>(options?: ProducerOptions<T>): Producer<T>;
  consumer<T = unknown>(options: ConsumerOptions<T>): Consumer<T>;
  /** Whether the broker answers. */
  health(): Promise<HealthStatus>;
  /** Closes consumers (draining in-flight work), then producers (flushing), then the connection. */
  close(): Promise<void>;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Use this adapter instead of the built-in one for the URL's broker (third-party adapters, tests). */
  adapter?: AdapterFactory;
}

interface AdapterModule {
  // Each module's factory takes its own config type; connect() hands it the matching one.
  createAdapter: AdapterFactory<never>;
}

/** What a broker speaks: the broker name, except that Pulsar's two transports need different clients. */
type Transport = Exclude<BrokerName, 'core' | 'pulsar'> | 'pulsar' | 'pulsar+ws';

/**
 * Lazy loaders of the built-in adapters. An adapter module may import its client package at its
 * top level: if that package is missing, {@link loadFactory} reports it with the install command.
 */
const BUILT_IN: ReadonlyMap<Transport, () => Promise<AdapterModule>> = new Map<Transport, () => Promise<AdapterModule>>(
  [
    ['memory', () => import('../adapters/memory/index.js')],
    ['kafka', () => import('../adapters/kafka/index.js')],
    ['kinesis', () => import('../adapters/kinesis/index.js')],
    ['pubsub', () => import('../adapters/pubsub/index.js')],
    ['pulsar', () => import('../adapters/pulsar/index.js')],
    ['pulsar+ws', () => import('../adapters/pulsar/index.js')],
    ['rabbitmq', () => import('../adapters/rabbitmq/index.js')],
  ],
);

/** npm packages each transport's adapter loads (version ranges come from polybus's peerDependencies). */
const CLIENT_PACKAGES: ReadonlyMap<Transport, readonly string[]> = new Map<Transport, readonly string[]>([
  ['memory', []],
  ['kafka', ['kafkajs']],
  ['rabbitmq', ['amqplib']],
  ['kinesis', ['@aws-sdk/client-kinesis', '@aws-sdk/client-dynamodb', '@smithy/node-http-handler']],
  ['pubsub', ['@google-cloud/pubsub']],
  ['pulsar', []],
  ['pulsar+ws', ['ws']],
]);

/**
 * Connects to the broker a URL names (`memory://`, `kafka://…`, `amqp://…`, `kinesis://…`,
 * `pubsub://…`, `pulsar://…`) or a config object. Swapping brokers is changing this URL.
 * @throws {InvalidUrlError} for a bad URL; {@link InvalidConfigError} for a bad config or option.
 * @throws {AdapterNotInstalledError} when this polybus version has no adapter for the broker, or
 *   the client package(s) the adapter needs are not installed.
 */
export async function connect(target: string | BrokerConfig, options: ConnectOptions = {}): Promise<Broker> {
  const config = typeof target === 'string' ? parseBrokerUrl(target) : checkBrokerConfig(target);
  const factory = checkOptions(options).adapter ?? (await loadFactory(config));
  return new BrokerImpl(await factory(config));
}

function checkOptions(options: unknown): ConnectOptions {
  const valid =
    typeof options === 'object' &&
    options !== null &&
    Object.keys(options).every((key) => key === 'adapter') &&
    ['undefined', 'function'].includes(typeof (options as ConnectOptions).adapter);
  if (!valid) {
    throw new InvalidConfigError('the options of connect() must be { adapter?: AdapterFactory }', {
      operation: 'connect',
      hint: 'Pass connect(url) or connect(url, { adapter: async (config) => myAdapter }).',
    });
  }
  return options as ConnectOptions;
}

function transportOf(config: BrokerConfig): Transport {
  return config.broker === 'pulsar' && config.transport === 'websocket' ? 'pulsar+ws' : config.broker;
}

/**
 * The factory of the built-in adapter for a config.
 * @throws {AdapterNotInstalledError} naming what is really missing: the adapter or its client.
 * @throws {BrokerError} (not retryable) when the adapter module fails to load for another reason.
 */
export async function loadFactory(
  config: BrokerConfig,
  loaders: ReadonlyMap<Transport, () => Promise<AdapterModule>> = BUILT_IN,
): Promise<AdapterFactory> {
  const transport = transportOf(config);
  const load = loaders.get(transport);
  if (load === undefined) {
    throw new AdapterNotInstalledError(config.broker, { kind: 'adapter', polybusVersion: polybusVersion() });
  }
  try {
    return (await load()).createAdapter as AdapterFactory;
  } catch (error) {
    throw adapterLoadError(config.broker, transport, error);
  }
}

function adapterLoadError(broker: BrokerName, transport: Transport, error: unknown): PolybusError {
  if (error instanceof PolybusError) return error; // e.g. requireClient() at the module's top level
  const missing = missingPackageName(error);
  const clients = CLIENT_PACKAGES.get(transport) ?? [];
  if (missing !== undefined && clients.includes(missing)) {
    // Name every client of the transport that is missing, not only the first one the loader hit.
    const names = clients.filter((name) => name === missing || !isResolvable(name));
    const packages = names.map((name) => ({ name, range: peerRange(name) }));
    return new AdapterNotInstalledError(broker, { kind: 'client', packages }, error);
  }
  return new BrokerError(
    broker,
    'load adapter',
    error,
    'The adapter module failed to load; reinstall polybus and its peer dependencies, and see the cause.',
    false,
  );
}

class BrokerImpl implements Broker {
  readonly #adapter: Adapter;
  readonly #producers = new Set<ProducerImpl<unknown>>();
  readonly #consumers = new Set<ConsumerImpl<unknown>>();
  #closed = false;

  constructor(adapter: Adapter) {
    this.#adapter = adapter;
  }

  get name(): BrokerName {
    return this.#adapter.broker;
  }

  producer<T = unknown>(options: ProducerOptions<T> = {}): Producer<T> {
    this.#assertOpen('producer');
    const producer = new ProducerImpl<T>(this.#adapter, options, (p) =>
      this.#producers.delete(p as ProducerImpl<unknown>),
    );
    this.#producers.add(producer as ProducerImpl<unknown>);
    return producer;
  }

  consumer<T = unknown>(options: ConsumerOptions<T>): Consumer<T> {
    this.#assertOpen('consumer');
    const consumer = new ConsumerImpl<T>(this.#adapter, options, (c) =>
      this.#consumers.delete(c as ConsumerImpl<unknown>),
    );
    this.#consumers.add(consumer as ConsumerImpl<unknown>);
    return consumer;
  }

  health(): Promise<HealthStatus> {
    if (this.#closed) return Promise.resolve({ ok: false, broker: this.#adapter.broker, detail: 'closed' });
    return this.#adapter.health();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((consumer) => consumer.close()));
    await Promise.all([...this.#producers].map((producer) => producer.close()));
    await this.#adapter.close();
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new ClosedError('broker connection', what, this.#adapter.broker);
  }
}
