/**
 * The Kafka adapter's own options: their types, defaults and validation. No kafkajs import here,
 * so that URL parsing (src/url.ts) can use it without loading the client.
 */
import { InvalidConfigError, InvalidUrlError, type PolybusErrorOptions } from '../../src/errors.js';
import { parseTlsOptions, type TlsOptions, type TlsOptionsInput } from '../shared/tls.js';

/** Log levels of {@link KafkaOptions.logLevel}, most quiet first. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** One line of kafkajs's own log, as {@link KafkaOptions.onLog} receives it. */
export interface KafkaLogEntry {
  level: Exclude<KafkaLogLevel, 'nothing'>;
  /** kafkajs component, e.g. `Consumer`, `Connection`, `BrokerPool`. */
  namespace: string;
  message: string;
  /** ISO time kafkajs stamped on it. */
  timestamp: string;
  /** kafkajs's structured fields (broker, groupId, error, …), with credentials redacted. */
  extra: Record<string, unknown>;
}

/** TLS settings (config object only): CA, client certificate and key, servername, rejectUnauthorized. */
export type KafkaTlsOptions = TlsOptionsInput;

/** The Kafka options besides the URL's brokers, clientId, ssl and sasl. Every one has a default. */
export interface KafkaOptions {
  /**
   * Partitions of topics polybus creates (default 3; -1: the broker's `num.partitions`).
   * Partitions bound how many members of a group work at once; 3 lets a group of three share a
   * topic while each key stays in order, where Kafka's own default of 1 would leave every member
   * but one idle.
   */
  partitions: number;
  /** Replicas of topics polybus creates (default -1: the broker's `default.replication.factor`). */
  replicationFactor: number;
  /** Create a missing topic on first publish or subscribe (default true). With false, a missing topic is a `TopicNotFoundError`. */
  autoCreateTopics: boolean;
  /** Record batch compression (default `none`). */
  compression: 'none' | 'gzip';
  /** Acknowledgements the broker waits for: -1 all in-sync replicas (default), 1 the leader, 0 none. 1 and 0 need `idempotent: false`. */
  acks: -1 | 0 | 1;
  /** Idempotent producer: retries never duplicate or reorder a partition's records (default true; needs acks -1). */
  idempotent: boolean;
  /** Consumer session timeout: a member silent this long leaves the group (default 30,000 ms). */
  sessionTimeoutMs: number;
  /** Consumer heartbeat interval, below a third of the session timeout (default 3,000 ms). */
  heartbeatIntervalMs: number;
  /**
   * Largest message (payload + key + headers) polybus sends, in bytes (default 1,046,528: 1 MiB
   * minus 2 KiB of record-batch overhead, below Kafka's default `message.max.bytes` of
   * 1,048,588). Raise it only with the broker's `message.max.bytes` and the topic's
   * `max.message.bytes`. Larger messages are refused before sending; batches are split below it.
   */
  maxMessageBytes: number;
  /** A send resolves, or rejects with a retryable error, within this time, even while the broker is down (default 30,000 ms). */
  sendTimeoutMs: number;
  /** TLS settings (config object only); giving them turns TLS on. */
  tls: TlsOptions | undefined;
  /** Which kafkajs log lines go to {@link onLog} (default `error`). Nothing is ever printed to the console. */
  logLevel: KafkaLogLevel;
  /** Receives kafkajs's own log lines at {@link logLevel} and above (config object only; default: none). */
  onLog: ((entry: KafkaLogEntry) => void) | undefined;
}

/** What a user passes: any subset of the options, TLS in its input form. */
export type KafkaOptionsInput = Partial<Omit<KafkaOptions, 'tls'>> & { tls?: KafkaTlsOptions };

/** The defaults of every option. */
export const KAFKA_DEFAULTS: Readonly<KafkaOptions> = Object.freeze({
  partitions: 3,
  replicationFactor: -1,
  autoCreateTopics: true,
  compression: 'none',
  acks: -1,
  idempotent: true,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxMessageBytes: 1_046_528,
  sendTimeoutMs: 30_000,
  tls: undefined,
  logLevel: 'error',
  onLog: undefined,
});

/** Query parameters of a `kafka://` URL the base parser already handles (src/url.ts). */
export const KAFKA_BASE_URL_PARAMS: ReadonlySet<string> = new Set(['clientId', 'ssl', 'sasl', 'username', 'password']);

/** Query parameters {@link parseKafkaOptions} reads from a `kafka://` URL. */
export const KAFKA_URL_PARAMS: ReadonlySet<string> = new Set([
  'partitions',
  'replicationFactor',
  'autoCreateTopics',
  'compression',
  'acks',
  'idempotent',
  'sessionTimeoutMs',
  'heartbeatIntervalMs',
  'maxMessageBytes',
  'sendTimeoutMs',
  'logLevel',
]);

/** Options only a config object can carry (objects and functions). */
const OBJECT_ONLY = new Set(['tls', 'onLog']);

/** Keys of the base KafkaConfig, ignored here when a whole config object is passed. */
const BASE_CONFIG_KEYS = new Set(['broker', 'brokers', 'clientId', 'ssl', 'sasl']);

const LOG_LEVELS: readonly KafkaLogLevel[] = ['nothing', 'error', 'warn', 'info', 'debug'];

type Source = 'url' | 'config';

/**
 * Reads and checks the Kafka options from a URL's query (strings) or a config object (typed
 * values; numeric and boolean strings accepted too). Returns only the options given, validated;
 * the checks that relate options (acks with idempotent, heartbeat below session timeout) use the
 * defaults for the ones not given.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseKafkaOptions(
  params: URLSearchParams | ReadonlyMap<string, string> | Readonly<Record<string, unknown>>,
): Partial<KafkaOptions> {
  const fromUrl = params instanceof URLSearchParams || params instanceof Map;
  const source: Source = fromUrl ? 'url' : 'config';
  const entries = new Map<string, unknown>();
  if (params instanceof Map) {
    // A URL query already split into name → value (src/url.ts), each name once.
    for (const [name, value] of params as ReadonlyMap<string, string>) {
      if (KAFKA_BASE_URL_PARAMS.has(name)) continue;
      if (!KAFKA_URL_PARAMS.has(name)) throw unknownParam(name);
      entries.set(name, value);
    }
  } else if (params instanceof URLSearchParams) {
    for (const name of new Set(params.keys())) {
      if (KAFKA_BASE_URL_PARAMS.has(name)) continue;
      if (!KAFKA_URL_PARAMS.has(name)) throw unknownParam(name);
      const values = params.getAll(name);
      if (values.length > 1) throw fail(source, `${name} is given ${values.length} times`, 'Give each option once.');
      entries.set(name, values[0]);
    }
  } else {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw fail(source, 'the Kafka options must be an object', 'Pass { partitions: 3, … } or a kafka:// URL.');
    }
    for (const [name, value] of Object.entries(params)) {
      if (BASE_CONFIG_KEYS.has(name) || value === undefined) continue;
      if (!KAFKA_URL_PARAMS.has(name) && !OBJECT_ONLY.has(name)) {
        throw fail(
          source,
          `unknown option "${name}"`,
          `Known options: ${[...KAFKA_URL_PARAMS, ...OBJECT_ONLY].join(', ')} (plus brokers, clientId, ssl, sasl)`,
        );
      }
      entries.set(name, value);
    }
  }

  const options: Partial<KafkaOptions> = {};
  for (const [name, value] of entries) {
    switch (name) {
      case 'partitions':
        options.partitions = integer(source, name, value, 1, 100_000, [-1]);
        break;
      case 'replicationFactor':
        options.replicationFactor = integer(source, name, value, 1, 32_767, [-1]);
        break;
      case 'autoCreateTopics':
        options.autoCreateTopics = boolean(source, name, value);
        break;
      case 'idempotent':
        options.idempotent = boolean(source, name, value);
        break;
      case 'compression':
        if (value !== 'none' && value !== 'gzip') {
          throw fail(
            source,
            `compression must be none or gzip, not ${quote(value)}`,
            'kafkajs ships gzip only; other codecs need plugins polybus does not load.',
          );
        }
        options.compression = value;
        break;
      case 'acks': {
        const acks = value === 'all' ? -1 : integer(source, name, value, -1, 1, []);
        options.acks = acks as -1 | 0 | 1;
        break;
      }
      case 'sessionTimeoutMs':
        options.sessionTimeoutMs = integer(source, name, value, 1_000, 3_600_000, []);
        break;
      case 'heartbeatIntervalMs':
        options.heartbeatIntervalMs = integer(source, name, value, 100, 1_200_000, []);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(source, name, value, 1_024, 1_073_741_824, []);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(source, name, value, 1_000, 600_000, []);
        break;
      case 'logLevel':
        if (typeof value !== 'string' || !(LOG_LEVELS as readonly string[]).includes(value)) {
          throw fail(
            source,
            `logLevel must be one of ${LOG_LEVELS.join(', ')}, not ${quote(value)}`,
            'Example: logLevel=warn.',
          );
        }
        options.logLevel = value as KafkaLogLevel;
        break;
      case 'onLog':
        if (typeof value !== 'function') {
          throw fail(
            source,
            'onLog must be a function (entry) => void',
            'Example: onLog: (entry) => logger.warn(entry).',
          );
        }
        options.onLog = value as (entry: KafkaLogEntry) => void;
        break;
      case 'tls':
        options.tls = parseTlsOptions('kafka', 'tls', value);
        break;
    }
  }

  const idempotent = options.idempotent ?? KAFKA_DEFAULTS.idempotent;
  const acks = options.acks ?? KAFKA_DEFAULTS.acks;
  if (idempotent && acks !== -1) {
    throw fail(
      source,
      `acks ${acks} does not go with the idempotent producer (it needs acks -1)`,
      'Keep acks=-1, or set idempotent=false as well to trade the no-duplicates guarantee for acks 0/1.',
    );
  }
  const session = options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs;
  const heartbeat = options.heartbeatIntervalMs ?? KAFKA_DEFAULTS.heartbeatIntervalMs;
  if (heartbeat >= session) {
    throw fail(
      source,
      `heartbeatIntervalMs (${heartbeat}) must be below sessionTimeoutMs (${session})`,
      'Use about a third of the session timeout, e.g. sessionTimeoutMs=30000&heartbeatIntervalMs=3000.',
    );
  }
  return options;
}

function unknownParam(name: string): InvalidUrlError | InvalidConfigError {
  const hint = OBJECT_ONLY.has(name)
    ? `${name} cannot go in a URL; pass it in the config object: connect({ ...config, ${name} })`
    : `Known parameters: ${[...KAFKA_BASE_URL_PARAMS, ...KAFKA_URL_PARAMS].join(', ')}`;
  const shown = /^[a-z][\w.-]{0,31}$/i.test(name) ? ` "${name}"` : '';
  return fail('url', `unknown query parameter${shown}`, hint);
}

/** All options: those given (validated by {@link parseKafkaOptions}) over the defaults. */
export function resolveKafkaOptions(input: Readonly<Record<string, unknown>> = {}): KafkaOptions {
  return { ...KAFKA_DEFAULTS, ...parseKafkaOptions(input) };
}

function integer(source: Source, name: string, value: unknown, min: number, max: number, also: number[]): number {
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isInteger(number) && ((number >= min && number <= max) || also.includes(number))) return number;
  const extra = also.length > 0 ? ` or ${also.join(', ')}` : '';
  throw fail(source, `${name} must be an integer from ${min} to ${max}${extra}, not ${quote(value)}`, exampleOf(name));
}

function boolean(source: Source, name: string, value: unknown): boolean {
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw fail(source, `${name} must be true or false, not ${quote(value)}`, exampleOf(name));
}

function exampleOf(name: string): string {
  const examples: Record<string, string> = {
    partitions: 'partitions=6 (or -1 for the broker default)',
    replicationFactor: 'replicationFactor=3 (or -1 for the broker default)',
    autoCreateTopics: 'autoCreateTopics=false',
    idempotent: 'idempotent=false',
    acks: 'acks=-1 (all), 1 (leader) or 0 (none)',
    sessionTimeoutMs: 'sessionTimeoutMs=30000',
    heartbeatIntervalMs: 'heartbeatIntervalMs=3000',
    maxMessageBytes: 'maxMessageBytes=1046528',
    sendTimeoutMs: 'sendTimeoutMs=30000',
  };
  return `Example: ${examples[name] ?? name}.`;
}

function quote(value: unknown): string {
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function fail(source: Source, problem: string, hint: string): InvalidUrlError | InvalidConfigError {
  const options: PolybusErrorOptions = {
    broker: 'kafka',
    operation: source === 'url' ? 'parse URL' : 'configure',
    hint: hint.endsWith('.') ? hint : `${hint}.`,
  };
  return source === 'url' ? new InvalidUrlError(problem, options) : new InvalidConfigError(problem, options);
}
