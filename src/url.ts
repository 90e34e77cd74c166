import { KAFKA_URL_PARAMS, type KafkaOptionsInput, parseKafkaOptions } from '../adapters/kafka/config.js';
import {
  KINESIS_SECRET_PARAMS,
  KINESIS_URL_PARAMS,
  type KinesisOptionsInput,
  parseKinesisOptions,
} from '../adapters/kinesis/config.js';
import { PUBSUB_URL_PARAMS, type PubSubOptionsInput, parsePubSubOptions } from '../adapters/pubsub/config.js';
import { PULSAR_URL_PARAMS, type PulsarOptionsInput, parsePulsarOptions } from '../adapters/pulsar/config.js';
import { parseRabbitMqOptions, RABBITMQ_URL_PARAMS, type RabbitMqOptionsInput } from '../adapters/rabbitmq/config.js';
import { type BrokerName, InvalidConfigError, InvalidUrlError } from './errors.js';
import { Secret } from './secret.js';

/** `memory://[name][?retention=1000]`: an in-process broker; connections with the same name share it. */
export interface MemoryConfig {
  broker: 'memory';
  name: string;
  /** Messages kept per topic once every group has read them (default 1,000). */
  retention: number;
}

/** `kafka://host:9092,host2:9092?clientId=app&ssl=true&sasl=plain&username=u&password=p` */
export interface KafkaConfig extends KafkaOptionsInput {
  broker: 'kafka';
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: Secret };
}

/** `amqp://user:pass@host:5672/vhost?heartbeat=30&exchange=…&queueType=quorum…` or `amqps://…` */
export interface RabbitMqConfig extends RabbitMqOptionsInput {
  broker: 'rabbitmq';
  tls: boolean;
  host: string;
  port: number;
  vhost: string;
  username?: string;
  password?: Secret;
  heartbeatSeconds?: number;
  exchange: string;
}

/** `kinesis://us-east-1?endpoint=http://127.0.0.1:4567&shards=1` */
export interface KinesisConfig extends KinesisOptionsInput {
  broker: 'kinesis';
  region: string;
  endpoint?: string;
  accessKeyId?: Secret;
  secretAccessKey?: Secret;
  shards: number;
}

/** `pubsub://my-project?emulatorHost=127.0.0.1:8085` */
export interface PubSubConfig extends PubSubOptionsInput {
  broker: 'pubsub';
  projectId: string;
  emulatorHost?: string;
}

/** `pulsar://host:6650?token=…` (binary protocol) or `pulsar+ws://host:8080` (WebSocket API). */
export interface PulsarConfig extends PulsarOptionsInput {
  broker: 'pulsar';
  transport: 'binary' | 'websocket';
  serviceUrl: string;
  tls: boolean;
  tenant: string;
  namespace: string;
  token?: Secret;
}

/** The typed configuration of any supported broker. */
export type BrokerConfig = MemoryConfig | KafkaConfig | RabbitMqConfig | KinesisConfig | PubSubConfig | PulsarConfig;

type UrlBroker = Exclude<BrokerName, 'core'>;

/** The URL forms, shown in errors so that users see what is expected. */
export const URL_FORMS: Readonly<Record<UrlBroker, string>> = {
  memory: 'memory:// or memory://<name>[?retention=1000]',
  kafka:
    'kafka://host:9092[,host2:9092][?clientId=app&ssl=true&sasl=plain|scram-sha-256|scram-sha-512&username=u&password=p&partitions=3&replicationFactor=-1&autoCreateTopics=false&compression=gzip&acks=-1&idempotent=true&sessionTimeoutMs=…&heartbeatIntervalMs=…&maxMessageBytes=…&sendTimeoutMs=…&logLevel=error]',
  rabbitmq:
    'amqp://[user:pass@]host[:5672][/vhost][?heartbeat=15&exchange=polybus&queueType=quorum|classic&deliveryLimit=…&singleActiveConsumer=true&confirmTimeoutMs=…&maxMessageBytes=…&autoDeclare=false&connectTimeoutMs=…] or amqps://…',
  kinesis:
    'kinesis://<region>[?endpoint=http://127.0.0.1:4567&dynamoEndpoint=…&shards=1&accessKeyId=…&secretAccessKey=…&sessionToken=…&leaseTable=…&autoCreate=false&failoverTimeMs=…&pollIntervalMs=…&checkpointIntervalMs=…&envelope=false&sendTimeoutMs=…&subscribeTimeoutMs=…]',
  pubsub:
    'pubsub://<project-id>[?emulatorHost=127.0.0.1:8085&autoCreate=false&ackDeadlineSeconds=…&subscriptionPrefix=…&batchMaxMessages=…&batchMaxMilliseconds=…&ackBatchMaxMessages=…&ackBatchMaxMilliseconds=…&maxMessageBytes=…&sendTimeoutMs=…]',
  pulsar:
    'pulsar://host:6650, pulsar+ssl://host:6651, pulsar+ws://host:8080 or pulsar+wss://host:8443 [?tenant=public&namespace=default&token=…&subscriptionType=Key_Shared|Shared|Failover|Exclusive&partitions=0&autoCreate=false&compression=lz4&batching=true&batchingMaxDelayMs=1&sendTimeoutMs=…&operationTimeoutMs=…&connectTimeoutMs=…&maxMessageBytes=…&adminUrl=http://host:8080]',
};

const SCHEMES: ReadonlyMap<string, UrlBroker> = new Map([
  ['memory', 'memory'],
  ['kafka', 'kafka'],
  ['amqp', 'rabbitmq'],
  ['amqps', 'rabbitmq'],
  ['kinesis', 'kinesis'],
  ['pubsub', 'pubsub'],
  ['pulsar', 'pulsar'],
  ['pulsar+ssl', 'pulsar'],
  ['pulsar+ws', 'pulsar'],
  ['pulsar+wss', 'pulsar'],
]);

const SCHEME_LIST = [...SCHEMES.keys()].map((scheme) => `${scheme}://`).join(', ');
const BROKER_NAMES: readonly UrlBroker[] = ['memory', 'kafka', 'rabbitmq', 'kinesis', 'pubsub', 'pulsar'];

/**
 * An adapter's own URL options, parsed by its `config.ts` (which imports no client): their names,
 * which of them are secrets, and the parser. The base of each URL (hosts, credentials, the
 * parameters in BASE_PARAMS) is parsed here.
 */
interface AdapterUrlOptions {
  readonly names: ReadonlySet<string>;
  readonly secrets?: ReadonlySet<string>;
  /** Reads the options from the URL's query, already percent-decoded (name → value). */
  parse(params: ReadonlyMap<string, string>): object;
}

/**
 * Built on first use, not at load: url.ts and the adapters' config modules import each other's
 * neighbours, and a table read during module evaluation could see an adapter's names undefined.
 */
function adapterUrlOptions(): Readonly<Partial<Record<UrlBroker, AdapterUrlOptions>>> {
  return {
    kafka: { names: KAFKA_URL_PARAMS, parse: parseKafkaOptions },
    rabbitmq: { names: RABBITMQ_URL_PARAMS, parse: parseRabbitMqOptions },
    kinesis: { names: KINESIS_URL_PARAMS, secrets: KINESIS_SECRET_PARAMS, parse: parseKinesisOptions },
    pubsub: { names: PUBSUB_URL_PARAMS, parse: parsePubSubOptions },
    pulsar: { names: PULSAR_URL_PARAMS, parse: parsePulsarOptions },
  };
}

/** Query parameters of each URL's base, parsed here. */
const BASE_PARAMS: Readonly<Record<UrlBroker, readonly string[]>> = {
  memory: ['retention'],
  kafka: ['clientId', 'ssl', 'sasl', 'username', 'password'],
  rabbitmq: ['heartbeat', 'exchange'],
  kinesis: ['endpoint', 'shards', 'accessKeyId', 'secretAccessKey'],
  pubsub: ['emulatorHost'],
  pulsar: ['tenant', 'namespace', 'token'],
};

const BASE_SECRETS: readonly string[] = ['password', 'token', 'accessKeyId', 'secretAccessKey'];

interface ParamTables {
  readonly adapters: Readonly<Partial<Record<UrlBroker, AdapterUrlOptions>>>;
  /** Query parameters each broker understands; anything else is a typo we report. */
  readonly known: Readonly<Record<UrlBroker, ReadonlySet<string>>>;
  /** The only query parameters whose values {@link redactUrl} shows. */
  readonly shown: ReadonlySet<string>;
}

let tables: ParamTables | undefined;

function paramTables(): ParamTables {
  if (tables !== undefined) return tables;
  const adapters = adapterUrlOptions();
  const known = {} as Record<UrlBroker, ReadonlySet<string>>;
  for (const broker of BROKER_NAMES) {
    known[broker] = new Set([...BASE_PARAMS[broker], ...(adapters[broker]?.names ?? [])]);
  }
  const secrets = new Set([...BASE_SECRETS, ...Object.values(adapters).flatMap((a) => [...(a.secrets ?? [])])]);
  const shown = new Set(Object.values(known).flatMap((names) => [...names].filter((name) => !secrets.has(name))));
  tables = { adapters, known, shown };
  return tables;
}

const REDACTED = '***';
const SCHEME_PREFIX = /^([a-z][a-z0-9+.-]*):\/\//i;
const HOST = String.raw`(?:[\w.~%-]+|\[[\da-f:.]+\])`;
const HOST_LIST = new RegExp(String.raw`^(?:${HOST}(?::\d*)?(?:,${HOST}(?::\d*)?)*)?$`, 'i');
const HOST_PORT = /^([\w.~-]+|\[[\da-f:.]+\])(?::(\d*))?$/i;
const KAFKA_BROKER = /^(?:[\w.-]+|\[[\da-f:]+\]):\d{1,5}$/i;
/** Parameter names short and plain enough to quote: a longer one may be a pasted secret. */
const SHOWABLE_NAME = /^[a-z][\w.-]{0,31}$/i;
const PULSAR_NAME = /^[\w.-]+$/;

/** A URL cut into its parts by text rules only, so that it works on URLs a parser rejects. */
interface UrlParts {
  /** The scheme, lower-cased, without `://`; undefined when the URL does not start with `scheme://`. */
  scheme: string | undefined;
  /** The scheme and `://` as written, or `''`. */
  prefix: string;
  /** Everything between `://` (or the start) and the `@` before the host; undefined without one. */
  userinfo: string | undefined;
  /** Host(s) and port(s), up to the first `/`, `?` or `#` after the userinfo. */
  authority: string;
  path: string;
  /** Without the `?`. */
  query: string | undefined;
  /** Without the `#`. */
  fragment: string | undefined;
}

function splitUrl(url: string): UrlParts {
  const prefix = SCHEME_PREFIX.exec(url)?.[0] ?? '';
  const rest = url.slice(prefix.length);
  const at = userinfoEnd(rest);
  const afterUserinfo = rest.slice(at + 1);
  const hostEnd = indexOfAny(afterUserinfo, '/?#');
  let tail = afterUserinfo.slice(hostEnd);
  const hash = tail.indexOf('#');
  const fragment = hash < 0 ? undefined : tail.slice(hash + 1);
  if (hash >= 0) tail = tail.slice(0, hash);
  const question = tail.indexOf('?');
  return {
    scheme: prefix === '' ? undefined : prefix.slice(0, -3).toLowerCase(),
    prefix,
    userinfo: at < 0 ? undefined : rest.slice(0, at),
    authority: afterUserinfo.slice(0, hostEnd),
    path: question < 0 ? tail : tail.slice(0, question),
    query: question < 0 ? undefined : tail.slice(question + 1),
    fragment,
  };
}

/**
 * Index of the `@` that ends the user name and password, or -1. A careless password may hold an
 * unencoded `/`, `?`, `#` or `@`, so the LAST `@` is taken, even past a `/`, `?` or `#`, unless
 * that `@` plainly sits in a query value (`kafka://h:9092?username=svc@corp`): the part before
 * the `?` is a valid host list and the query starts with `name=`.
 */
function userinfoEnd(rest: string): number {
  const lastAt = rest.lastIndexOf('@');
  const queryStart = indexOfAny(rest, '?#');
  if (lastAt < queryStart) return lastAt;
  const beforeQuery = rest.slice(0, queryStart);
  const atBeforeQuery = beforeQuery.lastIndexOf('@');
  const hosts = beforeQuery.slice(atBeforeQuery + 1);
  const plainQuery =
    rest[queryStart] === '?' &&
    HOST_LIST.test(hosts.slice(0, indexOfAny(hosts, '/'))) &&
    /^[\w.%-]+=/.test(rest.slice(queryStart + 1));
  return plainQuery ? atBeforeQuery : lastAt;
}

function indexOfAny(text: string, characters: string): number {
  for (let i = 0; i < text.length; i++) if (characters.includes(text.charAt(i))) return i;
  return text.length;
}

/**
 * The URL safe to show in errors and logs. Works on text, not a parsed URL, so it also covers
 * URLs that parsers reject. It masks as `***`:
 * - everything between `://` (or the start, without a scheme) and the last `@` before the host:
 *   user name and password, even with unencoded `/`, `?`, `#` or `@` in them;
 * - every query value, except those of the non-secret options polybus knows (`clientId`, `ssl`,
 *   `tenant`, `endpoint`…) that contain no `@`, and any parameter name that is not a short word;
 * - the fragment (after `#`).
 */
export function redactUrl(url: string): string {
  if (typeof url !== 'string') return REDACTED;
  const parts = splitUrl(url);
  return [
    parts.prefix,
    parts.userinfo === undefined ? '' : `${REDACTED}@`,
    parts.authority,
    parts.path,
    parts.query === undefined ? '' : `?${parts.query.split('&').map(redactParam).join('&')}`,
    parts.fragment === undefined ? '' : `#${REDACTED}`,
  ].join('');
}

function redactParam(param: string): string {
  if (param === '') return param;
  const eq = param.indexOf('=');
  if (eq < 0) return paramTables().shown.has(param) ? param : REDACTED;
  const name = param.slice(0, eq);
  const value = param.slice(eq + 1);
  const shownValue = paramTables().shown.has(name) && !value.includes('@') ? value : REDACTED;
  return `${SHOWABLE_NAME.test(name) ? name : REDACTED}=${shownValue}`;
}

/**
 * Parses a broker URL into its typed config. Query values are percent-decoded only: `+` stays
 * `+`. A `#`, a `/`, `?` or `@` in a password, a malformed `%` escape, an unknown or repeated
 * parameter, an empty value and a path or credentials a broker does not use are all rejected.
 * @throws {InvalidUrlError} naming the bad part and the expected form, quoting only {@link redactUrl}'s form.
 */
export function parseBrokerUrl(url: string): BrokerConfig {
  if (typeof url !== 'string') throw invalid('core', `the broker URL must be a string, not ${describeType(url)}`);
  const trimmed = url.trim();
  if (trimmed === '') throw invalid('core', 'the broker URL is empty');
  const parts = splitUrl(trimmed);
  if (parts.scheme === undefined) {
    // Without a scheme nothing tells a URL from a pasted secret: quote none of it.
    throw invalid(
      'core',
      'the broker URL does not start with a scheme followed by "://" (not quoted: it may be a secret)',
    );
  }
  const broker = SCHEMES.get(parts.scheme);
  if (broker === undefined) {
    const meant = SCHEME_ALIASES.get(parts.scheme);
    const problem = `unknown scheme "${parts.scheme}:"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}`;
    throw invalid('core', problem, trimmed);
  }
  const context: Context = { broker, url: trimmed };
  checkUserinfoAndFragment(context, parts);
  const params = parseQuery(context, parts.query);
  const config = parseBase(context, parts, params);
  const adapterOptions = paramTables().adapters[broker];
  if (adapterOptions !== undefined) {
    const own = [...params].filter(([name]) => adapterOptions.names.has(name));
    if (own.length > 0) Object.assign(config, adapterOptions.parse(new Map(own)));
  }
  return config;
}

function parseBase(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): BrokerConfig {
  switch (context.broker) {
    case 'memory':
      return parseMemory(context, parts, params);
    case 'kafka':
      return parseKafka(context, parts, params);
    case 'rabbitmq':
      return parseRabbitMq(context, parts, params);
    case 'kinesis':
      return parseKinesis(context, parts, params);
    case 'pubsub':
      return parsePubSub(context, parts, params);
    case 'pulsar':
      return parsePulsar(context, parts, params);
  }
}

interface Context {
  broker: UrlBroker;
  url: string;
}

const USERINFO_ADVICE: Readonly<Record<Exclude<UrlBroker, 'rabbitmq'>, string>> = {
  memory: 'memory:// takes no user name or password',
  kafka: 'credentials belong in ?sasl=…&username=…&password=…, not before the host',
  kinesis:
    'credentials belong in ?accessKeyId=…&secretAccessKey=… (or leave them out to use the AWS default credential chain), not before the region',
  pubsub:
    'pubsub:// takes no credentials: pass keyFilename or credentials in the config object, or rely on Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS)',
  pulsar: 'credentials belong in ?token=…, not before the host',
};

function checkUserinfoAndFragment({ broker, url }: Context, parts: UrlParts): void {
  if (parts.userinfo !== undefined && /[/?#@]/.test(parts.userinfo)) {
    throw invalid(
      broker,
      'the user name or password holds an unencoded "/", "?", "#" or "@" (percent-encode them as %2F, %3F, %23, %40)',
      url,
    );
  }
  if (parts.userinfo !== undefined && broker !== 'rabbitmq') throw invalid(broker, USERINFO_ADVICE[broker], url);
  if (parts.fragment !== undefined) {
    throw invalid(
      broker,
      'a raw "#" would cut the URL short (percent-encode a "#" in a password or value as %23)',
      url,
    );
  }
}

function parseQuery({ broker, url }: Context, query: string | undefined): ReadonlyMap<string, string> {
  const params = new Map<string, string>();
  for (const param of query?.split('&') ?? []) {
    if (param === '') continue;
    const eq = param.indexOf('=');
    const name = eq < 0 ? param : param.slice(0, eq);
    const known = paramTables().known[broker];
    if (eq < 0 && !known.has(name)) {
      throw invalid(broker, 'a query parameter has no "=value" (not quoted, in case it is a secret)', url);
    }
    if (!SHOWABLE_NAME.test(name)) {
      throw invalid(
        broker,
        'a query parameter name is not a short plain word (not quoted, in case it is a secret)',
        url,
      );
    }
    if (!known.has(name)) throw invalid(broker, `unknown query parameter "${name}"${suggestion(broker, name)}`, url);
    const value = eq < 0 ? '' : param.slice(eq + 1);
    if (value === '') throw invalid(broker, `query parameter "${name}" has no value`, url);
    if (params.has(name)) throw invalid(broker, `query parameter "${name}" is given twice`, url);
    params.set(name, decode({ broker, url }, value, `the value of "${name}"`));
  }
  return params;
}

function suggestion(broker: UrlBroker, name: string): string {
  const known = [...paramTables().known[broker]];
  const close = known.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return close === undefined ? ` (${broker} takes ${known.join(', ')})` : ` (did you mean "${close}"?)`;
}

/** Percent-decoding only: unlike form encoding, `+` stays `+`. */
function decode({ broker, url }: Context, text: string, what: string): string {
  if (/%(?![\da-f]{2})/i.test(text)) {
    throw invalid(broker, `${what} has a malformed "%" escape (write a literal "%" as %25)`, url);
  }
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(broker, `${what} has "%" escapes that are not valid UTF-8`, url);
  }
}

function parseMemory(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): MemoryConfig {
  const raw = `${parts.authority}${parts.path}`.replace(/^\/+|\/+$/g, '');
  const retention = params.get('retention');
  return {
    broker: 'memory',
    name: decode(context, raw, 'the name') || 'default',
    retention: retention === undefined ? 1_000 : parseInteger(context, 'retention', retention, 1, 1e9),
  };
}

function parseKafka(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): KafkaConfig {
  checkNoPath(context, parts);
  if (parts.authority === '') throw invalid('kafka', 'the broker list is empty', context.url);
  const brokers = parts.authority.split(',').map((hostPort) => hostPort.trim());
  for (const hostPort of brokers) {
    if (!KAFKA_BROKER.test(hostPort))
      throw invalid('kafka', `broker address "${hostPort}" must be host:port`, context.url);
    checkPort(context, Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)));
  }
  const config: KafkaConfig = {
    broker: 'kafka',
    brokers,
    clientId: params.get('clientId') ?? 'polybus',
    ssl: parseBoolean(context, 'ssl', params.get('ssl')) ?? false,
  };
  const mechanism = params.get('sasl');
  const username = params.get('username');
  const password = params.get('password');
  if (mechanism !== undefined) {
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') {
      throw invalid(
        'kafka',
        `sasl must be plain, scram-sha-256 or scram-sha-512, not ${showValue(mechanism)}`,
        context.url,
      );
    }
    if (username === undefined || password === undefined) {
      throw invalid('kafka', 'sasl needs both username and password', context.url);
    }
    config.sasl = { mechanism, username, password: new Secret(password) };
  } else if (username !== undefined || password !== undefined) {
    throw invalid('kafka', 'username/password need sasl=plain|scram-sha-256|scram-sha-512', context.url);
  }
  return config;
}

function parseRabbitMq(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): RabbitMqConfig {
  const tls = parts.scheme === 'amqps';
  const { host, port } = parseHostPort(context, parts.authority, tls ? 5671 : 5672);
  const path = parts.path.replace(/^\//, '');
  if (path.includes('/')) {
    throw invalid('rabbitmq', `the vhost "${path}" must be one path segment (encode "/" as %2F)`, context.url);
  }
  const config: RabbitMqConfig = {
    broker: 'rabbitmq',
    tls,
    host,
    port,
    vhost: path === '' ? '/' : decode(context, path, 'the vhost'),
    exchange: params.get('exchange') ?? 'polybus',
  };
  if (parts.userinfo !== undefined) {
    const colon = indexOfAny(parts.userinfo, ':');
    const username = decode(context, parts.userinfo.slice(0, colon), 'the user name');
    const password = decode(context, parts.userinfo.slice(colon + 1), 'the password');
    if (username !== '') config.username = username;
    if (password !== '') config.password = new Secret(password);
  }
  const heartbeat = params.get('heartbeat');
  if (heartbeat !== undefined) config.heartbeatSeconds = parseInteger(context, 'heartbeat', heartbeat, 0, 3600);
  return config;
}

function parseKinesis(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): KinesisConfig {
  checkNoPath(context, parts);
  const region = parts.authority;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    const advice = region.includes(':') ? ' (put a local endpoint in ?endpoint=http://host:port)' : '';
    throw invalid('kinesis', `"${region}" is not an AWS region such as us-east-1${advice}`, context.url);
  }
  const config: KinesisConfig = { broker: 'kinesis', region, shards: 1 };
  const endpoint = params.get('endpoint');
  if (endpoint !== undefined) {
    if (!/^https?:\/\/(?:[\w.~-]+|\[[\da-f:.]+\])(?::\d{1,5})?(?:\/[^\s@]*)?$/i.test(endpoint)) {
      throw invalid('kinesis', `endpoint ${showValue(endpoint)} must be http(s)://host:port`, context.url);
    }
    config.endpoint = endpoint;
  }
  const shards = params.get('shards');
  if (shards !== undefined) config.shards = parseInteger(context, 'shards', shards, 1, 10_000);
  const accessKeyId = params.get('accessKeyId');
  const secretAccessKey = params.get('secretAccessKey');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw invalid('kinesis', 'accessKeyId and secretAccessKey go together', context.url);
  }
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    config.accessKeyId = new Secret(accessKeyId);
    config.secretAccessKey = new Secret(secretAccessKey);
  }
  return config;
}

function parsePubSub(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): PubSubConfig {
  checkNoPath(context, parts);
  const projectId = parts.authority;
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) {
    const problem = `"${projectId}" is not a Google Cloud project id (6-30 lowercase letters, digits, hyphens)`;
    throw invalid('pubsub', problem, context.url);
  }
  const config: PubSubConfig = { broker: 'pubsub', projectId };
  const emulatorHost = params.get('emulatorHost');
  if (emulatorHost !== undefined) {
    if (!/^[^:/\s@]+:\d{1,5}$/.test(emulatorHost)) {
      throw invalid('pubsub', `emulatorHost ${showValue(emulatorHost)} must be host:port`, context.url);
    }
    config.emulatorHost = emulatorHost;
  }
  return config;
}

function parsePulsar(context: Context, parts: UrlParts, params: ReadonlyMap<string, string>): PulsarConfig {
  const websocket = parts.scheme === 'pulsar+ws' || parts.scheme === 'pulsar+wss';
  const tls = parts.scheme === 'pulsar+ssl' || parts.scheme === 'pulsar+wss';
  checkNoPath(context, parts);
  const defaultPort = websocket ? (tls ? 8443 : 8080) : tls ? 6651 : 6650;
  const { host, port } = parseHostPort(context, parts.authority, defaultPort);
  const protocol = websocket ? (tls ? 'wss' : 'ws') : tls ? 'pulsar+ssl' : 'pulsar';
  const config: PulsarConfig = {
    broker: 'pulsar',
    transport: websocket ? 'websocket' : 'binary',
    serviceUrl: `${protocol}://${host}:${port}`,
    tls,
    tenant: pulsarName(context, 'tenant', params.get('tenant') ?? 'public'),
    namespace: pulsarName(context, 'namespace', params.get('namespace') ?? 'default'),
  };
  const token = params.get('token');
  if (token !== undefined) config.token = new Secret(token);
  return config;
}

function pulsarName({ url }: Context, name: string, value: string): string {
  if (!PULSAR_NAME.test(value)) {
    const advice = name === 'namespace' && value.includes('/') ? '; give the tenant separately in ?tenant=' : '';
    const problem = `${name} ${showValue(value)} may only hold letters, digits, "_", "." and "-"${advice}`;
    throw invalid('pulsar', problem, url);
  }
  return value;
}

function parseHostPort(context: Context, authority: string, defaultPort: number): { host: string; port: number } {
  if (authority === '') throw invalid(context.broker, 'the host is missing', context.url);
  const match = HOST_PORT.exec(authority);
  if (!match?.[1]) throw invalid(context.broker, `"${authority}" is not a valid host[:port]`, context.url);
  const port = match[2] ? Number(match[2]) : defaultPort;
  checkPort(context, port);
  return { host: match[1], port };
}

function checkNoPath({ broker, url }: Context, parts: UrlParts): void {
  if (parts.path !== '' && parts.path !== '/') {
    throw invalid(broker, `the path "${parts.path}" is not used by ${broker} URLs (remove it)`, url);
  }
}

function checkPort({ broker, url }: Context, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(broker, `port ${port} is out of range 1-65535`, url);
  }
}

function parseBoolean({ broker, url }: Context, name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(broker, `${name} must be true or false, not ${showValue(value)}`, url);
}

function parseInteger({ broker, url }: Context, name: string, value: string, min: number, max: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw invalid(broker, `${name} must be an integer from ${min} to ${max}, not ${showValue(value)}`, url);
  }
  return number;
}

/** A non-secret value quoted for an error, unless it looks like it carries credentials. */
function showValue(value: string): string {
  return value.includes('@') || value.length > 100 ? '(value not shown)' : `"${value}"`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const MAX_QUOTED_URL = 200;

/** Schemes users reach for that name a supported broker another way. */
const SCHEME_ALIASES: ReadonlyMap<string, string> = new Map([
  ['rabbitmq', 'amqp://'],
  ['rabbit', 'amqp://'],
  ['rabbitmqs', 'amqps://'],
  ['amqp+ssl', 'amqps://'],
  ['kafkas', 'kafka://…?ssl=true'],
  ['kafka+ssl', 'kafka://…?ssl=true'],
  ['gcp', 'pubsub://'],
  ['pulsars', 'pulsar+ssl://'],
  ['ws', 'pulsar+ws://'],
  ['wss', 'pulsar+wss://'],
  ['mem', 'memory://'],
]);

function invalid(broker: BrokerName, problem: string, url?: string): InvalidUrlError {
  const redacted = url === undefined ? '' : redactUrl(url);
  const quoted = redacted.length > MAX_QUOTED_URL ? `${redacted.slice(0, MAX_QUOTED_URL - 1)}…` : redacted;
  return new InvalidUrlError(url === undefined ? problem : `${problem} in "${quoted}"`, {
    broker,
    operation: 'parse URL',
    hint: broker === 'core' ? `Use one of the schemes ${SCHEME_LIST}.` : `Expected ${URL_FORMS[broker]}.`,
  });
}

// ---------------------------------------------------------------------------------------------
// Config objects passed to connect() instead of a URL.

/**
 * Checks a config object passed to `connect()` instead of a URL: the broker name and the type and
 * range of every field of its config type. Fills in the defaults a URL would get and wraps string
 * credentials in {@link Secret}s. Other fields are an error for `memory`; for the other brokers
 * they are handed on unchanged, for the adapter to check its own options (Kafka's `tls`…).
 * Returns a new object; the argument is not changed.
 * @throws {InvalidConfigError} naming the broker and the bad field; never quoting values.
 */
export function checkBrokerConfig(value: unknown): BrokerConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError('core', `connect() needs a broker URL or a config object, not ${describeType(value)}`);
  }
  const fields = value as Readonly<Record<string, unknown>>;
  const broker = fields.broker;
  const check = typeof broker === 'string' ? CONFIG_CHECKS.get(broker) : undefined;
  if (check === undefined) {
    const given = typeof broker === 'string' && SHOWABLE_NAME.test(broker) ? `"${broker}"` : 'in the config';
    throw configError('core', `unknown broker ${given}; use one of ${BROKER_NAMES.join(', ')}`);
  }
  return check(fields);
}

type ConfigCheck = (fields: Readonly<Record<string, unknown>>) => BrokerConfig;

const CONFIG_CHECKS: ReadonlyMap<string, ConfigCheck> = new Map<UrlBroker, ConfigCheck>([
  ['memory', checkMemoryConfig],
  ['kafka', checkKafkaConfig],
  ['rabbitmq', checkRabbitMqConfig],
  ['kinesis', checkKinesisConfig],
  ['pubsub', checkPubSubConfig],
  ['pulsar', checkPulsarConfig],
]);

function checkMemoryConfig(fields: Readonly<Record<string, unknown>>): MemoryConfig {
  const config = new ConfigFields('memory', fields, ['name', 'retention']);
  return {
    broker: 'memory',
    name: config.string('name', 'default'),
    retention: config.integer('retention', 1, 1e9, 1_000),
  };
}

function checkKafkaConfig(fields: Readonly<Record<string, unknown>>): KafkaConfig {
  const config = new ConfigFields('kafka', fields, ['brokers', 'clientId', 'ssl', 'sasl'], { extensible: true });
  const result: KafkaConfig = {
    broker: 'kafka',
    brokers: config.stringArray('brokers', KAFKA_BROKER, '"host:port" strings'),
    clientId: config.string('clientId', 'polybus'),
    ssl: config.boolean('ssl', false),
  };
  const sasl = config.object('sasl');
  if (sasl !== undefined) {
    const saslFields = new ConfigFields('kafka', sasl, ['mechanism', 'username', 'password'], { prefix: 'sasl.' });
    result.sasl = {
      mechanism: saslFields.oneOf('mechanism', ['plain', 'scram-sha-256', 'scram-sha-512'] as const),
      username: saslFields.string('username'),
      password: saslFields.requiredSecret('password'),
    };
  }
  return { ...config.extras(), ...result };
}

function checkRabbitMqConfig(fields: Readonly<Record<string, unknown>>): RabbitMqConfig {
  const config = new ConfigFields(
    'rabbitmq',
    fields,
    ['tls', 'host', 'port', 'vhost', 'username', 'password', 'heartbeatSeconds', 'exchange'],
    { extensible: true },
  );
  const tls = config.boolean('tls', false);
  const result: RabbitMqConfig = {
    broker: 'rabbitmq',
    tls,
    host: config.string('host'),
    port: config.integer('port', 1, 65535, tls ? 5671 : 5672),
    vhost: config.string('vhost', '/'),
    exchange: config.string('exchange', 'polybus'),
  };
  const username = config.optionalString('username');
  const password = config.secret('password');
  const heartbeatSeconds = config.optionalInteger('heartbeatSeconds', 0, 3600);
  if (username !== undefined) result.username = username;
  if (password !== undefined) result.password = password;
  if (heartbeatSeconds !== undefined) result.heartbeatSeconds = heartbeatSeconds;
  return { ...config.extras(), ...result };
}

function checkKinesisConfig(fields: Readonly<Record<string, unknown>>): KinesisConfig {
  const config = new ConfigFields(
    'kinesis',
    fields,
    ['region', 'endpoint', 'accessKeyId', 'secretAccessKey', 'shards'],
    { extensible: true },
  );
  const result: KinesisConfig = {
    broker: 'kinesis',
    region: config.string('region'),
    shards: config.integer('shards', 1, 10_000, 1),
  };
  const endpoint = config.optionalString('endpoint');
  const accessKeyId = config.secret('accessKeyId');
  const secretAccessKey = config.secret('secretAccessKey');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw configError('kinesis', 'accessKeyId and secretAccessKey go together');
  }
  if (endpoint !== undefined) result.endpoint = endpoint;
  if (accessKeyId !== undefined) result.accessKeyId = accessKeyId;
  if (secretAccessKey !== undefined) result.secretAccessKey = secretAccessKey;
  return { ...config.extras(), ...result };
}

function checkPubSubConfig(fields: Readonly<Record<string, unknown>>): PubSubConfig {
  const config = new ConfigFields('pubsub', fields, ['projectId', 'emulatorHost'], { extensible: true });
  const result: PubSubConfig = { broker: 'pubsub', projectId: config.string('projectId') };
  const emulatorHost = config.optionalString('emulatorHost');
  if (emulatorHost !== undefined) result.emulatorHost = emulatorHost;
  return { ...config.extras(), ...result };
}

function checkPulsarConfig(fields: Readonly<Record<string, unknown>>): PulsarConfig {
  const config = new ConfigFields(
    'pulsar',
    fields,
    ['transport', 'serviceUrl', 'tls', 'tenant', 'namespace', 'token'],
    { extensible: true },
  );
  const result: PulsarConfig = {
    broker: 'pulsar',
    transport: config.oneOf('transport', ['binary', 'websocket'] as const, 'binary'),
    serviceUrl: config.string('serviceUrl'),
    tls: config.boolean('tls', false),
    tenant: config.string('tenant', 'public', PULSAR_NAME),
    namespace: config.string('namespace', 'default', PULSAR_NAME),
  };
  const token = config.secret('token');
  if (token !== undefined) result.token = token;
  return { ...config.extras(), ...result };
}

/**
 * Typed reads of a user's config object; each error names the field and never quotes its value.
 * Fields it does not know are an error, except in an extensible config: there they are left for
 * the adapter to check (Kafka's `tls`, `partitions`…) and handed on by {@link ConfigFields.extras}.
 */
class ConfigFields {
  readonly #broker: UrlBroker;
  readonly #fields: Readonly<Record<string, unknown>>;
  readonly #allowed: ReadonlySet<string>;
  readonly #prefix: string;

  constructor(
    broker: UrlBroker,
    fields: Readonly<Record<string, unknown>>,
    allowed: readonly string[],
    { extensible = false, prefix = '' } = {},
  ) {
    this.#broker = broker;
    this.#fields = fields;
    this.#allowed = new Set(prefix === '' ? ['broker', ...allowed] : allowed);
    this.#prefix = prefix;
    const unknown = Object.keys(fields).find((key) => !this.#allowed.has(key));
    if (unknown !== undefined && !extensible) {
      const name = SHOWABLE_NAME.test(unknown) ? ` "${prefix}${unknown}"` : '';
      throw configError(broker, `unknown field${name} (the ${broker} config takes ${allowed.join(', ')})`);
    }
  }

  /** The fields this check does not know, unchanged. */
  extras(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.#fields).filter(([key]) => !this.#allowed.has(key)));
  }

  string(key: string, fallback?: string, pattern?: RegExp): string {
    const value = this.optionalString(key) ?? fallback;
    if (value === undefined) throw this.#bad(key, 'a non-empty string (it is required)');
    if (pattern !== undefined && !pattern.test(value)) throw this.#bad(key, `a string matching ${pattern}`);
    return value;
  }

  optionalString(key: string): string | undefined {
    const value = this.#fields[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw this.#bad(key, 'a non-empty string');
    return value;
  }

  stringArray(key: string, pattern: RegExp, description: string): string[] {
    const value = this.#fields[key];
    const valid =
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((item): item is string => typeof item === 'string' && pattern.test(item));
    if (!valid) throw this.#bad(key, `a non-empty array of ${description}`);
    return [...(value as string[])];
  }

  integer(key: string, min: number, max: number, fallback: number): number {
    return this.optionalInteger(key, min, max) ?? fallback;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    const value = this.#fields[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.#bad(key, `an integer from ${min} to ${max}`);
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.#fields[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.#bad(key, 'true or false');
    return value;
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback?: T): T {
    const value = this.#fields[key] ?? fallback;
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
      throw this.#bad(key, `one of ${values.join(', ')}`);
    }
    return value as T;
  }

  object(key: string): Readonly<Record<string, unknown>> | undefined {
    const value = this.#fields[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.#bad(key, 'an object');
    return value as Readonly<Record<string, unknown>>;
  }

  /** A credential: a {@link Secret}, or a non-empty string that is wrapped in one. */
  secret(key: string): Secret | undefined {
    const value = this.#fields[key];
    if (value === undefined || value instanceof Secret) return value;
    if (typeof value !== 'string' || value === '') throw this.#bad(key, 'a Secret or a non-empty string');
    return new Secret(value);
  }

  requiredSecret(key: string): Secret {
    const value = this.secret(key);
    if (value === undefined) throw this.#bad(key, 'a Secret or a non-empty string (it is required)');
    return value;
  }

  #bad(key: string, expected: string): InvalidConfigError {
    return configError(this.#broker, `the config field "${this.#prefix}${key}" must be ${expected}`);
  }
}

function configError(broker: BrokerName, problem: string): InvalidConfigError {
  return new InvalidConfigError(problem, {
    broker,
    operation: 'connect',
    hint:
      broker === 'core'
        ? "Pass a URL (connect('memory://')) or a config from parseBrokerUrl()."
        : `Fix the config, or pass a URL instead: ${URL_FORMS[broker]}.`,
  });
}
