/**
 * polybus and plain amqplib on one RabbitMQ, both ways: what polybus sends, another client reads
 * (body, headers, key, id, timestamp); what another client sends, polybus delivers.
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_HEADER, queueName, TIMESTAMP_HEADER } from '../adapters/rabbitmq/index.js';
import { type Broker, connect } from '../src/broker.js';
import { bytes } from '../src/codecs/bytes.js';
import { spyHandler } from '../src/testing/spy.js';
import { endpoint } from './env.js';

const payload = Buffer.from([0, 1, 2, 250, 255, ...Buffer.from(' zażółć ✓ 🚀')]);

describe('interop: rabbitmq (polybus and raw amqplib)', () => {
  let bus: Broker;
  let connection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;

  beforeAll(async () => {
    bus = await connect(endpoint('AMQP_URL'));
    connection = await amqp.connect(endpoint('AMQP_URL'));
    channel = await connection.createConfirmChannel();
  });
  afterAll(async () => {
    await connection?.close();
    await bus?.close();
  });

  it('raw amqplib reads what polybus sends: body, headers, key, id, timestamp, persistence', async () => {
    const topic = `interop-out-${randomUUID()}`;
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'polybus', topic);
    const before = Date.now();
    const receipt = await bus.producer<Uint8Array>({ codec: bytes() }).send(topic, {
      key: 'order-ü-1',
      value: payload,
      headers: { tenant: 't1', 'ünïcode-名前': 'välue ✓' },
    });
    let message: amqp.GetMessage | false = false;
    for (let i = 0; i < 50 && !message; i++) {
      message = await channel.get(queue, { noAck: true });
      if (!message) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!message) throw new Error('amqplib got nothing');
    expect(Buffer.compare(message.content, payload)).toBe(0);
    expect(message.fields.routingKey).toBe(topic);
    expect(message.properties.messageId).toBe(receipt.id);
    expect(message.properties.deliveryMode).toBe(2);
    const headers = message.properties.headers ?? {};
    expect(headers.tenant).toBe('t1');
    expect(headers['ünïcode-名前']).toBe('välue ✓');
    expect(headers[KEY_HEADER]).toBe('order-ü-1');
    const stamp = Number(headers[TIMESTAMP_HEADER]);
    expect(stamp).toBeGreaterThanOrEqual(before);
    expect(message.properties.timestamp).toBe(Math.floor(stamp / 1000));
  });

  it('polybus delivers what raw amqplib sends: to the exchange, and straight to the group queue', async () => {
    const topic = `interop-in-${randomUUID()}`;
    const spy = spyHandler<Uint8Array>();
    const consumer = bus.consumer<Uint8Array>({ topic, group: 'g.1', codec: bytes() });
    await consumer.run(spy.handler);
    const sentAt = Math.floor(Date.now() / 1000);
    channel.publish('polybus', topic, payload, {
      messageId: 'raw-1',
      timestamp: sentAt,
      headers: { [KEY_HEADER]: 'k1', tenant: 't2', n: 5, flag: true, raw: Buffer.from('bytes') },
    });
    // Another client that sets no message id, no key and no timestamp, straight to the queue.
    channel.sendToQueue(queueName(topic, 'g.1'), Buffer.from('plain'));
    await channel.waitForConfirms();
    const [first, second] = await spy.waitForHandled(2, 10_000);
    expect(first?.id).toBe('raw-1');
    expect(first?.key).toBe('k1');
    expect(first?.topic).toBe(topic);
    expect(first?.attempt).toBe(1);
    expect(first?.timestamp).toBe(sentAt * 1000);
    expect(first?.headers).toEqual({ tenant: 't2', n: '5', flag: 'true', raw: 'bytes' });
    expect(Buffer.compare(Buffer.from(first?.value ?? []), payload)).toBe(0);
    expect(second?.key).toBeUndefined();
    expect(Buffer.from(second?.value ?? []).toString()).toBe('plain');
    expect(second?.id).toMatch(/^sha256:/);
    expect(second?.headers).toEqual({});
    await consumer.close();
    await channel.deleteQueue(queueName(topic, 'g.1'));
  });
});
