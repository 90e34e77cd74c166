/**
 * The Kinesis adapter's own options: their types, defaults and validation. No AWS SDK import
 * here, so that URL parsing (src/url.ts) can use it without loading the clients.
 *
 * `kinesis://<region>?endpoint=…&shards=…&accessKeyId=…&secretAccessKey=…` are parsed by
 * src/url.ts into {@link KinesisConfig}; everything else is read by {@link parseKinesisOptions}.
 */
import { InvalidConfigError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import type { KinesisConfig } from '../../src/url.js';
import {
  boolean,
  collectOptions,
  fail,
  integer,
  type OptionContext,
  type OptionParams,
  type OptionsSpec,
  quote,
} from '../shared/options.js';

/** The Kinesis options besides the URL's region, endpoint, shards and access keys. Every one has a default. */
export interface KinesisOptions {
  /**
   * DynamoDB endpoint for the lease tables, e.g. `http://127.0.0.1:4568` (default: AWS's regional
   * endpoint). Required when `endpoint` is set, so that an emulated stream never gets its leases
   * in a real AWS account by accident: give `dynamoEndpoint=aws` to mean AWS on purpose.
   */
  dynamoEndpoint: string | undefined;
  /**
   * Name of the DynamoDB lease table of a consumer group (default `polybus.{group}.{stream}`: one
   * table per group and stream). `{group}` and `{stream}` are replaced; the result must be 3-255
   * characters of `A-Z a-z 0-9 _ . -`. A name without placeholders serves one group on one stream.
   */
  leaseTable: string;
  /**
   * Create a missing stream (with `shards` shards) on first publish or subscribe, and a missing lease
   * table (on-demand capacity) on first subscribe (default true). With false, a missing stream is a
   * `TopicNotFoundError` and a missing lease table a `LeaseTableNotFoundError`.
   */
  autoCreate: boolean;
  /**
   * A lease not renewed for this long is taken over by another member (default 10,000 ms, KCL's
   * default). Members renew every third of it, look for leases to take or balance every half of it.
   */
  failoverTimeMs: number;
  /**
   * Time between `GetRecords` calls on a shard with nothing new (default 1,000 ms; 200 ms at least,
   * since Kinesis allows 5 calls a second per shard, shared by every group). While records keep
   * coming a shard is read every 200 ms.
   */
  pollIntervalMs: number;
  /**
   * Longest time between checkpoints of a shard with progress (default 1,000 ms; 0: as soon as one
   * write ends). Work done after the last checkpoint is redelivered after a crash.
   */
  checkpointIntervalMs: number;
  /**
   * Wrap each record in the polybus envelope, which carries headers and the "no key" mark (default
   * true). false writes payloads unchanged for readers that are not polybus, and refuses headers
   * (so `tracing()` cannot propagate its context). Reading always recognises the envelope.
   */
  envelope: boolean;
  /** A send resolves, or rejects with a retryable `BrokerError`, within this time, even while Kinesis is unreachable (default 30,000 ms). */
  sendTimeoutMs: number;
  /**
   * `consumer.run()` (subscribe) resolves, or rejects with a retryable `BrokerError` naming the step
   * that failed (stream lookup, lease table, leases), within this time, even while Kinesis or DynamoDB
   * is unreachable (default 30,000 ms). Includes waiting for a new stream or lease table to become ACTIVE.
   */
  subscribeTimeoutMs: number;
  /** Session token of temporary credentials, with accessKeyId and secretAccessKey. Never printed. */
  sessionToken: Secret | undefined;
}

/** What a user passes: any subset of the options (strings, numbers or booleans; a Secret or string for sessionToken). */
export type KinesisOptionsInput = Partial<Omit<KinesisOptions, 'sessionToken'>> & { sessionToken?: string | Secret };

/** The parsed URL plus any of the Kinesis options (validated by `createAdapter`). */
export type KinesisAdapterConfig = KinesisConfig & KinesisOptionsInput;

/** The default lease table name: one table per group and stream. */
export const DEFAULT_LEASE_TABLE = 'polybus.{group}.{stream}';

/** The defaults of every option. */
export const KINESIS_DEFAULTS: Readonly<KinesisOptions> = Object.freeze({
  dynamoEndpoint: undefined,
  leaseTable: DEFAULT_LEASE_TABLE,
  autoCreate: true,
  failoverTimeMs: 10_000,
  pollIntervalMs: 1_000,
  checkpointIntervalMs: 1_000,
  envelope: true,
  sendTimeoutMs: 30_000,
  subscribeTimeoutMs: 30_000,
  sessionToken: undefined,
});

/** Query parameters of a `kinesis://` URL the base parser already handles (src/url.ts). */
export const KINESIS_BASE_URL_PARAMS: ReadonlySet<string> = new Set([
  'endpoint',
  'shards',
  'accessKeyId',
  'secretAccessKey',
]);

/** Query parameters {@link parseKinesisOptions} reads from a `kinesis://` URL. */
export const KINESIS_URL_PARAMS: ReadonlySet<string> = new Set([
  'dynamoEndpoint',
  'leaseTable',
  'autoCreate',
  'failoverTimeMs',
  'pollIntervalMs',
  'checkpointIntervalMs',
  'envelope',
  'sendTimeoutMs',
  'subscribeTimeoutMs',
  'sessionToken',
]);

/** Of {@link KINESIS_URL_PARAMS}, the credentials: redact their values. */
export const KINESIS_SECRET_PARAMS: ReadonlySet<string> = new Set(['sessionToken']);

const ENDPOINT = /^https?:\/\/(?:[\w.~-]+|\[[\da-f:.]+\])(?::\d{1,5})?(?:\/[^\s@]*)?$/i;
const TABLE_NAME = /^[\w.-]{3,255}$/;
const TEMPLATE_LITERAL = /^[\w.-]*$/;

const KINESIS_SPEC: OptionsSpec = {
  broker: 'kinesis',
  title: 'Kinesis',
  objectHint: 'Pass { failoverTimeMs: 10000, … } or a kinesis:// URL',
  urlParams: KINESIS_URL_PARAMS,
  baseUrlParams: KINESIS_BASE_URL_PARAMS,
  baseConfigKeys: new Set(['broker', 'region', 'endpoint', 'shards', 'accessKeyId', 'secretAccessKey']),
  examples: {
    autoCreate: 'autoCreate=false',
    envelope: 'envelope=false',
    failoverTimeMs: 'failoverTimeMs=10000',
    pollIntervalMs: 'pollIntervalMs=1000',
    checkpointIntervalMs: 'checkpointIntervalMs=1000',
    sendTimeoutMs: 'sendTimeoutMs=30000',
    subscribeTimeoutMs: 'subscribeTimeoutMs=30000',
  },
  // Kinesis's wording from before the shared module.
  quoteRule: { maxLength: 100, longer: 'hide' },
  showName: (name) => `"${shown(name)}"`,
  repeated: (name) => `${name} is given more than once`,
};

/**
 * Reads and checks the Kinesis options from a URL's query (a map or URLSearchParams of decoded strings) or
 * a config object (typed values; numeric and boolean strings accepted too). The base parameters
 * (`endpoint`, `shards`, `accessKeyId`, `secretAccessKey`, and `broker`, `region` in an object) are
 * skipped: src/url.ts owns them. Returns only the options given, validated.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseKinesisOptions(query: OptionParams): Partial<KinesisOptions> {
  const context = collectOptions(KINESIS_SPEC, query);
  const options: Partial<KinesisOptions> = {};
  for (const [name, value] of context.entries) {
    switch (name) {
      case 'dynamoEndpoint':
        if (value === 'aws') {
          options.dynamoEndpoint = 'aws';
        } else if (typeof value !== 'string' || !ENDPOINT.test(value)) {
          throw fail(
            context,
            `dynamoEndpoint must be http(s)://host[:port] or aws, not ${quote(context, value)}`,
            'Example: dynamoEndpoint=http://127.0.0.1:4568',
          );
        } else {
          options.dynamoEndpoint = value;
        }
        break;
      case 'leaseTable':
        options.leaseTable = leaseTableTemplate(context, value);
        break;
      case 'autoCreate':
        options.autoCreate = boolean(context, name, value);
        break;
      case 'envelope':
        options.envelope = boolean(context, name, value);
        break;
      case 'failoverTimeMs':
        options.failoverTimeMs = integer(context, name, value, 1_000, 3_600_000);
        break;
      case 'pollIntervalMs':
        options.pollIntervalMs = integer(context, name, value, 200, 300_000);
        break;
      case 'checkpointIntervalMs':
        options.checkpointIntervalMs = integer(context, name, value, 0, 600_000);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(context, name, value, 1_000, 600_000);
        break;
      case 'subscribeTimeoutMs':
        options.subscribeTimeoutMs = integer(context, name, value, 1_000, 600_000);
        break;
      case 'sessionToken':
        if (value instanceof Secret) options.sessionToken = value;
        else if (typeof value === 'string' && value.length > 0) options.sessionToken = new Secret(value);
        // The value itself is never quoted: it is a credential.
        else throw fail(context, 'sessionToken must be a non-empty string or a Secret', 'Pass the STS session token');
        break;
    }
  }
  const failover = options.failoverTimeMs ?? KINESIS_DEFAULTS.failoverTimeMs;
  const checkpoint = options.checkpointIntervalMs ?? KINESIS_DEFAULTS.checkpointIntervalMs;
  if (checkpoint >= failover) {
    throw fail(
      context,
      `checkpointIntervalMs (${checkpoint}) must be below failoverTimeMs (${failover})`,
      'A member taking over a shard starts at its last checkpoint: checkpoint well within the failover time, e.g. checkpointIntervalMs=1000&failoverTimeMs=10000',
    );
  }
  return options;
}

/**
 * All options: those given (validated by {@link parseKinesisOptions}) over the defaults. Also
 * checks what relates them to the base config: `dynamoEndpoint` is required with `endpoint`.
 */
export function resolveKinesisOptions(input: Readonly<Record<string, unknown>> = {}): KinesisOptions {
  const options: KinesisOptions = { ...KINESIS_DEFAULTS, ...parseKinesisOptions(input) };
  if (options.sessionToken !== undefined && input.accessKeyId === undefined) {
    throw fail(
      { spec: KINESIS_SPEC, source: 'config' },
      'sessionToken needs accessKeyId and secretAccessKey',
      'Give all three of a temporary credential, or none to use the AWS credential chain',
    );
  }
  return options;
}

/** The lease table of one group on one stream, from the template. */
export function leaseTableName(template: string, group: string, stream: string): string {
  const name = template.replaceAll('{group}', group).replaceAll('{stream}', stream);
  if (!TABLE_NAME.test(name)) {
    const why =
      name.length > 255
        ? `is ${name.length} characters long (DynamoDB allows 255)`
        : 'holds characters DynamoDB does not allow in a table name (only A-Z a-z 0-9 _ . -)';
    throw new InvalidConfigError(`the lease table name for group "${shown(group)}" ${why}`, {
      broker: 'kinesis',
      operation: 'subscribe',
      hint: `Use group names of letters, digits, "_", "." and "-", or set the option leaseTable to a valid name (default ${DEFAULT_LEASE_TABLE}).`,
    });
  }
  return name;
}

function leaseTableTemplate(context: OptionContext, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw fail(
      context,
      `leaseTable must be a table name, not ${quote(context, value)}`,
      `Example: leaseTable=${DEFAULT_LEASE_TABLE}`,
    );
  }
  const literal = value.replaceAll('{group}', '').replaceAll('{stream}', '');
  const bad = !TEMPLATE_LITERAL.test(literal) || value.length > 255 || (literal === value && !TABLE_NAME.test(value));
  if (bad) {
    throw fail(
      context,
      `leaseTable ${quote(context, value)} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -, with optional {group} and {stream})`,
      `Example: leaseTable=${DEFAULT_LEASE_TABLE}`,
    );
  }
  return value;
}

/** A parameter name, unless it is long enough to be a pasted secret. */
function shown(name: string): string {
  return /^[\w.-]{1,40}$/.test(name) ? name : '(not shown)';
}
