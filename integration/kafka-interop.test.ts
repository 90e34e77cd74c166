/**
 * polybus and other Kafka clients share topics: a record written by raw kafkajs (its own key and
 * headers) is delivered by polybus intact, and a polybus message is read by raw kafkajs with key,
 * headers and value intact, in the partition the Java client would have chosen for its key.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { KafkaRawMessage } from '../adapters/kafka/subscriber.js';
import { type Broker, connect } from '../src/broker.js';
import { bytes } from '../src/codecs/bytes.js';
import { spyHandler } from '../src/testing/spy.js';
import { kafkaClient } from './clients.js';
import { endpoint } from './env.js';

const open = (): Promise<Broker> =>
  connect(`kafka://${endpoint('KAFKA_BROKERS')}?clientId=polybus-interop&partitions=4`);

describe('interop: kafka', () => {
  it('delivers a record written by raw kafkajs with its key, headers, value and timestamp', async () => {
    const topic = `interop-in-${randomUUID()}`;
    const kafka = kafkaClient('interop-raw-producer');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const bus = await open();
    try {
      const spy = spyHandler<Uint8Array>();
      await bus.consumer<Uint8Array>({ topic, group: `interop-${randomUUID()}`, codec: bytes() }).run(spy.handler);
      const producer = kafka.producer();
      await producer.connect();
      const value = Buffer.from([0, 1, 2, 255, 254, 0x7b]);
      const [meta] = await producer.send({
        topic,
        messages: [
          {
            key: 'order-42',
            value,
            timestamp: '1700000000123',
            headers: { tenant: 't1', 'ünï-名': Buffer.from('välue ✓'), repeated: ['first', 'second'] },
          },
        ],
      });
      await producer.disconnect();
      const [message] = await spy.waitForHandled(1, 20_000);
      expect(message?.key).toBe('order-42');
      expect(Buffer.from(message?.value ?? []).equals(value)).toBe(true);
      expect(message?.headers).toEqual({ tenant: 't1', 'ünï-名': 'välue ✓', repeated: 'second' });
      expect(message?.timestamp).toBe(1_700_000_000_123);
      expect(message?.id).toBe(`${meta?.partition}-${meta?.baseOffset}`);
      const raw = message?.raw as KafkaRawMessage;
      expect(raw.topic).toBe(topic);
      expect(raw.partition).toBe(meta?.partition);
      expect(raw.offset).toBe(meta?.baseOffset);
      expect(raw.headers.repeated).toHaveLength(2);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('writes records raw kafkajs reads with key, headers and value intact, where Java would place the key', async () => {
    const topic = `interop-out-${randomUUID()}`;
    const bus = await open();
    const kafka = kafkaClient('interop-raw-consumer');
    const consumer = kafka.consumer({ groupId: `interop-raw-${randomUUID()}` });
    try {
      const keys = ['21', 'foobar', 'abc', 'order-1'];
      const receipts = await bus.producer<Uint8Array>({ codec: bytes() }).send(
        topic,
        keys.map((key, i) => ({
          key,
          value: Buffer.from(`payload-${i}-ü`),
          headers: { tenant: `t${i}`, 'trace-ü': 'ok ✓' },
          timestamp: 1_700_000_000_000 + i,
        })),
      );
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const seen: Array<{
        key: string;
        value: string;
        headers: Record<string, string>;
        partition: number;
        offset: string;
        timestamp: string;
      }> = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [name, v] of Object.entries(message.headers ?? {})) headers[name] = String(v);
            seen.push({
              key: String(message.key),
              value: String(message.value),
              headers,
              partition,
              offset: message.offset,
              timestamp: message.timestamp,
            });
            if (seen.length === keys.length) resolve();
          },
        });
      });
      seen.sort((a, b) => keys.indexOf(a.key) - keys.indexOf(b.key));
      // Kafka's Java murmur2 vectors: partition = (hash & 0x7fffffff) % 4.
      const java: Record<string, number> = { '21': -973932308, foobar: -790332482, abc: 479470107 };
      seen.forEach((record, i) => {
        expect(record.value).toBe(`payload-${i}-ü`);
        expect(record.headers).toEqual({ tenant: `t${i}`, 'trace-ü': 'ok ✓' });
        expect(record.timestamp).toBe(String(1_700_000_000_000 + i));
        expect(receipts[i]).toMatchObject({ partition: record.partition, sequence: record.offset });
        expect(receipts[i]?.id).toBe(`${record.partition}-${record.offset}`);
        const hash = java[record.key];
        if (hash !== undefined) expect(record.partition).toBe((hash & 0x7fffffff) % 4);
      });
    } finally {
      await consumer.disconnect();
      await bus.close();
    }
  }, 60_000);
});
