/**
 * Proof that each broker is real and reachable: with the broker's own client, create a topic or
 * queue, send one message with a header, receive it, and check body and header.
 */
import { randomUUID } from 'node:crypto';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createStream, kafkaClient, kinesis, nextFrame, pubsubClient, pulsarSocket } from './clients.js';
import { endpoint } from './env.js';

const body = `hello ${randomUUID()} — ünïcode ✓`;
const header = 'tenant-ü-1';

describe('smoke: real brokers with their own clients', () => {
  it('kafka (kafkajs): produce and consume one message with a header', async () => {
    const kafka = kafkaClient('polybus-smoke');
    const topic = `smoke-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<{ value: string; tenant: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          resolve({ value: String(message.value), tenant: String(message.headers?.tenant) });
        },
      });
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: body, headers: { tenant: header } }] });
    expect(await received).toEqual({ value: body, tenant: header });
    await producer.disconnect();
    await consumer.disconnect();
  }, 60_000);

  it('rabbitmq (amqplib): publish and consume one message with a header', async () => {
    const connection = await amqp.connect(endpoint('AMQP_URL'));
    const channel = await connection.createChannel();
    const queue = `smoke-${randomUUID()}`;
    await channel.assertQueue(queue, { durable: true });
    channel.sendToQueue(queue, Buffer.from(body), { headers: { tenant: header }, persistent: true });
    const message = await new Promise<amqp.ConsumeMessage>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (msg) resolve(msg);
      });
    });
    channel.ack(message);
    expect(message.content.toString()).toBe(body);
    expect(message.properties.headers?.tenant).toBe(header);
    await channel.deleteQueue(queue);
    await connection.close();
  }, 60_000);

  it('kinesis (@aws-sdk/client-kinesis on kinesalite): put and get one record', async () => {
    // Kinesis records carry no headers: only data and a partition key (polybus adds an envelope).
    const client = kinesis();
    const stream = `smoke-${randomUUID()}`;
    const shardId = await createStream(client, stream);
    const put = await client.send(
      new PutRecordCommand({ StreamName: stream, PartitionKey: header, Data: Buffer.from(body) }),
    );
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const { Records } = await client.send(new GetRecordsCommand({ ShardIterator }));
    expect(Records).toHaveLength(1);
    expect(Buffer.from(Records?.[0]?.Data ?? []).toString()).toBe(body);
    expect(Records?.[0]?.PartitionKey).toBe(header);
    expect(Records?.[0]?.SequenceNumber).toBe(put.SequenceNumber);
    client.destroy();
  }, 60_000);

  it('pubsub (@google-cloud/pubsub on pstest): publish and pull one message with an attribute', async () => {
    const client = pubsubClient();
    const [topic] = await client.createTopic(`smoke-${randomUUID()}`);
    const [subscription] = await topic.createSubscription(`smoke-${randomUUID()}`, { ackDeadlineSeconds: 10 });
    const received = new Promise<{ data: string; tenant: string | undefined }>((resolve) => {
      subscription.on('message', (message) => {
        message.ack();
        resolve({ data: message.data.toString(), tenant: message.attributes.tenant });
      });
    });
    await topic.publishMessage({ data: Buffer.from(body), attributes: { tenant: header } });
    expect(await received).toEqual({ data: body, tenant: header });
    await subscription.close();
    await subscription.delete();
    await topic.delete();
    await client.close();
  }, 60_000);

  it('pulsar (WebSocket API of standalone): produce and consume one message with a property', async () => {
    const topic = `persistent/public/default/smoke-${randomUUID()}`;
    const consumer = await pulsarSocket(`consumer/${topic}/smoke-sub?subscriptionType=Shared`);
    const received = nextFrame<{ payload: string; properties: Record<string, string>; messageId: string }>(consumer);
    const producer = await pulsarSocket(`producer/${topic}`);
    const ack = nextFrame<{ result: string }>(producer);
    producer.send(
      JSON.stringify({ payload: Buffer.from(body).toString('base64'), properties: { tenant: header }, key: 'k' }),
    );
    expect((await ack).result).toBe('ok');
    const message = await received;
    consumer.send(JSON.stringify({ messageId: message.messageId }));
    expect(Buffer.from(message.payload, 'base64').toString()).toBe(body);
    expect(message.properties.tenant).toBe(header);
    producer.close();
    consumer.close();
  }, 60_000);
});
