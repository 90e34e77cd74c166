/**
 * What the RabbitMQ adapter declares and how it fails when it may not: autoDeclare=false with a
 * missing queue or exchange, a queue declared elsewhere with other arguments, a refused login,
 * a message above the limit.
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExchangeNotFoundError,
  QueueNotFoundError,
  queueName,
  type RabbitMqOptionsInput,
} from '../adapters/rabbitmq/index.js';
import { type Broker, connect } from '../src/broker.js';
import { BrokerError, InvalidConfigError, MessageTooLargeError } from '../src/errors.js';
import { parseBrokerUrl, type RabbitMqConfig } from '../src/url.js';
import { endpoint } from './env.js';

const opened: Broker[] = [];
async function open(options: RabbitMqOptionsInput = {}, url = endpoint('AMQP_URL')): Promise<Broker> {
  // A config object with the adapter's options, as a user would pass one.
  const bus = await connect({ ...parseBrokerUrl(url), ...options } as RabbitMqConfig);
  opened.push(bus);
  return bus;
}

describe('topology: rabbitmq', () => {
  let raw: amqp.ChannelModel;
  let channel: amqp.Channel;
  beforeAll(async () => {
    raw = await amqp.connect(endpoint('AMQP_URL'));
    channel = await raw.createChannel();
  });
  afterAll(async () => {
    await Promise.all(opened.map((bus) => bus.close()));
    await raw.close();
  });

  it('declares a durable direct exchange and a quorum queue per group with x-delivery-limit, bound by topic', async () => {
    const topic = `topo-${randomUUID()}.with.dots*#`;
    const consumer = (await open()).consumer({ topic, group: 'billing.eu' });
    await consumer.run(() => {});
    const queue = queueName(topic, 'billing.eu');
    expect(queue).toBe(`${topic}.billing%2Eeu`);
    // Declaring with the same arguments passes; other arguments would close the channel with 406.
    const check = await raw.createChannel();
    await expect(
      check.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 100_000 } }),
    ).resolves.toMatchObject({ queue, consumerCount: 1 });
    await expect(check.assertExchange('polybus', 'direct', { durable: true })).resolves.toBeDefined();
    await check.close();
    await consumer.close();
    await channel.deleteQueue(queue);
  });

  it('with autoDeclare=false names the missing queue, and the missing exchange', async () => {
    const bus = await open({ autoDeclare: false });
    const topic = `topo-missing-${randomUUID()}`;
    const error = await bus
      .consumer({ topic, group: 'g' })
      .run(() => {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueNotFoundError);
    expect((error as QueueNotFoundError).queue).toBe(`${topic}.g`);
    expect(String(error)).toContain(`queue "${topic}.g" does not exist in vhost "/"`);
    const exchange = `missing-${randomUUID()}`;
    const failed = await open({ autoDeclare: false }, `${endpoint('AMQP_URL')}?exchange=${exchange}`).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(ExchangeNotFoundError);
    expect(String(failed)).toContain(exchange);
  });

  it('with autoDeclare=false uses a queue that exists', async () => {
    const topic = `topo-existing-${randomUUID()}`;
    const queue = queueName(topic, 'g');
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, 'polybus', topic);
    const bus = await open({ autoDeclare: false, queueType: 'classic' });
    const seen: string[] = [];
    const consumer = bus.consumer<string>({ topic, group: 'g' });
    await consumer.run((message) => {
      seen.push(message.value);
    });
    await bus.producer<string>().send(topic, { value: 'hello' });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual(['hello']);
    await consumer.close();
    await channel.deleteQueue(queue);
  });

  it('explains a queue that exists with other arguments', async () => {
    const topic = `topo-conflict-${randomUUID()}`;
    await channel.assertQueue(queueName(topic, 'g'), { durable: true });
    const error = await (await open())
      .consumer({ topic, group: 'g' })
      .run(() => {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(false);
    expect(String(error)).toMatch(/inequivalent arg.*already exists with other arguments/s);
    await channel.deleteQueue(queueName(topic, 'g'));
  });

  it('refuses a wrong password without retrying and without printing it', async () => {
    const url = endpoint('AMQP_URL').replace('guest:guest@', 'guest:wrong-pass-123@');
    const error = await open({}, url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(false);
    expect(String(error)).toMatch(/ACCESS.REFUSED/);
    expect(String(error)).not.toContain('wrong-pass-123');
  });

  it('refuses messages over maxMessageBytes and headers over 64 KiB before sending', async () => {
    const bus = await open({ maxMessageBytes: 4096 });
    const producer = bus.producer<string>();
    const topic = `topo-size-${randomUUID()}`;
    await expect(producer.send(topic, { value: 'x'.repeat(5000) })).rejects.toBeInstanceOf(MessageTooLargeError);
    const big = await open();
    await expect(
      big.producer<string>().send(topic, { value: 'x', headers: { huge: 'h'.repeat(70_000) } }),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    // The connection is still fine afterwards.
    await expect(big.producer<string>().send(topic, { value: 'ok' })).resolves.toHaveProperty('id');
  });
});
