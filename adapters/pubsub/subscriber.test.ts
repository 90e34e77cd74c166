import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Delivery, SubscribeOptions } from '../../src/adapter.js';
import { BrokerError } from '../../src/errors.js';
import { EMPTY_MESSAGE_ATTRIBUTE } from './publisher.js';
import { PubSubSubscription, type ReceivedPubSubMessage, type StreamingSubscription } from './subscriber.js';
import { PubSubTopology, type TopologyClient } from './topology.js';

/** A client streaming subscription stand-in: an EventEmitter the test drives. */
class FakeStream extends EventEmitter implements StreamingSubscription {
  isOpen = true;
  opened = 0;
  closed = 0;
  open(): void {
    this.isOpen = true;
    this.opened++;
  }
  async close(): Promise<void> {
    this.isOpen = false;
    this.closed++;
  }
}

interface FakeMessage extends ReceivedPubSubMessage {
  acks: number;
  nacks: number;
}

let nextId = 1;
function message(fields: Partial<ReceivedPubSubMessage> = {}): FakeMessage {
  const result: FakeMessage = {
    id: String(nextId++),
    attributes: {},
    data: Buffer.from('x'),
    deliveryAttempt: 0,
    orderingKey: '',
    publishTime: new Date(1_700_000_000_000),
    received: Date.now(),
    acks: 0,
    nacks: 0,
    ack() {
      result.acks++;
    },
    nack() {
      result.nacks++;
    },
    ...fields,
  };
  return result;
}

function setUp(maxLeaseMs = 60_000) {
  const ensured: string[] = [];
  let missing = false;
  const client: TopologyClient = {
    createTopic: async () => {},
    createSubscription: async (_topic, name) => {
      ensured.push(name);
      if (missing) throw Object.assign(new Error('unavailable'), { code: 14 });
    },
    subscriptionMetadata: async () => ({}),
  };
  const topology = new PubSubTopology(client, {
    projectId: 'p',
    autoCreate: true,
    ackDeadlineSeconds: 10,
    subscriptionPrefix: '',
  });
  const stream = new FakeStream();
  const deliveries: Delivery[] = [];
  const errors: Error[] = [];
  const streams: Array<{ name: string; prefetch: number }> = [];
  const options: SubscribeOptions = {
    topic: 'orders',
    group: 'billing',
    prefetch: 7,
    from: 'latest',
    onDelivery: (delivery) => deliveries.push(delivery),
    onError: (error) => errors.push(error),
  };
  const subscription = new PubSubSubscription(options, {
    topology,
    createStream: (name, prefetch) => {
      streams.push({ name, prefetch });
      return stream;
    },
    maxLeaseMs,
    closeTimeoutMs: 1_000,
  });
  return {
    subscription,
    stream,
    deliveries,
    errors,
    streams,
    ensured,
    failEnsure(value: boolean) {
      missing = value;
    },
  };
}

describe('PubSubSubscription', () => {
  it('creates the group subscription, opens a stream with prefetch, and maps messages', async () => {
    const { subscription, stream, deliveries, streams } = setUp();
    await subscription.start();
    expect(subscription.name).toBe('orders.billing');
    expect(streams).toEqual([{ name: 'orders.billing', prefetch: 7 }]);
    const first = message({ orderingKey: 'k1', attributes: { tenant: 't1' }, deliveryAttempt: 0 });
    const second = message({
      data: Buffer.alloc(0),
      attributes: { [EMPTY_MESSAGE_ATTRIBUTE]: '1' },
      deliveryAttempt: 3,
    });
    stream.emit('message', first);
    stream.emit('message', second);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[0]).toMatchObject({
      id: first.id,
      topic: 'orders',
      key: 'k1',
      headers: { tenant: 't1' },
      timestamp: 1_700_000_000_000,
      attempt: 1,
      stale: false,
    });
    expect(deliveries[0]?.raw).toBe(first);
    expect(deliveries[1]).toMatchObject({ key: undefined, headers: {}, attempt: 3 });
    expect(deliveries[1]?.value.byteLength).toBe(0);
  });

  it('acks and nacks once, whatever the core calls', async () => {
    const { subscription, stream, deliveries } = setUp();
    await subscription.start();
    const a = message();
    const b = message();
    stream.emit('message', a);
    stream.emit('message', b);
    deliveries[0]?.ack();
    deliveries[0]?.ack();
    deliveries[0]?.nack();
    deliveries[1]?.nack(0, 2);
    deliveries[1]?.nack();
    deliveries[1]?.ack();
    expect([a.acks, a.nacks, b.acks, b.nacks]).toEqual([1, 0, 0, 1]);
  });

  it('stops handing messages out at once when paused, and hands them out in order on resume', async () => {
    const { subscription, stream, deliveries } = setUp();
    await subscription.start();
    subscription.pause();
    const held = [message(), message(), message()];
    for (const m of held) stream.emit('message', m);
    expect(deliveries).toEqual([]);
    subscription.resume();
    expect(deliveries.map((d) => d.id)).toEqual(held.map((m) => m.id));
  });

  it('keeps the rest when the core pauses again part-way through a resume', async () => {
    const { subscription, stream, deliveries } = setUp();
    await subscription.start();
    subscription.pause();
    const held = [message(), message(), message()];
    for (const m of held) stream.emit('message', m);
    const original = deliveries.push.bind(deliveries);
    deliveries.push = (...items: Delivery[]) => {
      const n = original(...items);
      if (n === 1) subscription.pause();
      return n;
    };
    subscription.resume();
    expect(deliveries.map((d) => d.id)).toEqual([held[0]?.id]);
    stream.emit('message', message({ id: 'late' }));
    subscription.resume();
    expect(deliveries.map((d) => d.id)).toEqual([...held.map((m) => m.id), 'late']);
  });

  it('drops a buffered message whose lease ran out, and reports such a delivery stale', async () => {
    const { subscription, stream, deliveries } = setUp(50);
    await subscription.start();
    subscription.pause();
    const old = message({ received: Date.now() - 100 });
    stream.emit('message', old);
    subscription.resume();
    expect(deliveries).toEqual([]);
    expect(old.nacks).toBe(1);
    stream.emit('message', message());
    expect(deliveries[0]?.stale).toBe(false);
    await sleep(60);
    expect(deliveries[0]?.stale).toBe(true);
  });

  it('when the client closes the stream, marks what it held stale, reports, and reopens by itself', async () => {
    const { subscription, stream, deliveries, errors, ensured, failEnsure } = setUp();
    await subscription.start();
    stream.emit('message', message());
    const notFound = Object.assign(new Error('5 NOT_FOUND: subscription orders.billing'), { code: 5 });
    failEnsure(true);
    stream.emit('error', notFound);
    stream.isOpen = false;
    stream.emit('close');
    expect(deliveries[0]?.stale).toBe(true);
    expect(errors[0]).toBeInstanceOf(BrokerError);
    expect(errors[0]?.message).toMatch(/creates it again and reopens the stream/);
    expect(subscription.health().ok).toBe(false);
    await sleep(400);
    expect(stream.opened).toBe(0);
    failEnsure(false);
    const deadline = Date.now() + 5_000;
    while (stream.opened === 0 && Date.now() < deadline) await sleep(20);
    expect(stream.opened).toBe(1);
    expect(ensured.length).toBeGreaterThanOrEqual(3);
    expect(errors.some((e) => /reopen subscription: create subscription "orders.billing"/.test(e.message))).toBe(true);
    expect(subscription.health()).toEqual({ ok: true, detail: 'orders.billing: streaming' });
  });

  it('reports a run of retried stream ends as an outage, once, and clears it when messages flow', async () => {
    const { subscription, stream, errors } = setUp();
    await subscription.start();
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 });
    for (let i = 0; i < 10; i++) stream.emit('debug', { message: 'stream ended; will be retried', error: unavailable });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ retryable: true });
    expect(subscription.health().ok).toBe(false);
    stream.emit('message', message());
    expect(subscription.health().ok).toBe(true);
    const ackFailure = Object.assign(new Error('ack failed'), { code: 14, ackIds: ['a'] });
    stream.emit('debug', { message: 'ack failed', error: ackFailure });
    expect(errors[1]?.message).toMatch(/acknowledge on subscription/);
  });

  it('on close: hands back what the core never got, closes the client stream, nacks late messages', async () => {
    const { subscription, stream, deliveries } = setUp();
    await subscription.start();
    subscription.pause();
    const buffered = message();
    stream.emit('message', buffered);
    await subscription.close();
    await subscription.close();
    expect(buffered.nacks).toBe(1);
    expect(stream.closed).toBe(1);
    expect(subscription.health().ok).toBe(false);
    const late = message();
    subscription.resume();
    stream.emit('message', late);
    expect(deliveries).toEqual([]);
    expect(stream.listenerCount('message')).toBe(0);
  });
});
