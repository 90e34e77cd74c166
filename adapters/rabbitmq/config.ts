/**
 * The RabbitMQ adapter's own options: their types, defaults and validation. No amqplib import
 * here, so that URL parsing (src/url.ts) can use it without loading the client.
 *
 * The base of a RabbitMQ config (host, port, vhost, credentials, heartbeat, exchange, tls on/off)
 * is parsed by src/url.ts into `RabbitMqConfig`; these are the options besides it.
 */
import { InvalidConfigError, InvalidUrlError, type PolybusErrorOptions } from '../../src/errors.js';
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

/** Options only a config object can carry (objects). */
const OBJECT_ONLY: ReadonlySet<string> = new Set(['tlsOptions']);

/** Keys of the base RabbitMqConfig, ignored here when a whole config object is passed. */
const BASE_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'broker',
  'tls',
  'host',
  'port',
  'vhost',
  'username',
  'password',
  'heartbeatSeconds',
  'exchange',
]);

type Source = 'url' | 'config';

/**
 * Reads and checks the RabbitMQ options from a URL's query (strings) or a config object (typed
 * values; numeric and boolean strings accepted too). Returns only the options given, validated.
 * In a config object the base fields (host, port, vhost, username, password, heartbeatSeconds,
 * exchange, tls, broker) are skipped, so a whole `RabbitMqConfig` may be passed.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseRabbitMqOptions(
  params: URLSearchParams | Readonly<Record<string, unknown>>,
): Partial<RabbitMqOptions> {
  const source: Source = params instanceof URLSearchParams ? 'url' : 'config';
  const entries = new Map<string, unknown>();
  if (params instanceof URLSearchParams) {
    for (const name of new Set(params.keys())) {
      if (RABBITMQ_BASE_URL_PARAMS.has(name)) continue;
      if (!RABBITMQ_URL_PARAMS.has(name)) {
        const shown = /^[a-z][\w.-]{0,31}$/i.test(name) ? `"${name}"` : '(name not shown)';
        const hint = OBJECT_ONLY.has(name)
          ? `${name} cannot go in a URL; pass it in the config object: connect({ ...parseBrokerUrl(url), ${name} })`
          : `Known parameters: ${[...RABBITMQ_BASE_URL_PARAMS, ...RABBITMQ_URL_PARAMS].join(', ')}`;
        throw fail(source, `unknown query parameter ${shown}`, hint);
      }
      const values = params.getAll(name);
      if (values.length > 1) throw fail(source, `${name} is given ${values.length} times`, 'Give each option once.');
      entries.set(name, values[0]);
    }
  } else {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw fail(
        source,
        'the RabbitMQ options must be an object',
        "Pass { queueType: 'quorum', … } or an amqp:// URL.",
      );
    }
    for (const [name, value] of Object.entries(params)) {
      if (BASE_CONFIG_KEYS.has(name) || value === undefined) continue;
      if (!RABBITMQ_URL_PARAMS.has(name) && !OBJECT_ONLY.has(name)) {
        const shown = /^[a-z][\w.-]{0,31}$/i.test(name) ? `"${name}"` : '(name not shown)';
        throw fail(
          source,
          `unknown option ${shown}`,
          `Known options: ${[...RABBITMQ_URL_PARAMS, ...OBJECT_ONLY].join(', ')} (plus host, port, vhost, username, password, heartbeatSeconds, exchange, tls)`,
        );
      }
      entries.set(name, value);
    }
  }

  const options: Partial<RabbitMqOptions> = {};
  for (const [name, value] of entries) {
    switch (name) {
      case 'queueType':
        if (value !== 'quorum' && value !== 'classic') {
          throw fail(source, `queueType must be quorum or classic, not ${quote(value)}`, 'Example: queueType=classic.');
        }
        options.queueType = value;
        break;
      case 'deliveryLimit':
        options.deliveryLimit = integer(source, name, value, 1, 2_147_483_647);
        break;
      case 'singleActiveConsumer':
        options.singleActiveConsumer = boolean(source, name, value);
        break;
      case 'autoDeclare':
        options.autoDeclare = boolean(source, name, value);
        break;
      case 'confirmTimeoutMs':
        options.confirmTimeoutMs = integer(source, name, value, 100, 600_000);
        break;
      case 'connectTimeoutMs':
        options.connectTimeoutMs = integer(source, name, value, 100, 600_000);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(source, name, value, 1024, RABBITMQ_MAX_MESSAGE_BYTES);
        break;
      case 'tlsOptions':
        options.tlsOptions = parseTlsOptions('rabbitmq', 'tlsOptions', value);
        break;
    }
  }
  if (options.queueType === 'classic' && options.deliveryLimit !== undefined) {
    throw fail(
      source,
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
      'config',
      'tlsOptions are given but TLS is off',
      'Use an amqps:// URL (or tls: true in the config object) to connect with TLS.',
    );
  }
  return options;
}

function integer(source: Source, name: string, value: unknown, min: number, max: number): number {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(number) && number >= min && number <= max) return number;
  throw fail(source, `${name} must be an integer from ${min} to ${max}, not ${quote(value)}`, exampleOf(name));
}

function boolean(source: Source, name: string, value: unknown): boolean {
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw fail(source, `${name} must be true or false, not ${quote(value)}`, exampleOf(name));
}

function exampleOf(name: string): string {
  const examples: Record<string, string> = {
    deliveryLimit: 'deliveryLimit=100000',
    singleActiveConsumer: 'singleActiveConsumer=true',
    autoDeclare: 'autoDeclare=false',
    confirmTimeoutMs: 'confirmTimeoutMs=30000',
    connectTimeoutMs: 'connectTimeoutMs=10000',
    maxMessageBytes: `maxMessageBytes=${RABBITMQ_DEFAULTS.maxMessageBytes}`,
  };
  return `Example: ${examples[name] ?? name}.`;
}

function quote(value: unknown): string {
  if (typeof value === 'string') {
    if (value.includes('@')) return '(value not shown)';
    return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function fail(source: Source, problem: string, hint: string): InvalidUrlError | InvalidConfigError {
  const options: PolybusErrorOptions = {
    broker: 'rabbitmq',
    operation: source === 'url' ? 'parse URL' : 'configure',
    hint: hint.endsWith('.') ? hint : `${hint}.`,
  };
  return source === 'url' ? new InvalidUrlError(problem, options) : new InvalidConfigError(problem, options);
}
