import type { Adapter, AdapterFactory, HealthStatus } from './adapter.js';
import { type Consumer, ConsumerImpl, type ConsumerOptions } from './consumer.js';
import { AdapterNotInstalledError, type BrokerName, ClosedError, InvalidConfigError } from './errors.js';
import { type Producer, ProducerImpl, type ProducerOptions } from './producer.js';
import { type BrokerConfig, parseBrokerUrl } from './url.js';

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

/** Lazy loaders of the built-in adapters; each imports its broker client only when used. */
const BUILT_IN: Partial<Record<BrokerName, () => Promise<AdapterModule>>> = {
  memory: () => import('../adapters/memory/index.js'),
};

/** npm packages each broker's adapter needs, for the "what to install" hint. */
const CLIENT_PACKAGES: Record<Exclude<BrokerName, 'core' | 'memory'>, string> = {
  kafka: 'kafkajs',
  rabbitmq: 'amqplib',
  kinesis: '@aws-sdk/client-kinesis',
  pubsub: '@google-cloud/pubsub',
  pulsar: 'pulsar-client',
};

/**
 * Connects to the broker a URL names (`memory://`, `kafka://…`, `amqp://…`, `kinesis://…`,
 * `pubsub://…`, `pulsar://…`) or a parsed config. Swapping brokers is changing this URL.
 */
export async function connect(target: string | BrokerConfig, options: ConnectOptions = {}): Promise<Broker> {
  const config = typeof target === 'string' ? parseBrokerUrl(target) : target;
  if (!config || typeof config !== 'object' || typeof config.broker !== 'string') {
    throw new InvalidConfigError('connect() needs a broker URL or config', {
      operation: 'connect',
      hint: "Example: connect('memory://') or connect(process.env.BROKER_URL).",
    });
  }
  const factory = options.adapter ?? (await loadFactory(config.broker));
  return new BrokerImpl(await factory(config));
}

async function loadFactory(broker: BrokerName): Promise<AdapterFactory> {
  const load = BUILT_IN[broker];
  if (!load) {
    const packageName = broker === 'core' || broker === 'memory' ? 'polybus' : CLIENT_PACKAGES[broker];
    throw new AdapterNotInstalledError(
      broker,
      packageName,
      new Error(
        `this version of polybus does not ship the ${broker} adapter yet; pass connect(url, { adapter }) to use your own`,
      ),
    );
  }
  return (await load()).createAdapter as AdapterFactory;
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
