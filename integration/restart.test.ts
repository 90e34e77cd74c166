/**
 * The launcher can bounce each broker from a test (as a later reliability suite will, mid-stream):
 * a message stored before `restart()` is still there after it, for every broker that persists.
 * pstest keeps its state in memory, so for Pub/Sub the test checks that it serves again.
 */
import { randomUUID } from 'node:crypto';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createStream, kafkaClient, kinesis, nextFrame, pubsubClient, pulsarSocket, shardOf } from './clients.js';
import { launcher, restart } from './emulators/index.js';
import { endpoint } from './env.js';

const body = `survives a restart ${randomUUID()}`;

describe('restart: brokers keep their data across a restart from a test', () => {
  it('kafka', async () => {
    const kafka = kafkaClient('polybus-restart');
    const topic = `restart-${randomUUID()}`;
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: body }] });
    await producer.disconnect();
    await restart('kafka');
    const consumer = kafka.consumer({ groupId: `restart-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const value = await new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
    });
    await consumer.disconnect();
    expect(value).toBe(body);
  }, 180_000);

  it('rabbitmq', async () => {
    const queue = `restart-${randomUUID()}`;
    let connection = await amqp.connect(endpoint('AMQP_URL'));
    let channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(body), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
    await restart('rabbitmq');
    connection = await amqp.connect(endpoint('AMQP_URL'));
    channel = await connection.createConfirmChannel();
    const message = await channel.get(queue, { noAck: true });
    await channel.deleteQueue(queue);
    await connection.close();
    expect(message ? message.content.toString() : message).toBe(body);
  }, 180_000);

  it('kinesis', async () => {
    const stream = `restart-${randomUUID()}`;
    let client = kinesis();
    await createStream(client, stream);
    await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'k', Data: Buffer.from(body) }));
    client.destroy();
    await restart('kinesis');
    client = kinesis();
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: await shardOf(client, stream),
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Records } = await client.send(new GetRecordsCommand({ ShardIterator }));
    client.destroy();
    expect(Buffer.from(Records?.[0]?.Data ?? []).toString()).toBe(body);
  }, 180_000);

  it('pulsar', async () => {
    const topic = `persistent/public/default/restart-${randomUUID()}`;
    // A durable subscription first, so the broker keeps the message for it.
    (await pulsarSocket(`consumer/${topic}/restart-sub`)).close();
    const producer = await pulsarSocket(`producer/${topic}`);
    const ack = nextFrame<{ result: string }>(producer);
    producer.send(JSON.stringify({ payload: Buffer.from(body).toString('base64') }));
    expect((await ack).result).toBe('ok');
    producer.close();
    await restart('pulsar');
    const consumer = await pulsarSocket(`consumer/${topic}/restart-sub`);
    const message = await nextFrame<{ payload: string; messageId: string }>(consumer);
    consumer.send(JSON.stringify({ messageId: message.messageId }));
    consumer.close();
    expect(Buffer.from(message.payload, 'base64').toString()).toBe(body);
  }, 240_000);

  it('pubsub (pstest keeps no state across restarts: it serves again)', async () => {
    await restart('pubsub');
    expect(await launcher('pubsub').ready()).toBe(true);
    const client = pubsubClient();
    const [topic] = await client.createTopic(`restart-${randomUUID()}`);
    const [id] = await topic.publishMessage({ data: Buffer.from(body) });
    expect(id).toMatch(/\S/);
    await client.close();
  }, 180_000);
});
