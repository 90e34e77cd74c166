/**
 * The Pulsar adapter: `pulsar://host:6650` and `pulsar+ssl://host:6651` speak the binary protocol
 * through our own client (adapters/pulsar/client, no native code); `pulsar+ws://host:8080` and
 * `pulsar+wss://host:8443` speak the broker's WebSocket API through the `ws` package. Both
 * transports sit behind the same publisher and subscriber, so the semantics are the same. See
 * config.ts for the options, topology.ts for names and what is created.
 */
import type {
  Adapter,
  Capabilities,
  HealthStatus,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from '../../src/adapter.js';
import { ClosedError, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { importClient } from '../../src/optional-require.js';
import type { PulsarConfig } from '../../src/url.js';
import { nodeTlsOptions } from '../shared/tls.js';
import { BinaryTransport, type ClientModule } from './binary.js';
import {
  maxMessageBytesOf,
  PULSAR_DEFAULTS,
  PULSAR_WS_MAX_QUEUE,
  type PulsarOptions,
  type PulsarOptionsInput,
  resolvePulsarOptions,
} from './config.js';
import { toPolybusError } from './errors.js';
import { PulsarPublisher } from './publisher.js';
import { AttemptMemory, PulsarSubscription } from './subscriber.js';
import { checkName, defaultAdminUrl, PulsarTopology, tlsConnectOptions } from './topology.js';
import type { PulsarTransport } from './transport.js';
import type { WsModule } from './websocket/transport.js';

export {
  maxMessageBytesOf,
  PULSAR_BASE_URL_PARAMS,
  PULSAR_BINARY_MAX_MESSAGE_BYTES,
  PULSAR_DEFAULTS,
  PULSAR_URL_PARAMS,
  PULSAR_WS_MAX_MESSAGE_BYTES,
  type PulsarCompression,
  type PulsarOptions,
  type PulsarOptionsInput,
  type PulsarSubscriptionType,
  parsePulsarOptions,
  resolvePulsarOptions,
} from './config.js';
export { TopicNotFoundError } from './errors.js';
export { checkName, fullTopicName } from './topology.js';

/**
 * What a Pulsar adapter can do with the given options.
 *
 * - `perKeyOrdering`: true except with `Shared` subscriptions (Key_Shared serves each key from one
 *   member at a time; Failover and Exclusive from one member only).
 * - `replay`: true (`from: 'earliest'` starts a new subscription at the earliest message).
 * - `nativeDelay`: true (negative acknowledgement with a delay).
 * - `nativeDeadLetter`: true (Pulsar has dead-letter policies); polybus's deadLetter() does not use them.
 * - `maxMessageBytes`: 5 MiB on the binary transport (the broker's default `maxMessageSize`),
 *   765 KiB over WebSocket (base64 in one 1 MiB text frame), or `maxMessageBytes`.
 */
export function pulsarCapabilities(
  options: Pick<PulsarOptions, 'subscriptionType' | 'maxMessageBytes'>,
  transport: 'binary' | 'websocket' = 'binary',
): Capabilities {
  return Object.freeze({
    perKeyOrdering: options.subscriptionType !== 'Shared',
    persistent: true,
    replay: true,
    nativeDelay: true,
    nativeDeadLetter: true,
    maxMessageBytes: maxMessageBytesOf(options, transport),
    maxBatch: 10_000,
  });
}

/** The capabilities with the default options on the binary transport. */
export const PULSAR_CAPABILITIES: Capabilities = pulsarCapabilities(PULSAR_DEFAULTS, 'binary');
/** The capabilities with the default options on the WebSocket transport. */
export const PULSAR_WS_CAPABILITIES: Capabilities = pulsarCapabilities(PULSAR_DEFAULTS, 'websocket');

class PulsarAdapter implements Adapter {
  readonly broker = 'pulsar' as const;
  readonly capabilities: Capabilities;
  readonly #transport: PulsarTransport;
  readonly #options: PulsarOptions;
  readonly #topology: PulsarTopology;
  readonly #publisher: PulsarPublisher;
  readonly #subscriptions = new Set<PulsarSubscription>();
  readonly #attempts = new AttemptMemory();
  #closed = false;

  constructor(transport: PulsarTransport, options: PulsarOptions, topology: PulsarTopology) {
    this.#transport = transport;
    this.#options = options;
    this.#topology = topology;
    this.capabilities = pulsarCapabilities(options, transport.kind);
    this.#publisher = new PulsarPublisher(transport, topology);
  }

  async start(): Promise<void> {
    try {
      await this.#transport.start();
    } catch (error) {
      await this.#transport.close().catch(() => {});
      throw toPolybusError('connect', error);
    }
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'send', 'pulsar'));
    return this.#publisher.publish(topic, records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'pulsar');
    const topic = this.#topology.topicName(options.topic, 'subscribe');
    checkName('group', options.group, 'subscribe');
    await this.#topology.ensure(options.topic, 'subscribe');
    const queue =
      this.#transport.kind === 'websocket' ? Math.min(options.prefetch, PULSAR_WS_MAX_QUEUE) : options.prefetch;
    const subscription = new PulsarSubscription(options, {
      attempts: this.#attempts,
      subscriptionType: this.#options.subscriptionType,
      open: (onMessage, onError) =>
        this.#transport.subscribe({
          topic,
          subscription: options.group,
          subscriptionType: this.#options.subscriptionType,
          initialPosition: options.from,
          receiverQueueSize: Math.max(1, queue),
          onMessage,
          onError: (error) => onError(toPolybusError('consume', error)),
        }),
      onClose: (closed) => this.#subscriptions.delete(closed),
    });
    try {
      await subscription.start();
    } catch (error) {
      throw toPolybusError('subscribe', error);
    }
    if (this.#closed) {
      await subscription.close();
      throw new ClosedError('connection', 'subscribe', 'pulsar');
    }
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'pulsar', detail: 'closed' };
    const { ok, detail } = await this.#transport.health();
    return { ok, broker: 'pulsar', detail: `${this.#transport.kind}: ${detail}` };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#publisher.close();
    await this.#transport.close();
  }
}

/**
 * Adapter factory for `pulsar://`, `pulsar+ssl://`, `pulsar+ws://` and `pulsar+wss://` URLs (or a
 * `PulsarConfig`, with the options of {@link PulsarOptionsInput} beside its fields). Connects
 * before it resolves.
 * @throws {InvalidConfigError} for a bad option; {@link AdapterNotInstalledError} without `ws`
 *   (WebSocket transport only); `BrokerError` when Pulsar cannot be reached (retryable) or refuses
 *   the token (not retryable).
 */
export async function createAdapter(config: PulsarConfig & PulsarOptionsInput): Promise<Adapter> {
  if (config?.broker !== 'pulsar') {
    throw new InvalidConfigError(`the pulsar adapter got a ${String(config?.broker)} config`, {
      broker: 'pulsar',
      operation: 'connect',
      hint: 'Use a pulsar://, pulsar+ssl://, pulsar+ws:// or pulsar+wss:// URL.',
    });
  }
  const options = resolvePulsarOptions(config as unknown as Readonly<Record<string, unknown>>);
  const transportKind = config.transport === 'websocket' ? 'websocket' : 'binary';
  const tls = options.tlsOptions === undefined ? undefined : tlsConnectOptions(nodeTlsOptions(options.tlsOptions));
  const topology = new PulsarTopology({
    tenant: config.tenant,
    namespace: config.namespace,
    partitions: options.partitions,
    autoCreate: options.autoCreate,
    adminUrl: options.adminUrl ?? defaultAdminUrl(config.serviceUrl, config.tls, transportKind),
    token: config.token,
    tlsOptions: options.tlsOptions,
    timeoutMs: options.operationTimeoutMs,
  });
  let transport: PulsarTransport;
  if (transportKind === 'websocket') {
    const [ws, transportModule] = await Promise.all([
      importClient<WsModule>('pulsar', 'ws'),
      import('./websocket/transport.js'),
    ]);
    transport = new transportModule.WebSocketTransport(ws, {
      serviceUrl: config.serviceUrl,
      tenant: config.tenant,
      namespace: config.namespace,
      token: config.token,
      tls,
      options,
    });
  } else {
    const client = await import('./client/index.js').then((module) => module as ClientModule);
    transport = new BinaryTransport(client, config.serviceUrl, config.token?.reveal(), options, tls);
  }
  const adapter = new PulsarAdapter(transport, options, topology);
  await adapter.start();
  return adapter;
}
