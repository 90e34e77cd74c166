import { type BrokerName, InvalidUrlError } from './errors.js';
import { redactUrl, Secret } from './secret.js';

/** `memory://[name][?retention=1000]`: an in-process broker; connections with the same name share it. */
export interface MemoryConfig {
  broker: 'memory';
  name: string;
  /** Messages kept per topic once every group has read them (default 1,000). */
  retention: number;
}

/** `kafka://host:9092,host2:9092?clientId=app&ssl=true&sasl=plain&username=u&password=p` */
export interface KafkaConfig {
  broker: 'kafka';
  brokers: string[];
  clientId: string;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: Secret };
}

/** `amqp://user:pass@host:5672/vhost?heartbeat=30&prefetch=…` or `amqps://…` */
export interface RabbitMqConfig {
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
export interface KinesisConfig {
  broker: 'kinesis';
  region: string;
  endpoint?: string;
  accessKeyId?: Secret;
  secretAccessKey?: Secret;
  shards: number;
}

/** `pubsub://my-project?emulatorHost=127.0.0.1:8085` */
export interface PubSubConfig {
  broker: 'pubsub';
  projectId: string;
  emulatorHost?: string;
}

/** `pulsar://host:6650?token=…` (binary, pulsar-client) or `pulsar+ws://host:8080` (WebSocket API). */
export interface PulsarConfig {
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

/** The URL forms, shown in errors so that users see what is expected. */
export const URL_FORMS: Readonly<Record<Exclude<BrokerName, 'core'>, string>> = {
  memory: 'memory:// or memory://<name>[?retention=1000]',
  kafka:
    'kafka://host:9092[,host2:9092][?clientId=app&ssl=true&sasl=plain|scram-sha-256|scram-sha-512&username=u&password=p]',
  rabbitmq: 'amqp://[user:pass@]host[:5672][/vhost][?heartbeat=30&exchange=polybus] or amqps://…',
  kinesis: 'kinesis://<region>[?endpoint=http://127.0.0.1:4567&shards=1&accessKeyId=…&secretAccessKey=…]',
  pubsub: 'pubsub://<project-id>[?emulatorHost=127.0.0.1:8085]',
  pulsar:
    'pulsar://host:6650, pulsar+ssl://host:6651, pulsar+ws://host:8080 or pulsar+wss://host:8443 [?tenant=public&namespace=default&token=…]',
};

const SCHEMES: Record<string, Exclude<BrokerName, 'core'>> = {
  'memory:': 'memory',
  'kafka:': 'kafka',
  'amqp:': 'rabbitmq',
  'amqps:': 'rabbitmq',
  'kinesis:': 'kinesis',
  'pubsub:': 'pubsub',
  'pulsar:': 'pulsar',
  'pulsar+ssl:': 'pulsar',
  'pulsar+ws:': 'pulsar',
  'pulsar+wss:': 'pulsar',
};

/** Query parameters each broker understands; anything else is a typo we report. */
const KNOWN_PARAMS: Record<Exclude<BrokerName, 'core'>, ReadonlySet<string>> = {
  memory: new Set(['retention']),
  kafka: new Set(['clientId', 'ssl', 'sasl', 'username', 'password']),
  rabbitmq: new Set(['heartbeat', 'exchange']),
  kinesis: new Set(['endpoint', 'shards', 'accessKeyId', 'secretAccessKey']),
  pubsub: new Set(['emulatorHost']),
  pulsar: new Set(['tenant', 'namespace', 'token']),
};

/**
 * Parses a broker URL into its typed config.
 * @throws {InvalidUrlError} naming the bad part and the expected form; never quoting secrets.
 */
export function parseBrokerUrl(url: string): BrokerConfig {
  if (typeof url !== 'string' || url.length === 0) {
    throw invalid('core', 'the broker URL is empty', url);
  }
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0]?.toLowerCase();
  const broker = scheme ? SCHEMES[scheme] : undefined;
  if (!scheme || !broker) {
    throw new InvalidUrlError(`unknown scheme "${scheme ?? url.slice(0, 12)}" in "${redactUrl(url)}"`, {
      operation: 'parse URL',
      hint: `Use one of: ${Object.values(URL_FORMS).join('; ')}.`,
    });
  }
  let parsed: URL;
  try {
    // Kafka lists several host:port pairs, which WHATWG URL rejects: parse only the query here,
    // parseKafka checks the host list itself.
    parsed = new URL(broker === 'kafka' ? url.replace(/^kafka:\/\/[^/?]*/i, 'kafka://hosts') : url);
  } catch {
    // The URL parser's own error quotes the input, password included: do not chain it.
    throw invalid(broker, 'it is not a valid URL', url);
  }
  for (const name of parsed.searchParams.keys()) {
    if (!KNOWN_PARAMS[broker].has(name)) {
      throw invalid(broker, `unknown query parameter "${name}"`, url);
    }
  }
  switch (broker) {
    case 'memory': {
      const retention = parsed.searchParams.get('retention');
      return {
        broker,
        name: decodeURIComponent(parsed.host + parsed.pathname.replace(/^\/+/, '')) || 'default',
        retention: retention === null ? 1_000 : parseInteger('memory', 'retention', retention, 1, 1e9, url),
      };
    }
    case 'kafka':
      return parseKafka(url, parsed);
    case 'rabbitmq':
      return parseRabbitMq(url, parsed);
    case 'kinesis':
      return parseKinesis(url, parsed);
    case 'pubsub':
      return parsePubSub(url, parsed);
    case 'pulsar':
      return parsePulsar(url, parsed);
  }
}

function parseKafka(url: string, parsed: URL): KafkaConfig {
  const hostList = /^kafka:\/\/([^/?]*)/i.exec(url)?.[1] ?? '';
  if (hostList.includes('@')) {
    throw invalid('kafka', 'credentials belong in ?username=&password= (with sasl=…), not before the host', url);
  }
  const brokers = hostList.split(',').map((hostPort) => hostPort.trim());
  for (const hostPort of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(hostPort) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(hostPort)) {
      throw invalid('kafka', `broker address "${hostPort}" must be host:port`, url);
    }
    checkPort('kafka', Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)), url);
  }
  const params = parsed.searchParams;
  const config: KafkaConfig = {
    broker: 'kafka',
    brokers,
    clientId: params.get('clientId') ?? 'polybus',
    ssl: parseBoolean('kafka', 'ssl', params.get('ssl'), url) ?? false,
  };
  const mechanism = params.get('sasl');
  if (mechanism !== null) {
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') {
      throw invalid('kafka', `sasl must be plain, scram-sha-256 or scram-sha-512, not "${mechanism}"`, url);
    }
    const username = params.get('username');
    const password = params.get('password');
    if (!username || password === null) throw invalid('kafka', 'sasl needs both username and password', url);
    config.sasl = { mechanism, username, password: new Secret(password) };
  } else if (params.has('username') || params.has('password')) {
    throw invalid('kafka', 'username/password need sasl=plain|scram-sha-256|scram-sha-512', url);
  }
  return config;
}

function parseRabbitMq(url: string, parsed: URL): RabbitMqConfig {
  const tls = parsed.protocol === 'amqps:';
  if (!parsed.hostname) throw invalid('rabbitmq', 'the host is missing', url);
  const port = parsed.port ? Number(parsed.port) : tls ? 5671 : 5672;
  checkPort('rabbitmq', port, url);
  const path = parsed.pathname.replace(/^\//, '');
  if (path.includes('/'))
    throw invalid('rabbitmq', `the vhost "${path}" must be one path segment (encode "/" as %2F)`, url);
  const config: RabbitMqConfig = {
    broker: 'rabbitmq',
    tls,
    host: parsed.hostname,
    port,
    vhost: path === '' ? '/' : decodeURIComponent(path),
    exchange: parsed.searchParams.get('exchange') ?? 'polybus',
  };
  if (parsed.username) config.username = decodeURIComponent(parsed.username);
  if (parsed.password) config.password = new Secret(decodeURIComponent(parsed.password));
  const heartbeat = parsed.searchParams.get('heartbeat');
  if (heartbeat !== null) config.heartbeatSeconds = parseInteger('rabbitmq', 'heartbeat', heartbeat, 0, 3600, url);
  return config;
}

function parseKinesis(url: string, parsed: URL): KinesisConfig {
  const region = parsed.hostname;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw invalid('kinesis', `"${region}" is not an AWS region such as us-east-1`, url);
  }
  const params = parsed.searchParams;
  const config: KinesisConfig = { broker: 'kinesis', region, shards: 1 };
  const endpoint = params.get('endpoint');
  if (endpoint !== null) {
    if (!/^https?:\/\/[^/]+/.test(endpoint))
      throw invalid('kinesis', `endpoint "${endpoint}" must be http(s)://host:port`, url);
    config.endpoint = endpoint;
  }
  const shards = params.get('shards');
  if (shards !== null) config.shards = parseInteger('kinesis', 'shards', shards, 1, 10_000, url);
  const accessKeyId = params.get('accessKeyId');
  const secretAccessKey = params.get('secretAccessKey');
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    throw invalid('kinesis', 'accessKeyId and secretAccessKey go together', url);
  }
  if (accessKeyId !== null && secretAccessKey !== null) {
    config.accessKeyId = new Secret(accessKeyId);
    config.secretAccessKey = new Secret(secretAccessKey);
  }
  return config;
}

function parsePubSub(url: string, parsed: URL): PubSubConfig {
  const projectId = parsed.hostname;
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(projectId)) {
    throw invalid(
      'pubsub',
      `"${projectId}" is not a Google Cloud project id (6-30 lowercase letters, digits, hyphens)`,
      url,
    );
  }
  const config: PubSubConfig = { broker: 'pubsub', projectId };
  const emulatorHost = parsed.searchParams.get('emulatorHost');
  if (emulatorHost !== null) {
    if (!/^[^:/\s]+:\d{1,5}$/.test(emulatorHost))
      throw invalid('pubsub', `emulatorHost "${emulatorHost}" must be host:port`, url);
    config.emulatorHost = emulatorHost;
  }
  return config;
}

function parsePulsar(url: string, parsed: URL): PulsarConfig {
  const scheme = parsed.protocol;
  const websocket = scheme === 'pulsar+ws:' || scheme === 'pulsar+wss:';
  const tls = scheme === 'pulsar+ssl:' || scheme === 'pulsar+wss:';
  if (!parsed.hostname) throw invalid('pulsar', 'the host is missing', url);
  if (parsed.username || parsed.password)
    throw invalid('pulsar', 'credentials belong in ?token=…, not before the host', url);
  const port = parsed.port ? Number(parsed.port) : websocket ? (tls ? 8443 : 8080) : tls ? 6651 : 6650;
  checkPort('pulsar', port, url);
  const protocol = websocket ? (tls ? 'wss' : 'ws') : tls ? 'pulsar+ssl' : 'pulsar';
  const host = parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname;
  const config: PulsarConfig = {
    broker: 'pulsar',
    transport: websocket ? 'websocket' : 'binary',
    serviceUrl: `${protocol}://${host}:${port}`,
    tls,
    tenant: parsed.searchParams.get('tenant') ?? 'public',
    namespace: parsed.searchParams.get('namespace') ?? 'default',
  };
  const token = parsed.searchParams.get('token');
  if (token !== null) config.token = new Secret(token);
  return config;
}

function checkPort(broker: BrokerName, port: number, url: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid(broker, `port ${port} is out of range 1-65535`, url);
}

function parseBoolean(broker: BrokerName, name: string, value: string | null, url: string): boolean | undefined {
  if (value === null) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(broker, `${name} must be true or false, not "${value}"`, url);
}

function parseInteger(broker: BrokerName, name: string, value: string, min: number, max: number, url: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw invalid(broker, `${name} must be an integer from ${min} to ${max}, not "${value}"`, url);
  }
  return number;
}

function invalid(broker: BrokerName, problem: string, url: string): InvalidUrlError {
  const form = broker === 'core' ? Object.values(URL_FORMS).join('; ') : URL_FORMS[broker];
  return new InvalidUrlError(`${problem} in "${redactUrl(url)}"`, {
    broker,
    operation: 'parse URL',
    hint: `Expected ${form}.`,
  });
}
