/**
 * The AWS SDK clients, loaded lazily (optional peer dependencies), behind the few calls the adapter
 * makes. Every call has a deadline (an abort signal), and the SDK's own retries are off: the
 * adapter retries where it knows what a retry means (throttling, a restarted endpoint). destroy()
 * aborts every call still pending, so that nothing waits out its deadline after close().
 */

import type {
  AttributeValue,
  CreateTableCommandInput,
  DescribeTableCommandOutput,
  DynamoDBClient,
  GetItemCommandOutput,
  PutItemCommandInput,
  ScanCommandOutput,
  UpdateItemCommandInput,
  UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type {
  CreateStreamCommandInput,
  DescribeStreamSummaryCommandOutput,
  GetRecordsCommandOutput,
  GetShardIteratorCommandInput,
  GetShardIteratorCommandOutput,
  KinesisClient,
  ListShardsCommandInput,
  ListShardsCommandOutput,
  PutRecordsCommandInput,
  PutRecordsCommandOutput,
} from '@aws-sdk/client-kinesis';
import type { NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import { importClient } from '../../src/optional-require.js';
import type { Secret } from '../../src/secret.js';

type KinesisModule = typeof import('@aws-sdk/client-kinesis');
type DynamoModule = typeof import('@aws-sdk/client-dynamodb');
type HttpHandlerModule = typeof import('@smithy/node-http-handler');

/** Deadline of one ordinary request (metadata, leases). */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Deadline of one GetRecords call (up to 10 MB come back). */
export const READ_TIMEOUT_MS = 15_000;

/** The Kinesis calls the adapter makes, each with a deadline. */
export interface KinesisApi {
  putRecords(input: PutRecordsCommandInput, timeoutMs?: number): Promise<PutRecordsCommandOutput>;
  getShardIterator(input: GetShardIteratorCommandInput, timeoutMs?: number): Promise<GetShardIteratorCommandOutput>;
  getRecords(iterator: string, limit: number, timeoutMs?: number): Promise<GetRecordsCommandOutput>;
  listShards(input: ListShardsCommandInput): Promise<ListShardsCommandOutput>;
  describeStreamSummary(stream: string): Promise<DescribeStreamSummaryCommandOutput>;
  createStream(input: CreateStreamCommandInput): Promise<void>;
  /** A cheap round trip for health checks. */
  ping(timeoutMs?: number): Promise<void>;
  destroy(): void;
}

/** A DynamoDB item in the low-level format. */
export type Item = Record<string, AttributeValue>;

/** The DynamoDB calls the lease table makes, each with a deadline. */
export interface DynamoApi {
  describeTable(table: string): Promise<DescribeTableCommandOutput>;
  createTable(input: CreateTableCommandInput): Promise<void>;
  /** A strongly consistent scan of a whole table (every page). */
  scanAll(table: string): Promise<Item[]>;
  getItem(table: string, key: Item): Promise<Item | undefined>;
  putItem(input: PutItemCommandInput): Promise<void>;
  updateItem(input: UpdateItemCommandInput): Promise<UpdateItemCommandOutput>;
  deleteItem(
    table: string,
    key: Item,
    condition?: { expression: string; values: Item; names?: Record<string, string> },
  ): Promise<void>;
  destroy(): void;
}

/** Where and as whom the clients connect. */
export interface ClientSettings {
  region: string;
  /** Custom endpoint (an emulator, a VPC endpoint); `aws` or undefined for AWS's own. */
  endpoint?: string | undefined;
  accessKeyId?: Secret | undefined;
  secretAccessKey?: Secret | undefined;
  sessionToken?: Secret | undefined;
}

function credentialsOf(settings: ClientSettings) {
  if (settings.accessKeyId === undefined || settings.secretAccessKey === undefined) return undefined;
  return {
    accessKeyId: settings.accessKeyId.reveal(),
    secretAccessKey: settings.secretAccessKey.reveal(),
    ...(settings.sessionToken === undefined ? {} : { sessionToken: settings.sessionToken.reveal() }),
  };
}

/**
 * The request handler for a custom endpoint: HTTP/1.1 (the SDK's default for Kinesis is HTTP/2,
 * which emulators such as kinesalite do not speak), keep-alive, and a timeout that throws.
 */
async function httpHandler(settings: ClientSettings) {
  if (settings.endpoint === undefined || settings.endpoint === 'aws') return undefined;
  const { NodeHttpHandler } = await importClient<HttpHandlerModule>('kinesis', '@smithy/node-http-handler');
  const options: NodeHttpHandlerOptions & { throwOnRequestTimeout?: boolean } = {
    connectionTimeout: 3_000,
    requestTimeout: READ_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  };
  return new NodeHttpHandler(options);
}

function clientOptions(settings: ClientSettings) {
  const credentials = credentialsOf(settings);
  return {
    region: settings.region,
    maxAttempts: 1,
    ...(settings.endpoint !== undefined && settings.endpoint !== 'aws' ? { endpoint: settings.endpoint } : {}),
    ...(credentials === undefined ? {} : { credentials }),
  };
}

/** A call's signal: aborted at its deadline, or when the client is destroyed. */
function callSignal(destroyed: AbortSignal, timeoutMs: number): AbortSignal {
  return AbortSignal.any([destroyed, AbortSignal.timeout(timeoutMs)]);
}

/** Why a call still pending at destroy() was aborted. */
function destroyedError(): Error {
  return Object.assign(new Error('the connection was closed while this request was pending'), { name: 'AbortError' });
}

/** Loads @aws-sdk/client-kinesis (and the HTTP/1.1 handler for a custom endpoint) and makes a client. */
export async function createKinesisApi(settings: ClientSettings): Promise<KinesisApi> {
  const sdk = await importClient<KinesisModule>('kinesis', '@aws-sdk/client-kinesis');
  const requestHandler = await httpHandler(settings);
  const client: KinesisClient = new sdk.KinesisClient({
    ...clientOptions(settings),
    ...(requestHandler === undefined ? {} : { requestHandler }),
  });
  const destroyed = new AbortController();
  const deadline = (ms: number) => ({ abortSignal: callSignal(destroyed.signal, ms) });
  return {
    putRecords: (input, timeoutMs = REQUEST_TIMEOUT_MS) =>
      client.send(new sdk.PutRecordsCommand(input), deadline(timeoutMs)),
    getShardIterator: (input, timeoutMs = REQUEST_TIMEOUT_MS) =>
      client.send(new sdk.GetShardIteratorCommand(input), deadline(timeoutMs)),
    getRecords: (iterator, limit, timeoutMs = READ_TIMEOUT_MS) =>
      client.send(new sdk.GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), deadline(timeoutMs)),
    listShards: (input) => client.send(new sdk.ListShardsCommand(input), deadline(REQUEST_TIMEOUT_MS)),
    describeStreamSummary: (stream) =>
      client.send(new sdk.DescribeStreamSummaryCommand({ StreamName: stream }), deadline(REQUEST_TIMEOUT_MS)),
    createStream: async (input) => {
      await client.send(new sdk.CreateStreamCommand(input), deadline(REQUEST_TIMEOUT_MS));
    },
    ping: async (timeoutMs = 5_000) => {
      await client.send(new sdk.ListStreamsCommand({ Limit: 1 }), deadline(timeoutMs));
    },
    destroy: () => {
      destroyed.abort(destroyedError());
      client.destroy();
    },
  };
}

/** Loads @aws-sdk/client-dynamodb and makes a client for the lease tables. */
export async function createDynamoApi(settings: ClientSettings): Promise<DynamoApi> {
  const sdk = await importClient<DynamoModule>('kinesis', '@aws-sdk/client-dynamodb');
  const requestHandler = await httpHandler(settings);
  const client: DynamoDBClient = new sdk.DynamoDBClient({
    ...clientOptions(settings),
    ...(requestHandler === undefined ? {} : { requestHandler }),
  });
  const destroyed = new AbortController();
  const deadline = () => ({ abortSignal: callSignal(destroyed.signal, REQUEST_TIMEOUT_MS) });
  return {
    describeTable: (table) => client.send(new sdk.DescribeTableCommand({ TableName: table }), deadline()),
    createTable: async (input) => {
      await client.send(new sdk.CreateTableCommand(input), deadline());
    },
    scanAll: async (table) => {
      const items: Item[] = [];
      let start: Item | undefined;
      do {
        const page: ScanCommandOutput = await client.send(
          new sdk.ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: start }),
          deadline(),
        );
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return items;
    },
    getItem: async (table, key) => {
      const output: GetItemCommandOutput = await client.send(
        new sdk.GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }),
        deadline(),
      );
      return output.Item;
    },
    putItem: async (input) => {
      await client.send(new sdk.PutItemCommand(input), deadline());
    },
    updateItem: (input) => client.send(new sdk.UpdateItemCommand(input), deadline()),
    deleteItem: async (table, key, condition) => {
      await client.send(
        new sdk.DeleteItemCommand({
          TableName: table,
          Key: key,
          ...(condition === undefined
            ? {}
            : {
                ConditionExpression: condition.expression,
                ExpressionAttributeValues: condition.values,
                ...(condition.names === undefined ? {} : { ExpressionAttributeNames: condition.names }),
              }),
        }),
        deadline(),
      );
    },
    destroy: () => {
      destroyed.abort(destroyedError());
      client.destroy();
    },
  };
}
