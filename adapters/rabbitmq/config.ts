/**
 * The RabbitMQ adapter's own options: their types, defaults and validation. No amqplib import
 * here, so that URL parsing (src/url.ts) can use it without loading the client.
 *
 * The base of a RabbitMQ config (host, port, vhost, credentials, heartbeat, exchange, tls on/off)
 * is parsed by src/url.ts into `RabbitMqConfig`; these are the options besides it.
 */
import {
  boolean,
  collectOptions,
  fail,
  integer,
  type OptionParams,
  type OptionsSpec,
  oneOf,
} from '../shared/options.js';
import { parseTlsOptions, type TlsOptions, type TlsOptionsInput } from '../shared/tls.js';

/** RabbitMQ queue types polybus declares. */
export type RabbitMqQueueType = 'quorum' | 'classic';

/** The RabbitMQ options besides the URL's host, credentials, vhost, heartbeat and exchange. Every one has a default. */
export interface RabbitMqOptions {
  /**
   * Type of the queues polybus declares (default `quorum`: replicated, and counts deliveries in
   * `x-delivery-count`, which becomes `message.attempt`). `classic` queues count attempts in
   * process only.
   */
  queueType: RabbitMqQueueType;
  /**
   * `x-delivery-limit` of quorum queues (default 100,000). Set on purpose: without it RabbitMQ 3.x
   * puts a returned message at the back of the queue (rabbitmq-server#10499), which breaks per-key
   * order; with it, returned messages go back to the front in the order they were returned. It is
   * high on purpose: polybus's `maxDeliveries` + `deadLetter()` is the limit meant to act, while
   * RabbitMQ drops a message returned more often than this (polybus declares no dead-letter
   * exchange), so keep it above `maxDeliveries`.
   */
  deliveryLimit: number;
  /**
   * Declare queues with `x-single-active-consumer` (default false): one member of a group receives
   * at a time, the others stand by and take over when it leaves, so per-key order holds across the
   * group. Without it the members share the queue round-robin and order holds per consumer only.
   */
  singleActiveConsumer: boolean;
  /**
   * A send resolves once RabbitMQ confirmed every message, or rejects with a retryable
   * `BrokerError` this long after it started (default 30,000 ms), also while the broker is down.
   */
  confirmTimeoutMs: number;
  /**
   * Largest message body polybus sends, in bytes (default 16 MiB: RabbitMQ 4.x's default
   * `max_message_size`; 3.x accepts 128 MiB). Raise it only up to the broker's `max_message_size`:
   * RabbitMQ closes the channel on a larger message. Headers are limited separately to 64 KiB.
   */
  maxMessageBytes: number;
  /**
   * Declare the exchange, queues and bindings on first use (default true). With false nothing is
   * declared: the exchange and each group's queue must exist (a missing one is an error naming it),
   * for vhosts where the application has no `configure` permission.
   */
  autoDeclare: boolean;
  /** How long one connection attempt may take before it counts as failed (default 10,000 ms). */
  connectTimeoutMs: number;
  /** TLS settings for `amqps://` (config object only; certificate checks stay on by default). */
  tlsOptions: TlsOptions | undefined;
}

/** What a user passes: any subset of the options, TLS in its input form. */
export type RabbitMqOptionsInput = Partial<Omit<RabbitMqOptions, 'tlsOptions'>> & { tlsOptions?: TlsOptionsInput };

/** The defaults of every option. */
export const RABBITMQ_DEFAULTS: Readonly<RabbitMqOptions> = Object.freeze({
  queueType: 'quorum',
  deliveryLimit: 100_000,
  singleActiveConsumer: false,
  confirmTimeoutMs: 30_000,
  maxMessageBytes: 16 * 1024 * 1024,
  autoDeclare: true,
  connectTimeoutMs: 10_000,
  tlsOptions: undefined,
});

/** Heartbeat polybus asks for when the URL sets none, in seconds (dead connections are noticed within about twice this). */
export const DEFAULT_HEARTBEAT_SECONDS = 15;

/** RabbitMQ's hard cap on `max_message_size` (512 MiB). */
export const RABBITMQ_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

/** Query parameters of an `amqp://` URL the base parser already handles (src/url.ts). */
export const RABBITMQ_BASE_URL_PARAMS: ReadonlySet<string> = new Set(['heartbeat', 'exchange']);

/** Query parameters {@link parseRabbitMqOptions} reads from an `amqp://` URL. */
export const RABBITMQ_URL_PARAMS: ReadonlySet<string> = new Set([
  'queueType',
  'deliveryLimit',
  'singleActiveConsumer',
  'confirmTimeoutMs',
  'maxMessageBytes',
  'autoDeclare',
  'connectTimeoutMs',
]);

const QUEUE_TYPES: readonly RabbitMqQueueType[] = ['quorum', 'classic'];

const RABBITMQ_SPEC: OptionsSpec = {
  broker: 'rabbitmq',
  title: 'RabbitMQ',
  objectHint: "Pass { queueType: 'quorum', … } or an amqp:// URL.",
  urlParams: RABBITMQ_URL_PARAMS,
  baseUrlParams: RABBITMQ_BASE_URL_PARAMS,
  objectOnly: new Set(['tlsOptions']),
  baseConfigKeys: new Set([
    'broker',
    'host',
    'port',
    'vhost',
    'username',
    'password',
    'heartbeatSeconds',
    'exchange',
    'tls',
  ]),
  examples: {
    queueType: 'queueType=classic',
    deliveryLimit: 'deliveryLimit=100000',
    singleActiveConsumer: 'singleActiveConsumer=true',
    autoDeclare: 'autoDeclare=false',
    confirmTimeoutMs: 'confirmTimeoutMs=30000',
    connectTimeoutMs: 'connectTimeoutMs=10000',
    maxMessageBytes: `maxMessageBytes=${RABBITMQ_DEFAULTS.maxMessageBytes}`,
  },
};

/**
 * Reads and checks the RabbitMQ options from a URL's query (strings) or a config object (typed
 * values; numeric and boolean strings accepted too). Returns only the options given, validated.
 * In a config object the base fields (host, port, vhost, username, password, heartbeatSeconds,
 * exchange, tls, broker) are skipped, so a whole `RabbitMqConfig` may be passed.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseRabbitMqOptions(params: OptionParams): Partial<RabbitMqOptions> {
  const context = collectOptions(RABBITMQ_SPEC, params);
  const options: Partial<RabbitMqOptions> = {};
  for (const [name, value] of context.entries) {
    switch (name) {
      case 'queueType':
        options.queueType = oneOf(context, name, value, QUEUE_TYPES);
        break;
      case 'deliveryLimit':
        options.deliveryLimit = integer(context, name, value, 1, 2_147_483_647);
        break;
      case 'singleActiveConsumer':
        options.singleActiveConsumer = boolean(context, name, value);
        break;
      case 'autoDeclare':
        options.autoDeclare = boolean(context, name, value);
        break;
      case 'confirmTimeoutMs':
        options.confirmTimeoutMs = integer(context, name, value, 100, 600_000);
        break;
      case 'connectTimeoutMs':
        options.connectTimeoutMs = integer(context, name, value, 100, 600_000);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(context, name, value, 1024, RABBITMQ_MAX_MESSAGE_BYTES);
        break;
      case 'tlsOptions':
        options.tlsOptions = parseTlsOptions('rabbitmq', 'tlsOptions', value);
        break;
    }
  }
  if (options.queueType === 'classic' && options.deliveryLimit !== undefined) {
    throw fail(
      context,
      'deliveryLimit applies to quorum queues only (classic queues have no delivery limit)',
      'Remove deliveryLimit, or use queueType=quorum.',
    );
  }
  return options;
}

/**
 * All options: those given (validated by {@link parseRabbitMqOptions}) over the defaults, checked
 * against the base config (`tlsOptions` need `amqps://`).
 * @throws {InvalidConfigError} as {@link parseRabbitMqOptions} does.
 */
export function resolveRabbitMqOptions(input: Readonly<Record<string, unknown>> = {}): RabbitMqOptions {
  const options: RabbitMqOptions = { ...RABBITMQ_DEFAULTS, ...parseRabbitMqOptions(input) };
  if (options.tlsOptions !== undefined && input.tls === false) {
    throw fail(
      { spec: RABBITMQ_SPEC, source: 'config' },
      'tlsOptions are given but TLS is off',
      'Use an amqps:// URL (or tls: true in the config object) to connect with TLS.',
    );
  }
  return options;
}
