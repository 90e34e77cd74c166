/** The brokers' own clients, pointed at the running brokers: shared by the smoke and restart tests. */
import { CreateStreamCommand, DescribeStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { PubSub } from '@google-cloud/pubsub';
import { Kafka, logLevel } from 'kafkajs';
import WebSocket from 'ws';
import { kinesisClient } from './emulators/kinesis.js';
import { endpoint } from './env.js';

export function kafkaClient(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: endpoint('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING });
}

export function kinesis(): KinesisClient {
  return kinesisClient(endpoint('KINESIS_ENDPOINT'));
}

/** Creates a one-shard stream, waits until it is ACTIVE and returns its shard id. */
export async function createStream(client: KinesisClient, stream: string): Promise<string> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  return shardOf(client, stream);
}

export async function shardOf(client: KinesisClient, stream: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamName: stream }));
    const shardId = StreamDescription?.Shards?.[0]?.ShardId;
    if (StreamDescription?.StreamStatus === 'ACTIVE' && shardId) return shardId;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`stream ${stream} did not become ACTIVE`);
}

export function pubsubClient(): PubSub {
  // No Google credentials or metadata server here; the emulator needs none.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  return new PubSub({
    projectId: endpoint('PUBSUB_PROJECT_ID'),
    apiEndpoint: endpoint('PUBSUB_EMULATOR_HOST'),
    emulatorMode: true,
  });
}

/** Opens a Pulsar WebSocket API endpoint, e.g. `producer/persistent/public/default/t`. */
export function pulsarSocket(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${endpoint('PULSAR_WS_URL')}/ws/v2/${path}`);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The next JSON frame the socket receives. */
export function nextFrame<T>(socket: WebSocket): Promise<T> {
  return new Promise((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)) as T)));
}
