/**
 * The Kafka adapter's own options: their types, defaults and validation. No kafkajs import here,
 * so that URL parsing (src/url.ts) can use it without loading the client.
 */
import {
  boolean,
  collectOptions,
  fail,
  integer,
  isShowableName,
  type OptionContext,
  type OptionParams,
  type OptionsSpec,
  oneOf,
} from '../shared/options.js';
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

const LOG_LEVELS: readonly KafkaLogLevel[] = ['nothing', 'error', 'warn', 'info', 'debug'];
const COMPRESSIONS: readonly KafkaOptions['compression'][] = ['none', 'gzip'];

const KAFKA_SPEC: OptionsSpec = {
  broker: 'kafka',
  title: 'Kafka',
  objectHint: 'Pass { partitions: 3, … } or a kafka:// URL.',
  urlParams: KAFKA_URL_PARAMS,
  baseUrlParams: KAFKA_BASE_URL_PARAMS,
  objectOnly: new Set(['tls', 'onLog']),
  baseConfigKeys: new Set(['broker', 'brokers', 'clientId', 'ssl', 'sasl']),
  examples: {
    partitions: 'partitions=6 (or -1 for the broker default)',
    replicationFactor: 'replicationFactor=3 (or -1 for the broker default)',
    autoCreateTopics: 'autoCreateTopics=false',
    idempotent: 'idempotent=false',
    acks: 'acks=-1 (all), 1 (leader) or 0 (none)',
    sessionTimeoutMs: 'sessionTimeoutMs=30000',
    heartbeatIntervalMs: 'heartbeatIntervalMs=3000',
    maxMessageBytes: 'maxMessageBytes=1046528',
    sendTimeoutMs: 'sendTimeoutMs=30000',
    logLevel: 'logLevel=warn',
  },
  // Kafka's wording from before the shared module: values with "@" quoted, every unknown key of a
  // config object named, an odd URL parameter name left out.
  quoteRule: { maxLength: 40, longer: 'cut', showAt: true },
  showName: (name, source) => (source === 'config' || isShowableName(name) ? `"${name}"` : ''),
  objectOnlyHint: (name) => `${name} cannot go in a URL; pass it in the config object: connect({ ...config, ${name} })`,
};

/**
 * Reads and checks the Kafka options from a URL's query (strings) or a config object (typed
 * values; numeric and boolean strings accepted too). Returns only the options given, validated;
 * the checks that relate options (acks with idempotent, heartbeat below session timeout) use the
 * defaults for the ones not given.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseKafkaOptions(params: OptionParams): Partial<KafkaOptions> {
  const context = collectOptions(KAFKA_SPEC, params);
  const options: Partial<KafkaOptions> = {};
  for (const [name, value] of context.entries) {
    switch (name) {
      case 'partitions':
        options.partitions = integer(context, name, value, 1, 100_000, [-1]);
        break;
      case 'replicationFactor':
        options.replicationFactor = integer(context, name, value, 1, 32_767, [-1]);
        break;
      case 'autoCreateTopics':
        options.autoCreateTopics = boolean(context, name, value);
        break;
      case 'idempotent':
        options.idempotent = boolean(context, name, value);
        break;
      case 'compression':
        options.compression = oneOf(
          context,
          name,
          value,
          COMPRESSIONS,
          'kafkajs ships gzip only; other codecs need plugins polybus does not load.',
        );
        break;
      case 'acks':
        options.acks = (value === 'all' ? -1 : integer(context, name, value, -1, 1)) as -1 | 0 | 1;
        break;
      case 'sessionTimeoutMs':
        options.sessionTimeoutMs = integer(context, name, value, 1_000, 3_600_000);
        break;
      case 'heartbeatIntervalMs':
        options.heartbeatIntervalMs = integer(context, name, value, 100, 1_200_000);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(context, name, value, 1_024, 1_073_741_824);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(context, name, value, 1_000, 600_000);
        break;
      case 'logLevel':
        options.logLevel = oneOf(context, name, value, LOG_LEVELS);
        break;
      case 'onLog':
        if (typeof value !== 'function') {
          throw fail(
            context,
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
  checkRelatedOptions(context, options);
  return options;
}

/** The checks that relate options, with the defaults for those not given. */
function checkRelatedOptions(context: OptionContext, options: Partial<KafkaOptions>): void {
  const idempotent = options.idempotent ?? KAFKA_DEFAULTS.idempotent;
  const acks = options.acks ?? KAFKA_DEFAULTS.acks;
  if (idempotent && acks !== -1) {
    throw fail(
      context,
      `acks ${acks} does not go with the idempotent producer (it needs acks -1)`,
      'Keep acks=-1, or set idempotent=false as well to trade the no-duplicates guarantee for acks 0/1.',
    );
  }
  const session = options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs;
  const heartbeat = options.heartbeatIntervalMs ?? KAFKA_DEFAULTS.heartbeatIntervalMs;
  if (heartbeat >= session) {
    throw fail(
      context,
      `heartbeatIntervalMs (${heartbeat}) must be below sessionTimeoutMs (${session})`,
      'Use about a third of the session timeout, e.g. sessionTimeoutMs=30000&heartbeatIntervalMs=3000.',
    );
  }
}

/** All options: those given (validated by {@link parseKafkaOptions}) over the defaults. */
export function resolveKafkaOptions(input: Readonly<Record<string, unknown>> = {}): KafkaOptions {
  return { ...KAFKA_DEFAULTS, ...parseKafkaOptions(input) };
}
