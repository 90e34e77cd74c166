/**
 * Interop with the raw `@google-cloud/pubsub` client on pstest, both ways: attributes ↔ headers,
 * ordering key ↔ key, data intact byte for byte, message id ↔ receipt id.
 */
import { randomUUID } from 'node:crypto';
import type { PubSub, Message as RawMessage } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_MESSAGE_ATTRIBUTE } from '../adapters/pubsub/index.js';
import { type Broker, connect } from '../src/broker.js';
import { bytes } from '../src/codecs/bytes.js';
import { spyHandler } from '../src/testing/spy.js';
import { pubsubClient } from './clients.js';
import { endpoint } from './env.js';

let raw: PubSub;
let bus: Broker;

beforeAll(async () => {
  raw = pubsubClient();
  bus = await connect(`pubsub://${endpoint('PUBSUB_PROJECT_ID')}?emulatorHost=${endpoint('PUBSUB_EMULATOR_HOST')}`);
});

afterAll(async () => {
  await bus?.close();
  await raw?.close();
});

/** Every byte value, twice, plus bytes that are not valid UTF-8. */
const binary = Buffer.concat([
  Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256)),
  Buffer.from([0xff, 0xfe, 0x00, 0xc3]),
]);

/** Receives `count` messages on a raw subscription, acking each. */
function rawReceive(subscriptionName: string, count: number, timeoutMs = 15_000): Promise<RawMessage[]> {
  const subscription = raw.subscription(subscriptionName);
  const received: RawMessage[] = [];
  return new Promise<RawMessage[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      void subscription.close();
      reject(new Error(`raw subscriber got ${received.length} of ${count} messages`));
    }, timeoutMs);
    subscription.on('message', (message: RawMessage) => {
      received.push(message);
      message.ack();
      if (received.length === count) {
        clearTimeout(timer);
        void subscription.close().then(() => resolve(received));
      }
    });
    subscription.on('error', reject);
  });
}

describe('interop: pubsub', () => {
  it('polybus reads what the raw client publishes: attributes, ordering key, data, id', async () => {
    const topic = `interop-in-${randomUUID().slice(0, 8)}`;
    const spy = spyHandler<Uint8Array>();
    // The adapter creates the topic and the group's subscription.
    await bus.consumer<Uint8Array>({ topic, group: 'reader', codec: bytes() }).run(spy.handler);
    const rawTopic = raw.topic(topic, { messageOrdering: true });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        await rawTopic.publishMessage({
          data: Buffer.concat([binary, Buffer.from([i])]),
          attributes: { tenant: 't1', 'ünïcode-名前': 'välue ✓ 🚀', seq: String(i) },
          orderingKey: 'order-42',
        }),
      );
    }
    const attributesOnly = await rawTopic.publishMessage({ data: Buffer.alloc(0), attributes: { only: 'attrs' } });
    const handled = await spy.waitForHandled(6, 15_000);
    const keyed = handled.filter((m) => m.key === 'order-42');
    expect(keyed.map((m) => m.id)).toEqual(ids);
    keyed.forEach((message, i) => {
      expect(Buffer.compare(Buffer.from(message.value), Buffer.concat([binary, Buffer.from([i])]))).toBe(0);
      expect(message.headers).toEqual({ tenant: 't1', 'ünïcode-名前': 'välue ✓ 🚀', seq: String(i) });
      expect(message.topic).toBe(topic);
      expect(message.attempt).toBe(1);
      expect((message.raw as RawMessage).orderingKey).toBe('order-42');
    });
    const plain = handled.find((m) => m.id === attributesOnly);
    expect(plain?.key).toBeUndefined();
    expect(plain?.headers).toEqual({ only: 'attrs' });
    expect(plain?.value.byteLength).toBe(0);
  }, 30_000);

  it('the raw client reads what polybus publishes: headers as attributes, key as ordering key, data, id', async () => {
    const topic = `interop-out-${randomUUID().slice(0, 8)}`;
    const [rawTopic] = await raw.createTopic(topic);
    const [rawSubscription] = await rawTopic.createSubscription(`${topic}.raw`, { enableMessageOrdering: true });
    const producer = bus.producer<Uint8Array>({ codec: bytes() });
    const receipts = await producer.send(
      topic,
      Array.from({ length: 5 }, (_, i) => ({
        key: 'order-7',
        value: Buffer.concat([binary, Buffer.from([i])]),
        headers: { tenant: 't2', 'ünïcode-名前': '日本語 😀', seq: String(i) },
      })),
    );
    const empty = await producer.send(topic, { value: new Uint8Array(0) });
    const received = await rawReceive(rawSubscription.name, 6);
    const keyed = received.filter((m) => m.orderingKey === 'order-7');
    expect(keyed.map((m) => m.id)).toEqual(receipts.map((r) => r.id));
    keyed.forEach((message, i) => {
      expect(Buffer.compare(message.data, Buffer.concat([binary, Buffer.from([i])]))).toBe(0);
      expect(message.attributes).toEqual({ tenant: 't2', 'ünïcode-名前': '日本語 😀', seq: String(i) });
    });
    // Pub/Sub refuses a message with neither data nor attributes: polybus marks an empty one.
    const marked = received.find((m) => m.id === empty.id);
    expect(marked?.orderingKey ?? '').toBe('');
    expect(marked?.data.byteLength).toBe(0);
    expect(marked?.attributes).toEqual({ [EMPTY_MESSAGE_ATTRIBUTE]: '1' });
  }, 30_000);
});
