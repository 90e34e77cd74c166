/**
 * The Google Cloud Pub/Sub adapter (`pubsub://<project-id>[?emulatorHost=127.0.0.1:8085]`), on
 * `@google-cloud/pubsub`, an optional peer dependency loaded only when a Pub/Sub connection is made.
 */
import type { ClientConfig, PubSub, SubscriberOptions } from '@google-cloud/pubsub';
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
import type { PubSubConfig } from '../../src/url.js';
import { healthReport, type NotedError } from '../shared/health.js';
import { startTracked } from '../shared/subscriptions.js';
import { type PubSubOptions, type PubSubOptionsInput, resolvePubSubOptions } from './config.js';
import { GRPC, grpcCode } from './errors.js';
import { type PublishTarget, PubSubPublisher } from './publisher.js';
import { PubSubSubscription, type StreamingSubscription } from './subscriber.js';
import { PubSubTopology, type TopologyClient } from './topology.js';

export { TopicNotFoundError } from '../shared/errors.js';
export type {
  PubSubAckBatching,
  PubSubBatching,
  PubSubOptions,
  PubSubOptionsInput,
  PubSubServiceAccountCredentials,
} from './config.js';
export {
  PUBSUB_DEFAULTS,
  PUBSUB_MAX_MESSAGE_BYTES,
  PUBSUB_URL_PARAMS,
  parsePubSubOptions,
  resolvePubSubOptions,
} from './config.js';
export { SubscriptionNotFoundError } from './errors.js';
export { EMPTY_MESSAGE_ATTRIBUTE } from './publisher.js';
export type { ReceivedPubSubMessage as PubSubRawMessage } from './subscriber.js';
export { subscriptionName } from './topology.js';

/**
 * What Pub/Sub offers through this adapter. Per-key order with ordering keys (subscriptions are
 * created with message ordering on); messages persist until acked. No replay: a new subscription
 * only gets messages published after it exists. No native delay: `nack()` redelivers at once and
 * a delayed redelivery would need whole-second ack deadlines outside the client's lease manager,
 * so the consumer core holds failed messages for their backoff (the client keeps their lease).
 * Pub/Sub has dead-letter policies, but polybus does not set them: deadLetter() publishes to a
 * topic, as on every broker. `maxMessageBytes` is Pub/Sub's limit; an adapter reports its
 * configured value.
 */
export const PUBSUB_CAPABILITIES: Capabilities = Object.freeze({
  perKeyOrdering: true,
  persistent: true,
  replay: false,
  nativeDelay: false,
  nativeDeadLetter: false,
  maxMessageBytes: 10_000_000,
  maxBatch: 10_000,
});

/** The parsed URL plus any of the Pub/Sub options (validated here). */
export type PubSubAdapterConfig = PubSubConfig & PubSubOptionsInput;

type PubSubModule = typeof import('@google-cloud/pubsub');

/** How long the client keeps extending a message's lease (its maxExtensionTime). */
const MAX_LEASE_MS = 60 * 60_000;
/** Longest a subscription's close waits for the client to send pending acks and nacks. */
const CLOSE_FLUSH_MS = 10_000;
/** Timeout of admin calls (create topic / subscription, read subscription) and of health(). */
const ADMIN_TIMEOUT_MS = 30_000;
const HEALTH_TIMEOUT_MS = 5_000;

async function loadClient(): Promise<PubSubModule> {
  const loaded = await importClient<PubSubModule & { default?: PubSubModule }>('pubsub', '@google-cloud/pubsub');
  return loaded.PubSub === undefined && loaded.default !== undefined ? loaded.default : loaded;
}

class PubSubAdapter implements Adapter {
  readonly broker = 'pubsub' as const;
  readonly capabilities: Capabilities;
  readonly #module: PubSubModule;
  readonly #config: PubSubConfig;
  readonly #options: PubSubOptions;
  readonly #client: PubSub;
  readonly #topology: PubSubTopology;
  readonly #publisher: PubSubPublisher;
  readonly #subscriptions = new Set<PubSubSubscription>();
  #lastError: NotedError | undefined;
  #closed = false;

  constructor(module: PubSubModule, config: PubSubConfig, options: PubSubOptions) {
    this.#module = module;
    this.#config = config;
    this.#options = options;
    this.capabilities = Object.freeze({ ...PUBSUB_CAPABILITIES, maxMessageBytes: options.maxMessageBytes });
    this.#client = new module.PubSub(this.#clientConfig());
    this.#topology = new PubSubTopology(this.#topologyClient(), {
      projectId: config.projectId,
      autoCreate: options.autoCreate,
      ackDeadlineSeconds: options.ackDeadlineSeconds,
      subscriptionPrefix: options.subscriptionPrefix,
    });
    this.#publisher = new PubSubPublisher({
      target: (topic) => this.#publishTarget(topic),
      topology: this.#topology,
      maxMessageBytes: options.maxMessageBytes,
      sendTimeoutMs: options.sendTimeoutMs,
      onError: (error) => this.#noteError(error),
    });
  }

  #clientConfig(): ClientConfig {
    const config: ClientConfig = { projectId: this.#config.projectId };
    if (this.#config.emulatorHost !== undefined) {
      config.apiEndpoint = this.#config.emulatorHost;
      config.emulatorMode = true;
      // The emulator needs no credentials. Naming the universe stops the client's auth library
      // from probing for a GCE metadata server (seconds of delay and a MetadataLookupWarning).
      config.universeDomain = 'googleapis.com';
    }
    if (this.#options.keyFilename !== undefined) config.keyFilename = this.#options.keyFilename;
    const credentials = this.#options.credentials;
    if (credentials !== undefined) {
      config.credentials = { client_email: credentials.client_email, private_key: credentials.private_key.reveal() };
    }
    return config;
  }

  #topologyClient(): TopologyClient {
    const gaxOpts = { timeout: ADMIN_TIMEOUT_MS };
    return {
      createTopic: (topic) => this.#client.createTopic({ name: topic }, gaxOpts),
      createSubscription: (topic, subscription, ackDeadlineSeconds) =>
        this.#client.createSubscription(topic, subscription, {
          enableMessageOrdering: true,
          ackDeadlineSeconds,
          gaxOpts,
        }),
      subscriptionMetadata: async (subscription) => {
        const [metadata] = await this.#client.subscription(subscription).getMetadata(gaxOpts);
        return { topic: metadata.topic ?? null, enableMessageOrdering: metadata.enableMessageOrdering ?? null };
      },
    };
  }

  #publishTarget(topic: string): PublishTarget {
    const { batching, sendTimeoutMs } = this.#options;
    return this.#client.topic(topic, {
      messageOrdering: true,
      batching: { maxMessages: batching.maxMessages, maxMilliseconds: batching.maxMilliseconds },
      // Bounds the publish RPC and its retries, so that a send settles within sendTimeoutMs.
      gaxOpts: { timeout: sendTimeoutMs },
    });
  }

  #createStream(name: string, prefetch: number): StreamingSubscription {
    const { Duration } = this.#module;
    const { ackDeadlineSeconds, ackBatching } = this.#options;
    const options: SubscriberOptions = {
      flowControl: { maxMessages: prefetch, allowExcessMessages: false },
      batching: { maxMessages: ackBatching.maxMessages, maxMilliseconds: ackBatching.maxMilliseconds },
      minAckDeadline: Duration.from({ seconds: ackDeadlineSeconds }),
      maxAckDeadline: Duration.from({ seconds: Math.max(ackDeadlineSeconds, 600) }),
      maxExtensionTime: Duration.from({ milliseconds: MAX_LEASE_MS }),
      // NACK: once the core has settled its messages, send every pending ack, nack what the core
      // never got (messages held back by flow control), and wait for both to reach Pub/Sub.
      // ('WAIT' would also wait for those held-back messages, which are never dispensed after
      // close, so it would sit out its whole timeout.)
      closeOptions: { behavior: 'NACK', timeout: Duration.from({ milliseconds: CLOSE_FLUSH_MS }) },
    };
    return this.#client.subscription(name, options) as unknown as StreamingSubscription;
  }

  #noteError(error: Error): void {
    this.#lastError = { text: errorText(error), at: Date.now() };
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'pubsub'));
    return this.#publisher.publish(topic, records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'pubsub');
    const subscription = new PubSubSubscription(
      {
        ...options,
        onError: (error) => {
          this.#noteError(error);
          options.onError(error);
        },
      },
      {
        topology: this.#topology,
        createStream: (name, prefetch) => this.#createStream(name, prefetch),
        maxLeaseMs: MAX_LEASE_MS,
        closeTimeoutMs: CLOSE_FLUSH_MS,
      },
    );
    return startTracked(subscription, this.#subscriptions, () => this.#closed, 'pubsub');
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'pubsub', detail: 'closed' };
    const where = this.#config.emulatorHost
      ? `emulator ${this.#config.emulatorHost}, project ${this.#config.projectId}`
      : `project ${this.#config.projectId}`;
    let ok = true;
    let reachable: string;
    try {
      await this.#client.getTopics({
        pageSize: 1,
        autoPaginate: false,
        // One try: health() reports what it finds now, not after the client's retries.
        gaxOpts: { timeout: HEALTH_TIMEOUT_MS, maxRetries: 0, autoPaginate: false },
      });
      reachable = `${where}: reachable`;
    } catch (error) {
      if (grpcCode(error) === GRPC.PERMISSION_DENIED) {
        // Answered: the credentials may not list topics, which health() does not need.
        reachable = `${where}: reachable`;
      } else {
        ok = false;
        reachable = `${where}: unreachable (${errorText(error)})`;
      }
    }
    return healthReport('pubsub', { ok, detail: reachable }, this.#subscriptions, this.#lastError);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    this.#subscriptions.clear();
    await this.#publisher.flush();
    await this.#client.close().catch(() => {});
  }
}

/**
 * Adapter factory for `pubsub://` URLs: the parsed URL config plus any {@link PubSubOptions}
 * (validated here; see README for each). Loads `@google-cloud/pubsub` on first use. Credentials:
 * `keyFilename` or `credentials` in the config object, else Application Default Credentials;
 * with `emulatorHost`, none.
 *
 * @throws {AdapterNotInstalledError} when `@google-cloud/pubsub` is not installed.
 * @throws {InvalidConfigError} for a config that is not a Pub/Sub one or has invalid options.
 */
export async function createAdapter(config: PubSubAdapterConfig): Promise<Adapter> {
  if (config === null || typeof config !== 'object' || config.broker !== 'pubsub') {
    throw new InvalidConfigError(
      `the pubsub adapter got a ${String((config as { broker?: unknown } | null)?.broker)} config`,
      { broker: 'pubsub', operation: 'connect', hint: 'Use a pubsub://<project-id> URL.' },
    );
  }
  if (typeof config.projectId !== 'string' || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(config.projectId)) {
    throw new InvalidConfigError(
      'projectId must be a Google Cloud project id (6-30 lowercase letters, digits, hyphens)',
      {
        broker: 'pubsub',
        operation: 'connect',
        hint: "Example: pubsub://my-project, or { broker: 'pubsub', projectId: 'my-project' }.",
      },
    );
  }
  if (config.emulatorHost !== undefined && !/^[^:/\s@]+:\d{1,5}$/.test(config.emulatorHost)) {
    throw new InvalidConfigError('emulatorHost must be host:port', {
      broker: 'pubsub',
      operation: 'connect',
      hint: 'Example: pubsub://my-project?emulatorHost=127.0.0.1:8085.',
    });
  }
  const options = resolvePubSubOptions(config as unknown as Record<string, unknown>);
  const module = await loadClient();
  const base: PubSubConfig = { broker: 'pubsub', projectId: config.projectId };
  if (config.emulatorHost !== undefined) base.emulatorHost = config.emulatorHost;
  return new PubSubAdapter(module, base, options);
}
