import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CACHE, ensureDir, launch, ROOT, stopDetached, tcpOpen } from './common.js';
import type { Launcher } from './launcher.js';

const PORT = Number(process.env.POLYBUS_KINESIS_PORT ?? 4567);
const ENDPOINT = `http://127.0.0.1:${PORT}`;
/** dynalite, the DynamoDB emulator for the lease tables of consumer groups, runs in the same process. */
const DYNAMODB_PORT = Number(process.env.POLYBUS_DYNAMODB_PORT ?? 4568);
const DYNAMODB_ENDPOINT = `http://127.0.0.1:${DYNAMODB_PORT}`;
/** Both keep their LevelDB data here (kinesis/ and dynamodb/), so `reset` deletes both. */
const DATA = join(CACHE, 'data', 'kinesalite');

/** A client for the emulator: HTTP/1.1 (kinesalite does not speak HTTP/2) and dummy credentials. */
export function kinesisClient(endpoint = ENDPOINT): KinesisClient {
  return new KinesisClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 10_000 }),
    maxAttempts: 1,
  });
}

/** A DynamoDB client for the emulator (HTTP/1.1, dummy credentials). */
export function dynamoClient(endpoint = DYNAMODB_ENDPOINT): DynamoDBClient {
  return new DynamoDBClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 10_000 }),
    maxAttempts: 1,
  });
}

/** Both emulators answer a real request. */
async function answers(): Promise<boolean> {
  if (!(await tcpOpen('127.0.0.1', PORT)) || !(await tcpOpen('127.0.0.1', DYNAMODB_PORT))) return false;
  const client = kinesisClient();
  const dynamo = dynamoClient();
  try {
    await client.send(new ListStreamsCommand({}));
    await dynamo.send(new ListTablesCommand({}));
    return true;
  } finally {
    client.destroy();
    dynamo.destroy();
  }
}

export const kinesis: Launcher = {
  name: 'kinesis',
  externalVariable: 'KINESIS_ENDPOINT',
  // One launcher, one process: start, stop and restart('kinesis') act on Kinesis and DynamoDB together.
  endpoints: { KINESIS_ENDPOINT: ENDPOINT, DYNAMODB_ENDPOINT },

  async install() {
    // kinesalite and dynalite are npm devDependencies (pinned in package-lock.json), installed by `npm ci`.
  },

  async start() {
    await this.stop();
    ensureDir(DATA);
    await launch(
      'kinesis',
      {
        command: process.execPath,
        args: [join(ROOT, 'integration/emulators/kinesis/server.mjs'), String(PORT), String(DYNAMODB_PORT), DATA],
      },
      { what: 'answering ListStreams and ListTables', check: answers, timeoutMs: 60_000 },
    );
  },

  async stop() {
    await stopDetached('kinesis');
  },

  ready: answers,
};
