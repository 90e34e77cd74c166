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
import type { Adapter } from '../../src/adapter.js';
import { InvalidConfigError } from '../../src/errors.js';
import type { KinesisConfig } from '../../src/url.js';
import { KinesisAdapter } from './adapter.js';
import { createKinesisApi } from './clients.js';
import { type KinesisAdapterConfig, resolveKinesisOptions } from './config.js';

export { TopicNotFoundError } from '../shared/errors.js';
export { KINESIS_CAPABILITIES } from './adapter.js';
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
