/**
 * The Kinesis adapter (`kinesis://<region>`), on `@aws-sdk/client-kinesis` and (for consumer
 * groups) `@aws-sdk/client-dynamodb`, optional peer dependencies loaded only when a Kinesis
 * connection is made (DynamoDB on the first subscribe).
 *
 * | polybus | Kinesis |
 * |---|---|
 * | topic | stream (created with `shards` shards when missing, unless `autoCreate=false`) |
 * | key | partition key (a random one, the same for a whole send, without key) |
 * | headers | the polybus envelope around the data (see envelope.ts); `envelope=false` writes raw data |
 * | group | a KCL-style lease table in DynamoDB, one lease per shard (see lease-store.ts) |
 * | ack | checkpoint below the lowest unsettled sequence number of the shard |
 * | nack / attempt | in process (the consumer core holds a failed message and the later ones of its key) |
 * | `from: 'earliest'` | a new group starts at `TRIM_HORIZON`; `latest`: at the time of subscribe() |
 * | message id / receipt id | `<shardId>-<sequenceNumber>` |
 */
import type {
  Adapter,
  Capabilities,
  HealthStatus,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from '../../src/adapter.js';
import { ClosedError, errorText, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import type { KinesisConfig } from '../../src/url.js';
import { type ClientSettings, createDynamoApi, createKinesisApi, type DynamoApi, type KinesisApi } from './clients.js';
import { type KinesisAdapterConfig, type KinesisOptions, leaseTableName, resolveKinesisOptions } from './config.js';
import { toBrokerError } from './errors.js';
import { DynamoLeaseStore } from './lease-store.js';
import { KinesisPublisher, MAX_RECORDS_PER_CALL } from './publisher.js';
import { KinesisSubscription } from './subscriber.js';
import { checkStreamName, KinesisTopology, LeaseTables } from './topology.js';

export { TopicNotFoundError } from '../shared/errors.js';
export type { KinesisAdapterConfig, KinesisOptions, KinesisOptionsInput } from './config.js';
export {
  DEFAULT_LEASE_TABLE,
  KINESIS_BASE_URL_PARAMS,
  KINESIS_DEFAULTS,
  KINESIS_SECRET_PARAMS,
  KINESIS_URL_PARAMS,
  leaseTableName,
  parseKinesisOptions,
  resolveKinesisOptions,
} from './config.js';
export { ENVELOPE_MAGIC, ENVELOPE_OVERHEAD, ENVELOPE_VERSION, type Unwrapped, unwrap, wrap } from './envelope.js';
export { HeadersNotSupportedError, LeaseTableNotFoundError } from './errors.js';
export type { KinesisRawMessage } from './shard-reader.js';

/**
 * What Kinesis offers. Per-key order within a shard (and across a reshard); records persist for the
 * stream's retention and a new group can replay them; no broker-side delayed redelivery or
 * dead-letter queue (the consumer core retries in process). A record holds 1 MiB including its
 * partition key; `maxMessageBytes` leaves 512 bytes of that for the envelope and the key, and
 * anything over the real limit is refused before sending. `maxBatch` is PutRecords's 500.
 */
export const KINESIS_CAPABILITIES: Capabilities = Object.freeze({
  perKeyOrdering: true,
  persistent: true,
  replay: true,
  nativeDelay: false,
  nativeDeadLetter: false,
  maxMessageBytes: 1_048_576 - 512,
  maxBatch: MAX_RECORDS_PER_CALL,
});

/** How long health() waits for Kinesis. */
const HEALTH_TIMEOUT_MS = 5_000;

class KinesisAdapter implements Adapter {
  readonly broker = 'kinesis' as const;
  readonly capabilities = KINESIS_CAPABILITIES;
  readonly #config: KinesisConfig;
  readonly #options: KinesisOptions;
  readonly #kinesis: KinesisApi;
  readonly #topology: KinesisTopology;
  readonly #publisher: KinesisPublisher;
  readonly #subscriptions = new Set<KinesisSubscription>();
  #dynamo: Promise<DynamoApi> | undefined;
  #leaseTables: LeaseTables | undefined;
  #publishProblem: string | undefined;
  #throttledSends = 0;
  #closed = false;

  constructor(config: KinesisConfig, options: KinesisOptions, kinesis: KinesisApi) {
    this.#config = config;
    this.#options = options;
    this.#kinesis = kinesis;
    this.#topology = new KinesisTopology(kinesis, { autoCreate: options.autoCreate, shards: config.shards });
    this.#publisher = new KinesisPublisher({
      kinesis,
      ensureStream: (stream) => this.#topology.ensureStream(stream, 'send'),
      forgetStream: (stream) => this.#topology.forget(stream),
      envelope: options.envelope,
      sendTimeoutMs: options.sendTimeoutMs,
      onThrottled: () => {
        this.#throttledSends++;
      },
      onRetry: (error) => {
        this.#publishProblem = errorText(error);
      },
      onSuccess: () => {
        this.#publishProblem = undefined;
      },
    });
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'publish', 'kinesis'));
    return this.#publisher.publish(topic, records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'kinesis');
    checkStreamName(options.topic, 'subscribe');
    const table = leaseTableName(this.#options.leaseTable, options.group, options.topic);
    const dynamo = await this.#dynamoApi();
    const stream = await this.#topology.ensureStream(options.topic, 'subscribe');
    this.#leaseTables ??= new LeaseTables(dynamo, this.#options.autoCreate);
    await this.#leaseTables.ensure(table);
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'kinesis');
    const subscription = new KinesisSubscription(options, {
      kinesis: this.#kinesis,
      store: new DynamoLeaseStore(dynamo, table),
      table,
      listShards: () => this.#topology.listShards(options.topic),
      streamCreatedAt: stream.createdAt,
      failoverTimeMs: this.#options.failoverTimeMs,
      pollIntervalMs: this.#options.pollIntervalMs,
      checkpointIntervalMs: this.#options.checkpointIntervalMs,
      onClosed: (closed) => this.#subscriptions.delete(closed),
    });
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      throw error;
    }
    return subscription;
  }

  #dynamoApi(): Promise<DynamoApi> {
    if (this.#dynamo === undefined) {
      const endpoint = this.#options.dynamoEndpoint;
      if (this.#config.endpoint !== undefined && endpoint === undefined) {
        return Promise.reject(
          new InvalidConfigError(
            'endpoint is set (a custom or emulated Kinesis) but dynamoEndpoint is not, so the lease tables of consumer groups would go to AWS DynamoDB',
            {
              broker: 'kinesis',
              operation: 'subscribe',
              hint: 'Set dynamoEndpoint to your DynamoDB (e.g. dynamoEndpoint=http://127.0.0.1:4568), or dynamoEndpoint=aws to use AWS DynamoDB in the same region.',
            },
          ),
        );
      }
      const settings: ClientSettings = { ...this.#credentials(), endpoint };
      this.#dynamo = createDynamoApi(settings);
      this.#dynamo.catch(() => {
        this.#dynamo = undefined;
      });
    }
    return this.#dynamo;
  }

  #credentials(): ClientSettings {
    return {
      region: this.#config.region,
      accessKeyId: this.#config.accessKeyId,
      secretAccessKey: this.#config.secretAccessKey,
      sessionToken: this.#options.sessionToken,
    };
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'kinesis', detail: 'closed' };
    const details: string[] = [`kinesis://${this.#config.region}`];
    let ok = true;
    try {
      await this.#kinesis.ping(HEALTH_TIMEOUT_MS);
    } catch (error) {
      ok = false;
      details.push(`Kinesis unreachable: ${errorText(toBrokerError(error, 'health check'))}`);
    }
    if (this.#publishProblem !== undefined) details.push(`sends retrying: ${this.#publishProblem}`);
    if (this.#throttledSends > 0) details.push(`sends throttled ${this.#throttledSends} time(s)`);
    for (const subscription of this.#subscriptions) {
      const health = subscription.health();
      if (!health.ok) ok = false;
      details.push(health.detail);
    }
    return { ok, broker: 'kinesis', detail: details.join('; ') };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#publisher.close();
    this.#kinesis.destroy();
    const dynamo = await this.#dynamo?.catch(() => undefined);
    dynamo?.destroy();
  }
}

/**
 * Adapter factory for `kinesis://<region>`: validates the options (see {@link KinesisOptions}),
 * loads `@aws-sdk/client-kinesis` (and `@smithy/node-http-handler` for a custom endpoint).
 * @throws {InvalidConfigError} for a bad option; {@link AdapterNotInstalledError} for a missing client package.
 */
export async function createAdapter(config: KinesisAdapterConfig): Promise<Adapter> {
  if (config?.broker !== 'kinesis') {
    throw new InvalidConfigError(`the Kinesis adapter got a ${String(config?.broker)} config`, {
      broker: 'kinesis',
      operation: 'connect',
      hint: 'Use a kinesis://<region> URL.',
    });
  }
  const options = resolveKinesisOptions(config as unknown as Readonly<Record<string, unknown>>);
  const base: KinesisConfig = {
    broker: 'kinesis',
    region: config.region,
    shards: config.shards ?? 1,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.accessKeyId === undefined ? {} : { accessKeyId: config.accessKeyId }),
    ...(config.secretAccessKey === undefined ? {} : { secretAccessKey: config.secretAccessKey }),
  };
  const kinesis = await createKinesisApi({
    region: base.region,
    endpoint: base.endpoint,
    accessKeyId: base.accessKeyId,
    secretAccessKey: base.secretAccessKey,
    sessionToken: options.sessionToken,
  });
  return new KinesisAdapter(base, options, kinesis);
}
