import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryTopicSizes, resetMemoryBroker } from '../adapters/memory/index.js';
import {
  type Adapter,
  AdapterNotInstalledError,
  ClosedError,
  connect,
  InvalidConfigError,
  InvalidUrlError,
  retry,
  TimeoutError,
} from '../src/index.js';
import { spyHandler } from '../src/testing/index.js';

afterEach(() => resetMemoryBroker());

describe('connect', () => {
  it.each([
    ['kafka://127.0.0.1:9092', 'kafkajs'],
    ['amqp://127.0.0.1', 'amqplib'],
    ['kinesis://us-east-1', '@aws-sdk/client-kinesis'],
    ['pubsub://my-project', '@google-cloud/pubsub'],
    ['pulsar://127.0.0.1:6650', 'pulsar-client'],
  ])('says what to install for %s while its adapter is missing', async (url, packageName) => {
    const error = await connect(url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as AdapterNotInstalledError).packageName).toBe(packageName);
    expect((error as Error).message).toContain(`npm install ${packageName}`);
  });

  it('rejects a bad URL with a typed error', async () => {
    await expect(connect('nats://x')).rejects.toBeInstanceOf(InvalidUrlError);
  });

  it('shares one in-memory broker between connections with the same name', async () => {
    const a = await connect('memory://shared');
    const b = await connect('memory://shared');
    const spy = spyHandler<{ n: number }>();
    await b.consumer<{ n: number }>({ topic: 't', group: 'g' }).run(spy.handler);
    await a.producer<{ n: number }>().send('t', { value: { n: 1 } });
    await spy.waitForHandled(1);
    expect(memoryTopicSizes('shared')).toEqual({ t: 1 });
    expect(memoryTopicSizes('other')).toEqual({});
    await Promise.all([a.close(), b.close()]);
  });

  it('accepts a custom adapter', async () => {
    const published: string[] = [];
    const adapter: Adapter = {
      broker: 'memory',
      capabilities: {
        perKeyOrdering: false,
        persistent: false,
        replay: false,
        nativeDelay: false,
        nativeDeadLetter: false,
        maxMessageBytes: 100,
        maxBatch: 2,
      },
      publish: async (topic, records) => {
        published.push(...records.map(() => topic));
        return records.map((_, i) => ({ id: `${published.length}-${i}`, topic }));
      },
      subscribe: async () => ({ pause() {}, resume() {}, close: async () => {} }),
      health: async () => ({ ok: true, broker: 'memory' }),
      close: async () => {},
    };
    const bus = await connect('memory://', { adapter: async () => adapter });
    const receipts = await bus.producer().send('x', [{ value: 1 }, { value: 2 }, { value: 3 }]);
    expect(receipts).toHaveLength(3); // split into batches of maxBatch = 2
    expect(published).toEqual(['x', 'x', 'x']);
    await bus.close();
  });
});

describe('consumer', () => {
  it('validates its options', async () => {
    const bus = await connect('memory://opts');
    expect(() => bus.consumer({ topic: '', group: 'g' })).toThrow(InvalidConfigError);
    expect(() => bus.consumer({ topic: 't', group: 'g', concurrency: 0 })).toThrow(/concurrency/);
    expect(() => bus.consumer({ topic: 't', group: 'g', concurrency: 4, prefetch: 2 })).toThrow(/prefetch/);
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    await consumer.run(async () => {});
    await expect(consumer.run(async () => {})).rejects.toThrow(/already called/);
    await bus.close();
  });

  it('reports failed messages to onError and the diagnostics channel', async () => {
    const bus = await connect('memory://errors');
    const seen: unknown[] = [];
    const onChannel = (event: unknown) => seen.push(event);
    subscribe('polybus:consumer:error', onChannel);
    const errors: unknown[] = [];
    let calls = 0;
    await bus.consumer({ topic: 't', group: 'g', onError: (error) => errors.push(error) }).run(() => {
      if (calls++ === 0) throw new Error('boom');
    });
    await bus.producer().send('t', { value: 1 });
    while (calls < 2) await sleep(5);
    unsubscribe('polybus:consumer:error', onChannel);
    expect((errors[0] as Error).message).toBe('boom');
    expect(seen).toHaveLength(1);
    await bus.close();
  });

  it('gives up a retry backoff on close and leaves the message for redelivery', async () => {
    const bus = await connect('memory://backoff');
    const attempts: number[] = [];
    const consumer = bus.consumer({
      topic: 't',
      group: 'g',
      use: [retry({ attempts: 5, initialDelayMs: 60_000, jitter: 'none' })],
    });
    await consumer.run((m) => {
      attempts.push(m.attempt);
      throw new Error('down');
    });
    await bus.producer().send('t', { value: 1 });
    while (attempts.length < 1) await sleep(5);
    const started = Date.now();
    await consumer.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(consumer.stats.nacked).toBe(1);
    const again = spyHandler();
    await bus.consumer({ topic: 't', group: 'g' }).run(again.handler);
    const [redelivered] = await again.waitForHandled(1);
    expect(redelivered?.attempt).toBe(2);
    await bus.close();
  });

  it('bounds close() by closeTimeoutMs and reports the handlers it left', async () => {
    const bus = await connect('memory://timeout');
    const errors: unknown[] = [];
    const consumer = bus.consumer({ topic: 't', group: 'g', closeTimeoutMs: 100, onError: (e) => errors.push(e) });
    let started = false;
    await consumer.run(async () => {
      started = true;
      await sleep(2000);
    });
    await bus.producer().send('t', { value: 1 });
    while (!started) await sleep(5);
    const begin = Date.now();
    await consumer.close();
    expect(Date.now() - begin).toBeLessThan(1000);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
    await bus.close();
  });

  it('lets run() be called again after the subscription failed', async () => {
    let attempts = 0;
    const adapter: Adapter = {
      broker: 'memory',
      capabilities: {
        perKeyOrdering: true,
        persistent: true,
        replay: true,
        nativeDelay: false,
        nativeDeadLetter: false,
        maxMessageBytes: 1000,
        maxBatch: 10,
      },
      publish: async () => [],
      subscribe: async () => {
        if (attempts++ === 0) throw new Error('broker unavailable');
        return { pause() {}, resume() {}, close: async () => {} };
      },
      health: async () => ({ ok: true, broker: 'memory' }),
      close: async () => {},
    };
    const bus = await connect('memory://', { adapter: async () => adapter });
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    await expect(consumer.run(async () => {})).rejects.toThrow('broker unavailable');
    await expect(consumer.run(async () => {})).resolves.toBeUndefined();
    await bus.close();
  });

  it('refuses producers and consumers after broker close', async () => {
    const bus = await connect('memory://closed');
    await bus.close();
    expect(() => bus.consumer({ topic: 't', group: 'g' })).toThrow(ClosedError);
    await bus.close();
  });
});
