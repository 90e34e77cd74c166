/**
 * The Pulsar adapter's own options: their types, defaults and validation. No client import here
 * (neither our binary-protocol client nor `ws`), so that URL parsing (src/url.ts) can use it
 * without loading anything.
 *
 * The base of a Pulsar config (transport, serviceUrl, tls on/off, tenant, namespace, token) is
 * parsed by src/url.ts into `PulsarConfig`; these are the options besides it.
 */
import {
  boolean,
  collectOptions,
  fail,
  integer,
  type OptionContext,
  type OptionParams,
  type OptionsSpec,
  oneOf,
  quote,
} from '../shared/options.js';
import { parseTlsOptions, type TlsOptions, type TlsOptionsInput } from '../shared/tls.js';

/** Pulsar subscription types a group can use. */
export type PulsarSubscriptionType = 'Key_Shared' | 'Shared' | 'Failover' | 'Exclusive';

/** Payload compression of published messages. */
export type PulsarCompression = 'none' | 'lz4' | 'zlib' | 'zstd' | 'snappy';

/** The Pulsar options besides the URL's host, tenant, namespace and token. Every one has a default. */
export interface PulsarOptions {
  /**
   * Subscription type of every group (default `Key_Shared`): members share the messages and each
   * key is served by one member at a time, so per-key order holds across the group. `Shared`
   * spreads messages round-robin (no per-key order across members); `Failover` and `Exclusive`
   * give the whole topic to one member (Exclusive refuses a second member; Failover keeps it on
   * standby).
   */
  subscriptionType: PulsarSubscriptionType;
  /**
   * Partitions of the topics polybus creates (default 0: non-partitioned, created by the broker on
   * first use when its `allowAutoTopicCreation` is on, as it is by default). With N > 0 and
   * `autoCreate`, a missing topic is created as a partitioned topic with N partitions through
   * the admin REST API (`adminUrl`). Existing topics are used as they are.
   */
  partitions: number;
  /**
   * Create missing topics (default true). With false, polybus checks through the admin REST API
   * that a topic exists before its first use, and a missing one is a `TopicNotFoundError`.
   */
  autoCreate: boolean;
  /** Compression of published payloads (default none). */
  compression: PulsarCompression;
  /**
   * Batch messages on the binary transport (default true: a batch never mixes keys, at most 1000
   * messages, 128 KiB, `batchingMaxDelayMs`). The WebSocket transport never batches.
   */
  batching: boolean;
  /** Longest a message waits for its batch to fill, in ms (binary transport; default 10). */
  batchingMaxDelayMs: number;
  /**
   * A send rejects with a retryable `BrokerError` when the broker has not confirmed it within
   * this (default 30,000 ms), also while the broker is down: sends never hang.
   */
  sendTimeoutMs: number;
  /** Timeout of lookups, subscribing and other requests, in ms (default 30,000). */
  operationTimeoutMs: number;
  /** Timeout of one TCP/TLS/WebSocket connect, in ms (default 10,000). */
  connectTimeoutMs: number;
  /**
   * Largest message (payload + key + headers) polybus sends, in bytes. Default: 5 MiB (the
   * broker's default `maxMessageSize`) on the binary transport; 765 KiB on the WebSocket
   * transport, whose base64 JSON frames must fit the proxy's 1 MiB `webSocketMaxTextFrameSize`.
   * Raise it only with the broker's limits.
   */
  maxMessageBytes: number | undefined;
  /**
   * The admin REST API, `http(s)://host:port` (default: the broker's web service on the same host,
   * port 8080, or 8443 with TLS; for `pulsar+ws(s)://` the URL's own host and port). Used only to
   * create partitioned topics (`partitions` > 0) and to check topics with `autoCreate=false`.
   */
  adminUrl: string | undefined;
  /** TLS settings (config object only; certificate checks stay on by default). */
  tlsOptions: TlsOptions | undefined;
}

/** What a user passes: any subset of the options, TLS in its input form. */
export type PulsarOptionsInput = Partial<Omit<PulsarOptions, 'tlsOptions'>> & { tlsOptions?: TlsOptionsInput };

/** The defaults of every option. */
export const PULSAR_DEFAULTS: Readonly<PulsarOptions> = Object.freeze({
  subscriptionType: 'Key_Shared',
  partitions: 0,
  autoCreate: true,
  compression: 'none',
  batching: true,
  batchingMaxDelayMs: 1,
  sendTimeoutMs: 30_000,
  operationTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  maxMessageBytes: undefined,
  adminUrl: undefined,
  tlsOptions: undefined,
});

/** The broker's default `maxMessageSize` (5 MiB): the binary transport's default limit. */
export const PULSAR_BINARY_MAX_MESSAGE_BYTES = 5 * 1024 * 1024;
/** The WebSocket proxy's default `webSocketMaxTextFrameSize` (1 MiB). */
export const PULSAR_WS_MAX_FRAME_BYTES = 1024 * 1024;
/** The WebSocket transport's default limit: base64 (4/3) of it plus the JSON around it fits one 1 MiB frame. */
export const PULSAR_WS_MAX_MESSAGE_BYTES = 765 * 1024;
/** The WebSocket proxy refuses a consumer's `receiverQueueSize` above this. */
export const PULSAR_WS_MAX_QUEUE = 1000;

/** Query parameters of a `pulsar://` URL the base parser already handles (src/url.ts). */
export const PULSAR_BASE_URL_PARAMS: ReadonlySet<string> = new Set(['tenant', 'namespace', 'token']);

/** Query parameters {@link parsePulsarOptions} reads from a `pulsar://` URL. */
export const PULSAR_URL_PARAMS: ReadonlySet<string> = new Set([
  'subscriptionType',
  'partitions',
  'autoCreate',
  'compression',
  'batching',
  'batchingMaxDelayMs',
  'sendTimeoutMs',
  'operationTimeoutMs',
  'connectTimeoutMs',
  'maxMessageBytes',
  'adminUrl',
]);

const SUBSCRIPTION_TYPES: readonly PulsarSubscriptionType[] = ['Key_Shared', 'Shared', 'Failover', 'Exclusive'];
const COMPRESSIONS: readonly PulsarCompression[] = ['none', 'lz4', 'zlib', 'zstd', 'snappy'];

const PULSAR_SPEC: OptionsSpec = {
  broker: 'pulsar',
  title: 'Pulsar',
  objectHint: "Pass { subscriptionType: 'Key_Shared', … }",
  urlParams: PULSAR_URL_PARAMS,
  baseUrlParams: PULSAR_BASE_URL_PARAMS,
  objectOnly: new Set(['tlsOptions']),
  baseConfigKeys: new Set(['broker', 'transport', 'serviceUrl', 'tls', 'tenant', 'namespace', 'token']),
};

/**
 * Reads and checks the Pulsar options from a URL's query (URLSearchParams, or the map src/url.ts's
 * `parseQuery` gives, values as strings) or a config object (typed values; numeric and boolean strings
 * accepted too). Returns only the options given, validated. In a config object the base fields
 * (broker, transport, serviceUrl, tls, tenant, namespace, token) are skipped, so a whole
 * `PulsarConfig` may be passed; in a URL query the base parameters (tenant, namespace, token).
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parsePulsarOptions(params: OptionParams): Partial<PulsarOptions> {
  const context = collectOptions(PULSAR_SPEC, params);
  const options: Partial<PulsarOptions> = {};
  for (const [name, value] of context.entries) {
    switch (name) {
      case 'subscriptionType':
        options.subscriptionType = oneOf(context, name, value, SUBSCRIPTION_TYPES);
        break;
      case 'compression':
        options.compression = oneOf(context, name, value, COMPRESSIONS);
        break;
      case 'partitions':
        options.partitions = integer(context, name, value, 0, 10_000);
        break;
      case 'autoCreate':
        options.autoCreate = boolean(context, name, value);
        break;
      case 'batching':
        options.batching = boolean(context, name, value);
        break;
      case 'batchingMaxDelayMs':
        options.batchingMaxDelayMs = integer(context, name, value, 0, 10_000);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(context, name, value, 100, 3_600_000);
        break;
      case 'operationTimeoutMs':
        options.operationTimeoutMs = integer(context, name, value, 100, 600_000);
        break;
      case 'connectTimeoutMs':
        options.connectTimeoutMs = integer(context, name, value, 100, 600_000);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(context, name, value, 1024, 1024 * 1024 * 1024);
        break;
      case 'adminUrl':
        options.adminUrl = adminUrl(context, value);
        break;
      case 'tlsOptions':
        options.tlsOptions = parseTlsOptions('pulsar', 'tlsOptions', value);
        break;
    }
  }
  return options;
}

/**
 * All options: those given (validated by {@link parsePulsarOptions}) over the defaults, checked
 * against the base config (`tlsOptions` need a TLS URL).
 * @throws {InvalidConfigError} as {@link parsePulsarOptions} does.
 */
export function resolvePulsarOptions(input: Readonly<Record<string, unknown>> = {}): PulsarOptions {
  const options: PulsarOptions = { ...PULSAR_DEFAULTS, ...parsePulsarOptions(input) };
  if (options.tlsOptions !== undefined && input.tls === false) {
    throw fail(
      { spec: PULSAR_SPEC, source: 'config' },
      'tlsOptions are given but TLS is off',
      'Use a pulsar+ssl:// or pulsar+wss:// URL (or tls: true in the config object) to connect with TLS',
    );
  }
  return options;
}

/** The effective message size limit of a transport. */
export function maxMessageBytesOf(options: Pick<PulsarOptions, 'maxMessageBytes'>, transport: string): number {
  if (options.maxMessageBytes !== undefined) return options.maxMessageBytes;
  return transport === 'websocket' ? PULSAR_WS_MAX_MESSAGE_BYTES : PULSAR_BINARY_MAX_MESSAGE_BYTES;
}

function adminUrl(context: OptionContext, value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  const match = /^(https?):\/\/([\w.-]+|\[[\da-f:.]+\])(?::(\d{1,5}))?\/?$/i.exec(text);
  if (!match || (match[3] !== undefined && Number(match[3]) > 65535)) {
    throw fail(
      context,
      `adminUrl must be http(s)://host[:port] without credentials or path, not ${quote(context, value)}`,
      'Example: adminUrl=http://pulsar:8080',
    );
  }
  return text.replace(/\/$/, '');
}
