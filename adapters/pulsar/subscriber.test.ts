import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/adapter.js';
import { AttemptMemory, GATE_GRACE_MS, KeyGate, PulsarSubscription } from './subscriber.js';
import type { PulsarIncoming, TransportConsumer } from './transport.js';

describe('KeyGate', () => {
  it('admits keys without a nack, then gates a key until its nacked messages come back', () => {
    let now = 1000;
    const gate = new KeyGate(() => now);
    expect(gate.admit('k', 'a')).toBeUndefined();
    gate.nacked('k', 'a', 100);
    now += 10;
    // A later message of k arrives before a: it goes back, due no earlier than a.
    expect(gate.admit('k', 'b')).toBe(90);
    expect(gate.admit('other', 'x')).toBeUndefined();
    // a comes back: delivered; b is still pending, so c must wait too.
    expect(gate.admit('k', 'a')).toBeUndefined();
    expect(gate.admit('k', 'c')).toBeGreaterThan(0);
    expect(gate.admit('k', 'b')).toBeUndefined();
    expect(gate.admit('k', 'c')).toBeUndefined();
    expect(gate.size).toBe(0);
    expect(gate.admit('k', 'd')).toBeUndefined();
  });

  it('keeps the latest due time and never nacks with less than a minimum delay', () => {
    let now = 0;
    const gate = new KeyGate(() => now);
    gate.nacked('k', 'a', 500);
    gate.nacked('k', 'b', 50);
    now = 600;
    expect(gate.admit('k', 'z')).toBe(20);
  });

  it('stops waiting when the nacked messages went to another member', () => {
    let now = 0;
    const gate = new KeyGate(() => now);
    gate.nacked('k', 'a', 100);
    now = 100 + GATE_GRACE_MS + 1;
    expect(gate.admit('k', 'b')).toBeUndefined();
    expect(gate.size).toBe(0);
  });
});

describe('AttemptMemory', () => {
  it('remembers, forgets, and keeps at most 10,000 entries (oldest dropped)', () => {
    const memory = new AttemptMemory();
    for (let i = 0; i < 10_001; i++) memory.remember(`id${i}`, i + 1);
    expect(memory.get('id0')).toBeUndefined();
    expect(memory.get('id10000')).toBe(10_001);
    memory.forget('id10000');
    expect(memory.get('id10000')).toBeUndefined();
  });
});

class FakeConsumer implements TransportConsumer {
  readonly calls: string[] = [];
  paused = false;
  ack(message: PulsarIncoming): void {
    this.calls.push(`ack ${message.id}`);
  }
  nack(message: PulsarIncoming, delayMs: number): void {
    this.calls.push(`nack ${message.id} ${delayMs >= 20 ? '>=20' : delayMs}`);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

const message = (id: string, key: string | undefined, redeliveryCount = 0): PulsarIncoming => ({
  id,
  key,
  payload: Buffer.from(id),
  properties: { h: id },
  timestamp: 42,
  redeliveryCount,
  raw: { id },
});

async function subscription(attempts = new AttemptMemory()) {
  const consumer = new FakeConsumer();
  const delivered: Delivery[] = [];
  let push: (m: PulsarIncoming) => void = () => {};
  let closed = false;
  const sub = new PulsarSubscription(
    {
      topic: 'orders',
      group: 'billing',
      prefetch: 16,
      from: 'latest',
      onDelivery: (d) => delivered.push(d),
      onError: () => {},
    },
    {
      attempts,
      subscriptionType: 'Key_Shared',
      open: async (onMessage) => {
        push = onMessage;
        return consumer;
      },
      onClose: () => {
        closed = true;
      },
    },
  );
  await sub.start();
  return { sub, consumer, delivered, push: (m: PulsarIncoming) => push(m), closed: () => closed };
}

describe('PulsarSubscription', () => {
  it('maps a message to a delivery: id, key, headers, timestamp, attempt from the redelivery count', async () => {
    const { delivered, push } = await subscription();
    push(message('1:2:-1:-1', 'k', 2));
    const [d] = delivered;
    expect(d?.id).toBe('1:2:-1:-1');
    expect(d?.topic).toBe('orders');
    expect(d?.key).toBe('k');
    expect(d?.headers).toEqual({ h: '1:2:-1:-1' });
    expect(d?.timestamp).toBe(42);
    expect(d?.attempt).toBe(3);
    expect(Buffer.from(d?.value ?? []).toString()).toBe('1:2:-1:-1');
  });

  it('acks and nacks once, carries the attempt from nack to the next delivery', async () => {
    const { consumer, delivered, push } = await subscription();
    push(message('a', undefined));
    const first = delivered[0] as Delivery;
    first.nack(100, 4);
    first.nack(100, 4);
    first.ack();
    expect(consumer.calls).toEqual(['nack a >=20']);
    // Exclusive/Failover give no redelivery count: the carried attempt still counts up.
    push(message('a', undefined, 0));
    expect(delivered[1]?.attempt).toBe(5);
    delivered[1]?.ack();
    delivered[1]?.ack();
    expect(consumer.calls).toEqual(['nack a >=20', 'ack a']);
  });

  it('sends later messages of a nacked key back behind it, and admits them once it returned', async () => {
    const { consumer, delivered, push } = await subscription();
    push(message('m0', 'k'));
    push(message('x0', 'other'));
    (delivered[0] as Delivery).nack(50, 1);
    push(message('m1', 'k'));
    push(message('x1', 'other'));
    expect(delivered.map((d) => d.id)).toEqual(['m0', 'x0', 'x1']);
    expect(consumer.calls).toEqual(['nack m0 >=20', 'nack m1 >=20']);
    push(message('m0', 'k', 1));
    push(message('m1', 'k', 1));
    expect(delivered.map((d) => d.id)).toEqual(['m0', 'x0', 'x1', 'm0', 'm1']);
    expect(delivered[3]?.attempt).toBe(2);
  });

  it('passes pause and resume on, ignores messages after close, and closes once', async () => {
    const { sub, consumer, delivered, push, closed } = await subscription();
    sub.pause();
    expect(consumer.paused).toBe(true);
    sub.resume();
    expect(consumer.paused).toBe(false);
    await Promise.all([sub.close(), sub.close()]);
    push(message('late', 'k'));
    expect(delivered).toHaveLength(0);
    expect(consumer.calls).toEqual(['close']);
    expect(closed()).toBe(true);
  });
});
