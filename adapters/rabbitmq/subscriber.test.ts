import { EventEmitter } from 'node:events';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Delivery } from '../../src/adapter.js';
import type { RabbitConnection } from './connection.js';
import { KEY_HEADER, TIMESTAMP_HEADER } from './publisher.js';
import {
  AttemptTracker,
  decodeMessage,
  type RabbitDelivery,
  RabbitSubscription,
  RETURN_FENCE_MS,
} from './subscriber.js';
import type { Topology } from './topology.js';

function amqpMessage(tag: number, id: string | undefined, headers?: Record<string, unknown>, redelivered = false) {
  return {
    fields: { deliveryTag: tag, redelivered, routingKey: 'orders', exchange: 'polybus', consumerTag: 'c' },
    properties: { messageId: id, headers, timestamp: 1_700_000_000 },
    content: Buffer.from(`body-${id}`),
  } as unknown as ConsumeMessage;
}

describe('decodeMessage', () => {
  it('takes key, millisecond timestamp and the delivery count out of the headers', () => {
    const decoded = decodeMessage(
      amqpMessage(1, 'm1', { [KEY_HEADER]: 'k', [TIMESTAMP_HEADER]: '1700000000123', 'x-delivery-count': 2, a: 'b' }),
      true,
    );
    expect(decoded).toEqual({ id: 'm1', key: 'k', timestamp: 1_700_000_000_123, returns: 2, headers: { a: 'b' } });
  });

  it('turns other clients’ header types into strings and falls back to the timestamp property', () => {
    const decoded = decodeMessage(
      amqpMessage(1, 'm1', {
        n: 5,
        b: true,
        buf: Buffer.from('bytes'),
        t: { a: 1 },
        nothing: null,
        'x-delivery-count': '9',
      }),
      true,
    );
    expect(decoded.headers).toEqual({ n: '5', b: 'true', buf: 'bytes', t: '{"a":1}', 'x-delivery-count': '9' });
    expect(decoded.returns).toBe(0);
    expect(decoded.timestamp).toBe(1_700_000_000_000);
    expect(decoded.key).toBeUndefined();
  });

  it('gives a message without message-id a stable id from its content', () => {
    const a = decodeMessage(amqpMessage(1, undefined, { x: 'y' }), true);
    const b = decodeMessage(amqpMessage(7, undefined, { x: 'y' }, true), true);
    expect(a.id).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(b.id).toBe(a.id);
  });

  it('counts a redelivered message on a classic queue as returned once', () => {
    expect(decodeMessage(amqpMessage(1, 'm', undefined, true), false).returns).toBe(1);
    expect(decodeMessage(amqpMessage(1, 'm', undefined, false), false).returns).toBe(0);
  });
});

describe('AttemptTracker', () => {
  it('subtracts returns of messages handed back unstarted (quorum)', () => {
    const tracker = new AttemptTracker(true);
    expect(tracker.attempt('a', 0)).toBe(1);
    tracker.returned('a', undefined);
    expect(tracker.attempt('a', 1)).toBe(1);
    tracker.returned('a', 1);
    expect(tracker.attempt('a', 2)).toBe(2);
    expect(tracker.attempt('b', 3)).toBe(4);
  });

  it('counts in process on classic queues', () => {
    const tracker = new AttemptTracker(false);
    expect(tracker.attempt('a', 1)).toBe(2);
    tracker.returned('a', 3);
    expect(tracker.attempt('a', 1)).toBe(4);
    tracker.forget('a');
    expect(tracker.attempt('a', 0)).toBe(1);
  });
});

/** A consuming channel: records acks and rejects, delivers on demand. */
class FakeChannel extends EventEmitter {
  readonly settled: string[] = [];
  onMessage: ((message: ConsumeMessage | null) => void) | undefined;
  open = true;
  async prefetch(): Promise<void> {}
  async consume(_queue: string, onMessage: (message: ConsumeMessage | null) => void) {
    this.onMessage = onMessage;
    return { consumerTag: 'c' };
  }
  ack(message: ConsumeMessage): void {
    this.settled.push(`ack ${message.fields.deliveryTag}`);
  }
  reject(message: ConsumeMessage, requeue: boolean): void {
    this.settled.push(`reject ${message.fields.deliveryTag}${requeue ? '' : ' drop'}`);
  }
  async close(): Promise<void> {
    this.die();
  }
  die(): void {
    if (!this.open) return;
    this.open = false;
    this.emit('close');
  }
}

async function subscribe(prefetch = 16) {
  const channels: FakeChannel[] = [];
  const model = {
    createChannel: async () => {
      const channel = new FakeChannel();
      channels.push(channel);
      return channel;
    },
  } as unknown as ChannelModel;
  const hooks: Array<(model: ChannelModel) => Promise<void>> = [];
  const connection = {
    current: model,
    waitUp: async () => model,
    onReconnect: (hook: (model: ChannelModel) => Promise<void>) => {
      hooks.push(hook);
      return () => {};
    },
  } as unknown as RabbitConnection;
  const topology = { declareQueue: async () => 'orders.g' } as unknown as Topology;
  const delivered: Delivery[] = [];
  const subscription = new RabbitSubscription({
    connection,
    topology,
    queueType: 'quorum',
    connectTimeoutMs: 1_000,
    subscribe: {
      topic: 'orders',
      group: 'g',
      prefetch,
      from: 'latest',
      onDelivery: (delivery) => delivered.push(delivery),
      onError: () => {},
    },
    onClose: () => {},
  });
  await subscription.start();
  const channel = () => channels[channels.length - 1] as FakeChannel;
  const deliver = (tag: number, key: string | undefined, id = `m${tag}`, count?: number) =>
    channel().onMessage?.(
      amqpMessage(tag, id, {
        ...(key === undefined ? {} : { [KEY_HEADER]: key }),
        ...(count === undefined ? {} : { 'x-delivery-count': count }),
      }),
    );
  return { subscription, delivered, channel, deliver, reconnect: () => hooks[0]?.(model) };
}

describe('RabbitSubscription', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('acks on the channel the message came on, once', async () => {
    const { delivered, deliver, channel } = await subscribe();
    deliver(1, 'k');
    delivered[0]?.ack();
    delivered[0]?.ack();
    delivered[0]?.nack();
    expect(channel().settled).toEqual(['ack 1']);
  });

  it('holds a failed message and its handed-back successors for the delay, then rejects them in delivery order', async () => {
    vi.useFakeTimers();
    const { delivered, deliver, channel } = await subscribe();
    for (let tag = 1; tag <= 4; tag++) deliver(tag, 'k');
    deliver(5, 'other');
    expect(delivered).toHaveLength(5);
    // The core hands back successors in its own order; a later message of the key arrives meanwhile.
    delivered[0]?.nack(100, 1);
    delivered[2]?.nack(100);
    delivered[1]?.nack(100);
    deliver(6, 'k');
    delivered[4]?.ack();
    expect(delivered).toHaveLength(5); // 6 is held with its key
    vi.advanceTimersByTime(99);
    expect(channel().settled).toEqual(['ack 5']);
    vi.advanceTimersByTime(1);
    expect(channel().settled).toEqual(['ack 5', 'reject 1', 'reject 2', 'reject 3', 'reject 6']);
    delivered[3]?.ack();
    // Until the returned ones are back, a later message of the key waits behind them.
    deliver(7, 'k', 'm7');
    expect(delivered).toHaveLength(5);
    deliver(8, 'k', 'm1', 1);
    deliver(9, 'k', 'm2', 1);
    deliver(10, 'k', 'm3', 1);
    expect(delivered).toHaveLength(8);
    deliver(11, 'k', 'm6', 1);
    expect(delivered.slice(5).map((d) => [d.id, d.attempt])).toEqual([
      ['m1', 2],
      ['m2', 1],
      ['m3', 1],
      ['m6', 1],
      ['m7', 1],
    ]);
  });

  it('lets fenced messages go after a while if the returned ones do not come back', async () => {
    vi.useFakeTimers();
    const { delivered, deliver } = await subscribe();
    deliver(1, 'k');
    delivered[0]?.nack(10, 1);
    vi.advanceTimersByTime(10);
    deliver(2, 'k', 'm2');
    expect(delivered).toHaveLength(1);
    vi.advanceTimersByTime(RETURN_FENCE_MS);
    expect(delivered.map((d) => d.id)).toEqual(['m1', 'm2']);
  });

  it('buffers while paused and hands over in order on resume', async () => {
    const { subscription, delivered, deliver } = await subscribe();
    subscription.pause();
    deliver(1, 'a');
    deliver(2, 'b');
    expect(delivered).toHaveLength(0);
    subscription.resume();
    expect(delivered.map((d) => (d as RabbitDelivery).deliveryTag)).toEqual([1, 2]);
  });

  it('makes deliveries of a dead channel stale, drops their acks and consumes again', async () => {
    const { delivered, deliver, channel, reconnect } = await subscribe();
    deliver(1, 'k');
    const first = channel();
    first.die();
    expect(delivered[0]?.stale).toBe(true);
    delivered[0]?.ack();
    expect(first.settled).toEqual([]);
    await reconnect();
    expect(channel()).not.toBe(first);
    deliver(1, 'k');
    expect(delivered[1]?.stale).toBe(false);
  });

  it('leaves messages handed back on close unacked, for the channel close to return them in delivery order', async () => {
    vi.useFakeTimers();
    const { subscription, delivered, deliver, channel } = await subscribe();
    for (let tag = 1; tag <= 3; tag++) deliver(tag, 'k');
    const open = channel();
    // The core hands back what it had not started, in its own order, then closes.
    delivered[2]?.nack(0, 1);
    delivered[0]?.nack();
    delivered[1]?.nack(0);
    vi.advanceTimersByTime(1_000);
    expect(open.settled).toEqual([]);
    await subscription.close();
    expect(open.open).toBe(false);
    expect(open.settled).toEqual([]);
  });

  it('returns everything unacked by closing the channel on close', async () => {
    vi.useFakeTimers();
    const { subscription, delivered, deliver, channel } = await subscribe();
    deliver(1, 'k');
    delivered[0]?.nack(1_000, 1);
    const open = channel();
    await subscription.close();
    expect(open.open).toBe(false);
    expect(open.settled).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(open.settled).toEqual([]);
  });
});
