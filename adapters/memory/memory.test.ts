import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { bytes, connect } from '../../src/index.js';
import { spyHandler, waitForIdle } from '../../src/testing/index.js';
import { memoryTopicSizes, resetMemoryBroker } from './index.js';

afterEach(() => resetMemoryBroker());

describe('memory:// broker', () => {
  it('keeps per-key order across two members of one group (a key is owned by one member at a time)', async () => {
    const bus = await connect('memory://owners');
    const running = new Map<string, number>();
    const seen = new Map<string, number[]>();
    let overlaps = 0;
    const handler = async (message: { value: { key: string; seq: number } }) => {
      const { key, seq } = message.value;
      if (running.get(key)) overlaps++;
      running.set(key, 1);
      seen.set(key, [...(seen.get(key) ?? []), seq]);
      await sleep(Math.random() * 3);
      running.set(key, 0);
    };
    const one = bus.consumer<{ key: string; seq: number }>({ topic: 't', group: 'g', concurrency: 4 });
    const two = bus.consumer<{ key: string; seq: number }>({ topic: 't', group: 'g', concurrency: 4 });
    await one.run(handler);
    await two.run(handler);
    const messages = [];
    for (let seq = 0; seq < 30; seq++)
      for (let k = 0; k < 8; k++) messages.push({ key: `k${k}`, value: { key: `k${k}`, seq } });
    await bus.producer().send('t', messages);
    const deadline = Date.now() + 10_000;
    while ([...seen.values()].flat().length < 240 && Date.now() < deadline) await sleep(10);
    await waitForIdle(one);
    await waitForIdle(two);
    expect(overlaps).toBe(0);
    for (const sequence of seen.values()) expect(sequence).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(one.stats.acked).toBeGreaterThan(0);
    expect(two.stats.acked).toBeGreaterThan(0);
    await bus.close();
  });

  it('hands prefetched messages back in order when a consumer closes', async () => {
    const bus = await connect('memory://handback');
    const first = bus.consumer<number>({ topic: 't', group: 'g', concurrency: 1, prefetch: 20 });
    const firstSpy = spyHandler<number>(() => sleep(20));
    await first.run(firstSpy.handler);
    await bus.producer<number>().send(
      't',
      Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: i })),
    );
    await firstSpy.waitForHandled(1);
    await first.close();
    const handledByFirst = firstSpy.handled.map((m) => m.value);
    const secondSpy = spyHandler<number>();
    await bus.consumer<number>({ topic: 't', group: 'g' }).run(secondSpy.handler);
    await secondSpy.waitForHandled(20 - handledByFirst.length);
    expect([...handledByFirst, ...secondSpy.handled.map((m) => m.value)]).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    await bus.close();
  });

  it('drops messages every group has read once a topic holds more than retention', async () => {
    const bus = await connect('memory://retention?retention=10');
    const reader = spyHandler<number>();
    await bus.consumer<number>({ topic: 't', group: 'reader', concurrency: 8 }).run(reader.handler);
    const producer = bus.producer<number>();
    for (let batch = 0; batch < 10; batch++) {
      await producer.send(
        't',
        Array.from({ length: 1000 }, (_, i) => ({ value: batch * 1000 + i })),
      );
      await reader.waitForHandled((batch + 1) * 1000);
    }
    expect(memoryTopicSizes('retention')).toEqual({ t: 10_000 });
    const late = spyHandler<number>();
    await bus.consumer<number>({ topic: 't', group: 'late', from: 'earliest' }).run(late.handler);
    await sleep(100);
    const replayed = late.handled.map((m) => m.value);
    expect(replayed.length).toBeGreaterThanOrEqual(10);
    expect(replayed.length).toBeLessThan(10_000);
    // What is left is the newest messages, contiguous up to the last one.
    expect(replayed).toEqual(Array.from({ length: replayed.length }, (_, i) => 10_000 - replayed.length + i));
    await bus.close();
  });

  it('keeps unread messages past retention until every group has read them', async () => {
    const bus = await connect('memory://unread?retention=5');
    const slow = bus.consumer<number>({ topic: 't', group: 'slow' });
    slow.pause();
    await slow.run(async () => {});
    const fast = spyHandler<number>();
    await bus.consumer<number>({ topic: 't', group: 'fast' }).run(fast.handler);
    await bus.producer<number>().send(
      't',
      Array.from({ length: 6000 }, (_, i) => ({ value: i })),
    );
    await fast.waitForHandled(6000);
    const slowSpy = spyHandler<number>();
    await slow.close();
    await bus.consumer<number>({ topic: 't', group: 'slow' }).run(slowSpy.handler);
    await slowSpy.waitForHandled(6000);
    expect(slowSpy.handled.map((m) => m.value)).toEqual(Array.from({ length: 6000 }, (_, i) => i));
    await bus.close();
  });

  it('copies the payload at send: changing the buffer after send() resolved changes nothing', async () => {
    const bus = await connect('memory://copy');
    const spy = spyHandler<Uint8Array>();
    await bus.consumer<Uint8Array>({ topic: 't', group: 'g', codec: bytes() }).run(spy.handler);
    const buffer = new Uint8Array([1, 2, 3]);
    await bus.producer<Uint8Array>({ codec: bytes() }).send('t', { value: buffer });
    buffer.fill(9);
    const [message] = await spy.waitForHandled(1);
    expect([...(message?.value ?? [])]).toEqual([1, 2, 3]);
    await bus.close();
  });
});
