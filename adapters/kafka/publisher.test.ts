import kafkajs, { type Message, type PartitionMetadata, type Producer, type ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, ClosedError, MessageTooLargeError } from '../../src/errors.js';
import { KafkaPublisher, type PublisherDeps } from './publisher.js';

const { Partitioners } = kafkajs;

const partitionsOf = (count: number): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));

/** A kafkajs producer stand-in that records requests and answers like a broker (one base offset per partition). */
interface Broker {
  /** How every producer's sendBatch behaves from now on. */
  behaviour: 'ok' | 'hang' | 'fail';
  failWith: unknown;
  readonly logEnd: Map<string, number>;
}

class FakeProducer {
  readonly requests: ProducerBatch[] = [];
  readonly broker: Broker;
  connected = false;
  disconnected = false;
  inFlight = 0;
  maxInFlight = 0;

  constructor(broker: Broker) {
    this.broker = broker;
  }

  async connect(): Promise<void> {
    this.connected = true;
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
  async sendBatch(batch: ProducerBatch) {
    this.requests.push(batch);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (this.broker.behaviour === 'hang') await new Promise(() => {});
      if (this.broker.behaviour === 'fail') throw this.broker.failWith;
      // With acks=0 the broker does not answer, and kafkajs returns nothing.
      if (batch.acks === 0) return [];
      const result = [];
      for (const { topic, messages } of batch.topicMessages ?? []) {
        const counts = new Map<number, number>();
        for (const message of messages)
          counts.set(message.partition as number, (counts.get(message.partition as number) ?? 0) + 1);
        for (const [partition, count] of counts) {
          const slot = `${topic}/${partition}`;
          const base = this.broker.logEnd.get(slot) ?? 0;
          this.broker.logEnd.set(slot, base + count);
          result.push({ topicName: topic, partition, errorCode: 0, baseOffset: String(base) });
        }
      }
      return result;
    } finally {
      this.inFlight--;
    }
  }
}

function setup(overrides: Partial<PublisherDeps> = {}, partitions = 3) {
  const producers: FakeProducer[] = [];
  const errors: BrokerError[] = [];
  const broker: Broker = {
    behaviour: 'ok',
    failWith: Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError' }),
    logEnd: new Map(),
  };
  const deps: PublisherDeps = {
    createProducer: () => {
      const producer = new FakeProducer(broker);
      producers.push(producer);
      return producer as unknown as Producer;
    },
    partitioner: Partitioners.DefaultPartitioner(),
    partitions: async () => partitionsOf(partitions),
    forget: () => {},
    acks: -1,
    compression: 'none',
    maxMessageBytes: 10_000,
    sendTimeoutMs: 5_000,
    onError: (error) => errors.push(error),
    ...overrides,
  };
  return { publisher: new KafkaPublisher(deps), producers, errors, broker };
}

const record = (value: string, key?: string, headers: Record<string, string> = {}): TransportRecord => ({
  key,
  value: Buffer.from(value),
  headers,
  timestamp: 1_700_000_000_000,
});

describe('KafkaPublisher', () => {
  it('returns one receipt per record with its partition and computed offset', async () => {
    const { publisher, producers } = setup();
    const records = Array.from({ length: 30 }, (_, i) => record(`v${i}`, `key-${i % 7}`));
    const receipts = await publisher.publish('orders', records);
    expect(receipts).toHaveLength(30);
    const sent = producers[0]?.requests[0]?.topicMessages?.[0]?.messages as Message[];
    // Offsets count up per partition in send order; the id is partition-offset.
    const next = new Map<number, number>();
    receipts.forEach((receipt, i) => {
      const partition = sent[i]?.partition as number;
      const offset = next.get(partition) ?? 0;
      next.set(partition, offset + 1);
      expect(receipt).toEqual({ id: `${partition}-${offset}`, topic: 'orders', partition, sequence: String(offset) });
    });
    expect(new Set(receipts.map((r) => r.id)).size).toBe(30);
  });

  it('places keys where the Java client does (murmur2, positive, modulo partitions)', async () => {
    const { publisher } = setup({}, 6);
    // Kafka's own UtilsTest vectors for murmur2 (Java), then toPositive(hash) % 6.
    const javaHashes: Record<string, number> = {
      '21': -973932308,
      foobar: -790332482,
      'a-little-bit-long-string': -985981536,
      'a-little-bit-longer-string': -1486304829,
      lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
      abc: 479470107,
    };
    const keys = Object.keys(javaHashes);
    const receipts = await publisher.publish(
      'orders',
      keys.map((key) => record('x', key)),
    );
    keys.forEach((key, i) => {
      expect(receipts[i]?.partition).toBe(((javaHashes[key] as number) & 0x7fffffff) % 6);
    });
  });

  it('keeps keyless records of a small batch on one partition, in order (sticky, like the Java client)', async () => {
    const { publisher } = setup();
    const receipts = await publisher.publish(
      't',
      Array.from({ length: 20 }, (_, i) => record(`v${i}`)),
    );
    expect(new Set(receipts.map((r) => r.partition)).size).toBe(1);
    expect(receipts.map((r) => Number(r.sequence))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // A large keyless batch moves on after 16 KiB per partition.
    const big = await publisher.publish(
      't',
      Array.from({ length: 100 }, () => record('x'.repeat(1000))),
    );
    expect(new Set(big.map((r) => r.partition)).size).toBe(3);
  });

  it('splits a send below the size limit, in order, and never puts two requests in flight', async () => {
    const { publisher, producers } = setup({ maxMessageBytes: 10_000 });
    const records = Array.from({ length: 50 }, (_, i) => record('x'.repeat(900), `k${i}`));
    const receipts = await publisher.publish('big', records);
    const producer = producers[0] as FakeProducer;
    expect(producer.requests.length).toBeGreaterThanOrEqual(5);
    for (const request of producer.requests) {
      const bytes = (request.topicMessages ?? [])
        .flatMap((t) => t.messages)
        .reduce((sum, m) => sum + (m.value as Buffer).length, 0);
      expect(bytes).toBeLessThanOrEqual(10_000 + 1_024);
    }
    expect(producer.maxInFlight).toBe(1);
    const sentKeys = producer.requests.flatMap((r) =>
      (r.topicMessages ?? []).flatMap((t) => t.messages.map((m) => m.key)),
    );
    expect(sentKeys).toEqual(records.map((r) => r.key));
    expect(receipts).toHaveLength(50);
  });

  it('coalesces concurrent sends into the next request and keeps their order', async () => {
    const { publisher, producers } = setup();
    const sends = Array.from({ length: 40 }, (_, i) => publisher.publish('t', [record(`v${i}`, 'same-key')]));
    const receipts = await Promise.all(sends);
    const producer = producers[0] as FakeProducer;
    expect(producer.requests.length).toBeLessThan(40);
    expect(producer.maxInFlight).toBe(1);
    expect(receipts.map((r) => Number(r[0]?.sequence))).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('refuses a record over maxMessageBytes before sending anything', async () => {
    const { publisher, producers } = setup({ maxMessageBytes: 2_048 });
    await expect(
      publisher.publish('t', [record('ok', 'a'), record('x'.repeat(2_000), 'b', { big: 'y'.repeat(100) })]),
    ).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(producers).toHaveLength(0);
  });

  it('rejects with a retryable BrokerError within sendTimeoutMs when the broker does not answer, and replaces the producer', async () => {
    const { publisher, producers, errors, broker } = setup({ sendTimeoutMs: 150 });
    await publisher.publish('t', [record('warm', 'k')]);
    broker.behaviour = 'hang';
    const started = Date.now();
    const error = await publisher.publish('t', [record('v', 'k')]).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect((error as BrokerError).message).toMatch(/did not acknowledge the send within 150 ms/);
    expect(errors).toHaveLength(1);
    expect(producers[0]?.disconnected).toBe(true);
    // The next send gets a fresh producer (a new producer id: sequence numbers cannot clash).
    broker.behaviour = 'ok';
    const [receipt] = await publisher.publish('t', [record('after', 'k')]);
    expect(producers).toHaveLength(2);
    expect(receipt?.sequence).toBe('1');
  });

  it('retries a request that failed for connection trouble, on a new producer, and resolves once the broker is back', async () => {
    const { publisher, producers, broker } = setup({ sendTimeoutMs: 5_000 });
    await publisher.publish('t', [record('warm', 'k')]);
    broker.behaviour = 'fail';
    setTimeout(() => {
      broker.behaviour = 'ok';
    }, 600);
    const [receipt] = await publisher.publish('t', [record('during outage', 'k')]);
    expect(receipt?.sequence).toBe('1');
    // Each failed attempt's producer was dropped: its outcome was unknown.
    // Retries back off from 250 ms (±20 %): at least two failed before the broker came back.
    expect(producers.length).toBeGreaterThanOrEqual(3);
    expect(producers.slice(0, -1).every((p) => p.disconnected)).toBe(true);
  });

  it('maps kafkajs failures to BrokerError: retryable within sendTimeoutMs for connection trouble, not for MESSAGE_TOO_LARGE', async () => {
    const { publisher, producers, broker } = setup({ sendTimeoutMs: 400 });
    await publisher.publish('t', [record('warm', 'k')]);
    broker.behaviour = 'fail';
    const started = Date.now();
    const down = await publisher.publish('t', [record('v', 'k')]).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(down).toBeInstanceOf(BrokerError);
    expect((down as BrokerError).retryable).toBe(true);
    broker.failWith = Object.assign(new Error('The request included a message larger than the max message size'), {
      name: 'KafkaJSProtocolError',
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    const before = producers.length;
    const tooLarge = await publisher.publish('t', [record('v', 'k')]).catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(BrokerError);
    expect((tooLarge as BrokerError).retryable).toBe(false);
    expect((tooLarge as BrokerError).hint).toMatch(/message.max.bytes/);
    // Refused outright (nothing stored), not retried: the producer stays.
    expect(producers.length).toBe(before + 1);
    expect(producers.at(-1)?.disconnected).toBe(false);
  });

  it('flushes queued sends on close, then refuses new ones', async () => {
    const { publisher, producers } = setup();
    const pending = Array.from({ length: 10 }, (_, i) => publisher.publish('t', [record(`v${i}`, 'k')]));
    await publisher.close();
    const settled = await Promise.allSettled(pending);
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    expect(producers[0]?.disconnected).toBe(true);
    await expect(publisher.publish('t', [record('late')])).rejects.toBeInstanceOf(ClosedError);
  });

  it('gives acks=0 receipts without offsets (the broker does not answer)', async () => {
    const { publisher } = setup({ acks: 0 });
    const receipts = await publisher.publish('t', [record('v', 'k'), record('w', 'k')]);
    expect(receipts).toHaveLength(2);
    expect(receipts[0]?.partition).toBeTypeOf('number');
    expect(receipts[0]?.sequence).toBeUndefined();
    expect(receipts[0]?.id).not.toBe(receipts[1]?.id);
  });

  it('rejects retryably at sendTimeoutMs when the topic lookup never answers (Kafka down on first use)', async () => {
    const { publisher } = setup({ partitions: () => new Promise<never>(() => {}), sendTimeoutMs: 100 });
    const started = Date.now();
    const error = await publisher.publish('t', [record('v', 'k')]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect((error as Error).message).toContain('did not look up the topic within 100 ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
