/**
 * The Kafka adapter (`kafka://host:9092[,host2:9092]`), on kafkajs, an optional peer dependency
 * loaded only when a Kafka connection is made.
 */
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Admin, Consumer, Kafka, KafkaConfig as KafkajsConfig, Producer } from 'kafkajs';
import type {
  Adapter,
  Capabilities,
  HealthStatus,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from '../../src/adapter.js';
import { ClosedError, errorText, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { importClient } from '../../src/optional-require.js';
import type { KafkaConfig } from '../../src/url.js';
import { healthReport, type NotedError } from '../shared/health.js';
import { startTracked } from '../shared/subscriptions.js';
import { nodeTlsOptions } from '../shared/tls.js';
import { type KafkaOptions, type KafkaOptionsInput, resolveKafkaOptions } from './config.js';
import { toBrokerError } from './errors.js';
import { createLogCreator, kafkajsLogLevel } from './logger.js';
import { KafkaPublisher } from './publisher.js';
import { KafkaSubscription } from './subscriber.js';
import { checkTopicName, KafkaTopology } from './topology.js';

export { TopicNotFoundError } from '../shared/errors.js';
export type { KafkaLogEntry, KafkaLogLevel, KafkaOptions, KafkaOptionsInput, KafkaTlsOptions } from './config.js';
export { KAFKA_DEFAULTS, KAFKA_URL_PARAMS, parseKafkaOptions, resolveKafkaOptions } from './config.js';
export type { KafkaRawMessage } from './subscriber.js';

/**
 * What Kafka offers. Per-key order within a partition; messages persist and a new group can
 * replay them; no broker-side delayed redelivery or dead-letter queue (the consumer core retries
 * in process and the deadLetter() middleware publishes to a topic). `maxMessageBytes` is the
 * default; an adapter reports its configured value.
 */
export const KAFKA_CAPABILITIES: Capabilities = Object.freeze({
  perKeyOrdering: true,
  persistent: true,
  replay: true,
  nativeDelay: false,
  nativeDeadLetter: false,
  maxMessageBytes: 1_046_528,
  maxBatch: 10_000,
});

/** The parsed URL plus any of the Kafka options (validated here). */
export type KafkaAdapterConfig = KafkaConfig & KafkaOptionsInput;

type KafkajsModule = typeof import('kafkajs');

/** Timing of kafkajs clients: bounded retries everywhere, so that nothing waits forever. */
const CONNECTION_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 30_000;
const REBALANCE_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 5_000;

/** kafkajs, loaded on first use (CommonJS: its exports are the module's default). */
async function loadKafkajs(): Promise<KafkajsModule> {
  const loaded = await importClient<KafkajsModule & { default?: KafkajsModule }>('kafka', 'kafkajs');
  return loaded.default ?? loaded;
}

class KafkaAdapter implements Adapter {
  readonly broker = 'kafka' as const;
  readonly capabilities: Capabilities;
  readonly #kafkajs: KafkajsModule;
  readonly #config: KafkaConfig;
  readonly #options: KafkaOptions;
  readonly #kafka: Kafka;
  readonly #topology: KafkaTopology;
  readonly #publisher: KafkaPublisher;
  readonly #subscriptions = new Set<KafkaSubscription>();
  #admin: Promise<Admin> | undefined;
  #healthCheck: Promise<number> | undefined;
  /** A separate client that does not retry, so that health() says "unreachable" at once. */
  readonly #probeKafka: Kafka;
  #probe: Promise<Admin> | undefined;
  #lastError: NotedError | undefined;
  #closed = false;

  constructor(kafkajs: KafkajsModule, config: KafkaConfig, options: KafkaOptions) {
    this.#kafkajs = kafkajs;
    this.#config = config;
    this.#options = options;
    this.capabilities = Object.freeze({ ...KAFKA_CAPABILITIES, maxMessageBytes: options.maxMessageBytes });
    this.#kafka = new kafkajs.Kafka(this.#clientConfig());
    this.#probeKafka = new kafkajs.Kafka({ ...this.#clientConfig(), retry: { retries: 0 } });
    this.#topology = new KafkaTopology(() => this.#adminClient(), options);
    const partitioner = kafkajs.Partitioners.DefaultPartitioner();
    this.#publisher = new KafkaPublisher({
      createProducer: () => this.#createProducer(),
      partitioner,
      partitions: (topic, operation) => this.#topology.partitions(topic, operation),
      forget: (topic) => this.#topology.forget(topic),
      acks: options.acks,
      compression: options.compression,
      maxMessageBytes: options.maxMessageBytes,
      sendTimeoutMs: options.sendTimeoutMs,
      onError: (error) => this.#noteError(error.message),
    });
  }

  #clientConfig(): KafkajsConfig {
    const tls = this.#options.tls;
    const secrets: string[] = [];
    const sasl = this.#config.sasl;
    if (sasl) secrets.push(sasl.password.reveal());
    if (tls?.key) secrets.push(tls.key.reveal());
    if (tls?.passphrase) secrets.push(tls.passphrase.reveal());
    const bridge = {
      level: this.#options.logLevel,
      onLog: this.#options.onLog,
      onError: (entry: { message: string }) => this.#noteError(`kafkajs: ${entry.message}`),
      secrets,
    };
    const config: KafkajsConfig = {
      clientId: this.#config.clientId,
      brokers: this.#config.brokers,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      enforceRequestTimeout: true,
      // Connection retries ride through a broker restart (about a minute in all) instead of
      // crashing the consumer: a crashed consumer rejoins as a new member, and the group then
      // waits a session timeout for the old one.
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
      logLevel: kafkajsLogLevel(bridge),
      logCreator: createLogCreator(bridge),
    };
    if (tls !== undefined) {
      const { ca, cert, ...node } = nodeTlsOptions(tls);
      const buffer = (pem: string | Uint8Array): string | Buffer => (typeof pem === 'string' ? pem : Buffer.from(pem));
      const ssl: TlsConnectionOptions = { ...node };
      if (ca !== undefined) ssl.ca = ca.map(buffer);
      if (cert !== undefined) ssl.cert = buffer(cert);
      config.ssl = ssl;
    } else if (this.#config.ssl) {
      config.ssl = true;
    }
    if (sasl) {
      // Spelled out per mechanism: kafkajs types each as its own object.
      const credentials = { username: sasl.username, password: sasl.password.reveal() };
      config.sasl =
        sasl.mechanism === 'plain'
          ? { mechanism: 'plain', ...credentials }
          : sasl.mechanism === 'scram-sha-256'
            ? { mechanism: 'scram-sha-256', ...credentials }
            : { mechanism: 'scram-sha-512', ...credentials };
    }
    return config;
  }

  #createProducer(): Producer {
    const idempotent = this.#options.idempotent;
    return this.#kafka.producer({
      idempotent,
      maxInFlightRequests: idempotent ? 1 : 5,
      allowAutoTopicCreation: false,
      createPartitioner: this.#kafkajs.Partitioners.DefaultPartitioner,
      // Bounded (an idempotent kafkajs producer retries forever by default): about 25 s in all,
      // inside sendTimeoutMs; a failed producer is replaced, so sequence numbers never clash.
      retry: { retries: 8, initialRetryTime: 250, maxRetryTime: 5_000, factor: 0.2, multiplier: 2 },
    });
  }

  #createConsumer(group: string, restartOnFailure: (error: Error) => Promise<boolean>): Consumer {
    return this.#kafka.consumer({
      groupId: group,
      sessionTimeout: this.#options.sessionTimeoutMs,
      heartbeatInterval: this.#options.heartbeatIntervalMs,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000, restartOnFailure },
    });
  }

  #adminClient(): Promise<Admin> {
    if (this.#admin !== undefined) return this.#admin;
    const admin = this.#kafka.admin({ retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 } });
    const connecting = admin.connect().then(
      () => admin,
      (error: unknown) => {
        if (this.#admin === connecting) this.#admin = undefined;
        admin.disconnect().catch(() => {});
        throw toBrokerError('connect admin client', error);
      },
    );
    this.#admin = connecting;
    return connecting;
  }

  #probeClient(): Promise<Admin> {
    if (this.#probe !== undefined) return this.#probe;
    const admin = this.#probeKafka.admin({ retry: { retries: 0 } });
    const connecting = admin.connect().then(
      () => admin,
      (error: unknown) => {
        if (this.#probe === connecting) this.#probe = undefined;
        admin.disconnect().catch(() => {});
        throw error;
      },
    );
    this.#probe = connecting;
    return connecting;
  }

  #noteError(text: string): void {
    this.#lastError = { text, at: Date.now() };
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'kafka'));
    return this.#publisher.publish(topic, records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'kafka');
    checkTopicName(options.topic, 'subscribe');
    if (typeof options.group !== 'string' || options.group.length === 0 || options.group.length > 255) {
      throw new InvalidConfigError('the consumer group must be a non-empty string of at most 255 characters', {
        broker: 'kafka',
        operation: 'subscribe',
        hint: "Example: bus.consumer({ topic: 'orders', group: 'billing' }).",
      });
    }
    const subscription = new KafkaSubscription(options, {
      createConsumer: (restartOnFailure) => this.#createConsumer(options.group, restartOnFailure),
      ensureTopic: async (topic) => (await this.#topology.partitions(topic, 'subscribe')).length,
      uncommittedEnds: (group, topic) => this.#topology.uncommittedEnds(group, topic, 'subscribe'),
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: REBALANCE_TIMEOUT_MS,
    });
    return startTracked(subscription, this.#subscriptions, () => this.#closed, 'kafka');
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'kafka', detail: 'closed' };
    const where = this.#config.brokers.join(',');
    this.#healthCheck ??= this.#probeClient()
      .then((admin) => admin.describeCluster())
      .then((cluster) => cluster.brokers.length)
      .finally(() => {
        this.#healthCheck = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS);
    });
    let reachable: string;
    let ok = true;
    try {
      const brokers = await Promise.race([this.#healthCheck, timeout]);
      reachable = `${where}: ${brokers} broker(s) reachable`;
    } catch (error) {
      ok = false;
      reachable = `${where}: unreachable (${errorText(error)})`;
    } finally {
      clearTimeout(timer);
    }
    return healthReport('kafka', { ok, detail: reachable }, this.#subscriptions, this.#lastError);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    this.#subscriptions.clear();
    await this.#publisher.close();
    const clients = [this.#admin, this.#probe];
    this.#admin = undefined;
    this.#probe = undefined;
    await Promise.all(clients.map((client) => client?.then((a) => a.disconnect()).catch(() => {})));
  }
}

/**
 * Adapter factory for `kafka://` URLs: the parsed URL config plus any {@link KafkaOptions}
 * (validated here; see README for each). Loads kafkajs on first use.
 *
 * @throws {AdapterNotInstalledError} when kafkajs is not installed.
 * @throws {InvalidConfigError} for a config that is not a Kafka one or has invalid options.
 */
export async function createAdapter(config: KafkaAdapterConfig): Promise<Adapter> {
  if (config === null || typeof config !== 'object' || config.broker !== 'kafka') {
    throw new InvalidConfigError(`the kafka adapter got a ${String((config as { broker?: unknown })?.broker)} config`, {
      broker: 'kafka',
      operation: 'connect',
      hint: 'Use a kafka://host:9092 URL.',
    });
  }
  if (
    !Array.isArray(config.brokers) ||
    config.brokers.length === 0 ||
    !config.brokers.every((b) => typeof b === 'string' && b.length > 0)
  ) {
    throw new InvalidConfigError('brokers must be a non-empty list of host:port', {
      broker: 'kafka',
      operation: 'connect',
      hint: "Example: kafka://127.0.0.1:9092,host2:9092, or { broker: 'kafka', brokers: ['127.0.0.1:9092'], clientId: 'app', ssl: false }.",
    });
  }
  const options = resolveKafkaOptions(config as unknown as Record<string, unknown>);
  const kafkajs = await loadKafkajs();
  return new KafkaAdapter(kafkajs, { ...config, clientId: config.clientId || 'polybus' }, options);
}
