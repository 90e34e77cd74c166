import { describe, expect, it } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import { type StartableSubscription, startTracked } from './subscriptions.js';

class FakeSubscription implements StartableSubscription {
  closes = 0;
  paused = false;
  constructor(
    private readonly starting: () => Promise<void>,
    private readonly closing: () => Promise<void> = async () => {},
  ) {}
  start(): Promise<void> {
    return this.starting();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  close(): Promise<void> {
    this.closes++;
    return this.closing();
  }
}

describe('startTracked', () => {
  it('tracks a started subscription until its handle is closed, and passes pause and resume on', async () => {
    const open = new Set<FakeSubscription>();
    const subscription = new FakeSubscription(async () => {});
    const handle = await startTracked(subscription, open, () => false, 'kafka');
    expect(open.has(subscription)).toBe(true);
    handle.pause();
    expect(subscription.paused).toBe(true);
    handle.resume();
    expect(subscription.paused).toBe(false);
    await handle.close();
    expect(open.size).toBe(0);
    expect(subscription.closes).toBe(1);
  });

  it('is tracked while it starts, so that closing the adapter reaches it', async () => {
    const open = new Set<FakeSubscription>();
    let started: () => void = () => {};
    const subscription = new FakeSubscription(() => new Promise<void>((resolve) => (started = resolve)));
    const starting = startTracked(subscription, open, () => false, 'pubsub');
    expect(open.has(subscription)).toBe(true);
    started();
    await starting;
  });

  it('a failed start: untracked, closed, and the start error thrown even if closing fails too', async () => {
    const open = new Set<FakeSubscription>();
    const subscription = new FakeSubscription(
      async () => {
        throw new Error('no such topic');
      },
      async () => {
        throw new Error('close failed');
      },
    );
    await expect(startTracked(subscription, open, () => false, 'pubsub')).rejects.toThrow('no such topic');
    expect(open.size).toBe(0);
    expect(subscription.closes).toBe(1);
  });

  it('the adapter closed during the start: the subscription is closed and subscribe fails with ClosedError', async () => {
    const open = new Set<FakeSubscription>();
    let closed = false;
    const subscription = new FakeSubscription(async () => {
      closed = true;
    });
    const error = await startTracked(subscription, open, () => closed, 'kafka').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ClosedError);
    expect(error).toMatchObject({ broker: 'kafka', operation: 'subscribe' });
    expect(subscription.closes).toBe(1);
  });
});
