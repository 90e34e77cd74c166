/**
 * The Kinesis adapter's own options: their types, defaults and validation. No AWS SDK import
 * here, so that URL parsing (src/url.ts) can use it without loading the clients.
 *
 * `kinesis://<region>?endpoint=…&shards=…&accessKeyId=…&secretAccessKey=…` are parsed by
 * src/url.ts into {@link KinesisConfig}; everything else is read by {@link parseKinesisOptions}.
 */
import { InvalidConfigError, InvalidUrlError, type PolybusErrorOptions } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import type { KinesisConfig } from '../../src/url.js';

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
  'sessionToken',
]);

/** Of {@link KINESIS_URL_PARAMS}, the credentials: redact their values. */
export const KINESIS_SECRET_PARAMS: ReadonlySet<string> = new Set(['sessionToken']);

/** Keys of the base KinesisConfig, ignored here when a whole config object is passed. */
const BASE_CONFIG_KEYS = new Set(['broker', 'region', 'endpoint', 'shards', 'accessKeyId', 'secretAccessKey']);

const ENDPOINT = /^https?:\/\/(?:[\w.~-]+|\[[\da-f:.]+\])(?::\d{1,5})?(?:\/[^\s@]*)?$/i;
const TABLE_NAME = /^[\w.-]{3,255}$/;
const TEMPLATE_LITERAL = /^[\w.-]*$/;

type Source = 'url' | 'config';

/**
 * Reads and checks the Kinesis options from a URL's query (a map or URLSearchParams of decoded strings) or
 * a config object (typed values; numeric and boolean strings accepted too). The base parameters
 * (`endpoint`, `shards`, `accessKeyId`, `secretAccessKey`, and `broker`, `region` in an object) are
 * skipped: src/url.ts owns them. Returns only the options given, validated.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be, never quoting a credential.
 */
export function parseKinesisOptions(
  query: ReadonlyMap<string, string> | URLSearchParams | Readonly<Record<string, unknown>>,
): Partial<KinesisOptions> {
  const source: Source = query instanceof Map || query instanceof URLSearchParams ? 'url' : 'config';
  const entries = new Map<string, unknown>();
  if (query instanceof Map || query instanceof URLSearchParams) {
    const params = query as ReadonlyMap<string, string> | URLSearchParams;
    const seen = new Set<string>();
    for (const [name, value] of params) {
      if (seen.has(name)) throw fail(source, `${shown(name)} is given more than once`, 'Give each option once');
      seen.add(name);
      if (KINESIS_BASE_URL_PARAMS.has(name)) continue;
      if (!KINESIS_URL_PARAMS.has(name)) {
        throw fail(
          source,
          `unknown query parameter "${shown(name)}"`,
          `Known parameters: ${[...KINESIS_BASE_URL_PARAMS, ...KINESIS_URL_PARAMS].join(', ')}`,
        );
      }
      entries.set(name, value);
    }
  } else {
    if (query === null || typeof query !== 'object' || Array.isArray(query)) {
      throw fail(
        source,
        'the Kinesis options must be an object',
        'Pass { failoverTimeMs: 10000, … } or a kinesis:// URL',
      );
    }
    for (const [name, value] of Object.entries(query)) {
      if (BASE_CONFIG_KEYS.has(name) || value === undefined) continue;
      if (!KINESIS_URL_PARAMS.has(name)) {
        throw fail(
          source,
          `unknown option "${shown(name)}"`,
          `Known options: ${[...KINESIS_URL_PARAMS].join(', ')} (plus region, endpoint, shards, accessKeyId, secretAccessKey)`,
        );
      }
      entries.set(name, value);
    }
  }

  const options: Partial<KinesisOptions> = {};
  for (const [name, value] of entries) {
    switch (name) {
      case 'dynamoEndpoint':
        if (value === 'aws') {
          options.dynamoEndpoint = 'aws';
        } else if (typeof value !== 'string' || !ENDPOINT.test(value)) {
          throw fail(
            source,
            `dynamoEndpoint must be http(s)://host[:port] or aws, not ${quote(value)}`,
            'Example: dynamoEndpoint=http://127.0.0.1:4568',
          );
        } else {
          options.dynamoEndpoint = value;
        }
        break;
      case 'leaseTable':
        options.leaseTable = leaseTableTemplate(source, value);
        break;
      case 'autoCreate':
        options.autoCreate = boolean(source, name, value);
        break;
      case 'envelope':
        options.envelope = boolean(source, name, value);
        break;
      case 'failoverTimeMs':
        options.failoverTimeMs = integer(source, name, value, 1_000, 3_600_000);
        break;
      case 'pollIntervalMs':
        options.pollIntervalMs = integer(source, name, value, 200, 300_000);
        break;
      case 'checkpointIntervalMs':
        options.checkpointIntervalMs = integer(source, name, value, 0, 600_000);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(source, name, value, 1_000, 600_000);
        break;
      case 'sessionToken':
        if (value instanceof Secret) options.sessionToken = value;
        else if (typeof value === 'string' && value.length > 0) options.sessionToken = new Secret(value);
        // The value itself is never quoted: it is a credential.
        else throw fail(source, 'sessionToken must be a non-empty string or a Secret', 'Pass the STS session token');
        break;
    }
  }
  const failover = options.failoverTimeMs ?? KINESIS_DEFAULTS.failoverTimeMs;
  const checkpoint = options.checkpointIntervalMs ?? KINESIS_DEFAULTS.checkpointIntervalMs;
  if (checkpoint >= failover) {
    throw fail(
      source,
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
      'config',
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

function leaseTableTemplate(source: Source, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw fail(
      source,
      `leaseTable must be a table name, not ${quote(value)}`,
      `Example: leaseTable=${DEFAULT_LEASE_TABLE}`,
    );
  }
  const literal = value.replaceAll('{group}', '').replaceAll('{stream}', '');
  const bad = !TEMPLATE_LITERAL.test(literal) || value.length > 255 || (literal === value && !TABLE_NAME.test(value));
  if (bad) {
    throw fail(
      source,
      `leaseTable ${quote(value)} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -, with optional {group} and {stream})`,
      `Example: leaseTable=${DEFAULT_LEASE_TABLE}`,
    );
  }
  return value;
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
    autoCreate: 'autoCreate=false',
    envelope: 'envelope=false',
    failoverTimeMs: 'failoverTimeMs=10000',
    pollIntervalMs: 'pollIntervalMs=1000',
    checkpointIntervalMs: 'checkpointIntervalMs=1000',
    sendTimeoutMs: 'sendTimeoutMs=30000',
  };
  return `Example: ${examples[name] ?? name}`;
}

/** A parameter name, unless it is long enough to be a pasted secret. */
function shown(name: string): string {
  return /^[\w.-]{1,40}$/.test(name) ? name : '(not shown)';
}

function quote(value: unknown): string {
  if (typeof value === 'string') {
    if (value.includes('@') || value.length > 100) return '(value not shown)';
    return `"${value}"`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function fail(source: Source, problem: string, hint: string): InvalidUrlError | InvalidConfigError {
  const options: PolybusErrorOptions = {
    broker: 'kinesis',
    operation: source === 'url' ? 'parse URL' : 'configure',
    hint: hint.endsWith('.') ? hint : `${hint}.`,
  };
  return source === 'url' ? new InvalidUrlError(problem, options) : new InvalidConfigError(problem, options);
}
