import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { Delivery, SubscribeOptions } from '../../src/adapter.js';
import { KafkaSubscription, type SubscriberDeps, toStringHeaders } from './subscriber.js';

const TOPIC = 'orders';

type Listener = (event: { type: string; timestamp: number; payload: unknown }) => void;

/** A kafkajs consumer stand-in: the test joins it to the group and feeds it batches. */
class FakeConsumer {
  readonly events = {
    GROUP_JOIN: 'consumer.group_join',
    CRASH: 'consumer.crash',
    REBALANCING: 'consumer.rebalancing',
    FETCH_START: 'consumer.fetch_start',
    HEARTBEAT: 'consumer.heartbeat',
    COMMIT_OFFSETS: 'consumer.commit_offsets',
  };
  readonly listeners = new Map<string, Set<Listener>>();
  /** Commits made through eachBatch's commitOffsetsIfNecessary (the subscription's own path). */
  readonly commits: Array<Array<{ partition: number; offset: string }>> = [];
  /** Commits made through consumer.commitOffsets (pinning a new group's start). */
  readonly explicitCommits: Array<Array<{ topic: string; partition: number; offset: string }>> = [];
  running = false;
  disconnected = false;
  paused = false;
  pauseCalls = 0;
  heartbeats = 0;
  heartbeatError: unknown;
  eachBatch: ((payload: unknown) => Promise<void>) | undefined;
  readonly restartOnFailure: (error: Error) => Promise<boolean>;

  constructor(restartOnFailure: (error: Error) => Promise<boolean>) {
    this.restartOnFailure = restartOnFailure;
  }

  on(name: string, listener: Listener): () => void {
    let set = this.listeners.get(name);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }
  emit(name: string, payload: unknown): void {
    for (const listener of this.listeners.get(name) ?? []) listener({ type: name, timestamp: Date.now(), payload });
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(config: { eachBatch: (payload: unknown) => Promise<void> }): Promise<void> {
    this.running = true;
    this.eachBatch = config.eachBatch;
  }
  pause(): void {
    this.pauseCalls++;
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  async commitOffsets(list: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    this.explicitCommits.push(list);
  }
  async disconnect(): Promise<void> {
    this.running = false;
    this.disconnected = true;
  }

  join(partitions: number[]): void {
    this.emit(this.events.GROUP_JOIN, { memberAssignment: { [TOPIC]: partitions } });
  }

  /** Runs eachBatch with these offsets on a partition; returns its promise and what it resolved. */
  batch(partition: number, offsets: number[], key = (offset: number) => `k${offset}`) {
    const resolved: string[] = [];
    const messages: KafkaMessage[] = offsets.map((offset) => ({
      key: Buffer.from(key(offset)),
      value: Buffer.from(`v${offset}`),
      timestamp: '1700000000000',
      attributes: 0,
      offset: String(offset),
      headers: { h: Buffer.from('x') },
    }));
    const done = (this.eachBatch as (payload: unknown) => Promise<void>)({
      batch: {
        topic: TOPIC,
        partition,
        messages,
        lastOffset: () => String(offsets[offsets.length - 1]),
      },
      resolveOffset: (offset: string) => resolved.push(offset),
      heartbeat: async () => {
        this.heartbeats++;
        if (this.heartbeatError !== undefined) throw this.heartbeatError;
      },
      commitOffsetsIfNecessary: async (offsets: {
        topics: Array<{ partitions: Array<{ partition: number; offset: string }> }>;
      }) => {
        this.commits.push(offsets.topics[0]?.partitions ?? []);
      },
      isRunning: () => this.running,
      isStale: () => false,
    });
    return { done, resolved };
  }
}

function setup(
  options: Partial<SubscribeOptions> = {},
  deps: Partial<SubscriberDeps> = {},
  ends: Map<number, string> = new Map(),
) {
  const consumers: FakeConsumer[] = [];
  const deliveries: Delivery[] = [];
  const errors: Error[] = [];
  const subscription = new KafkaSubscription(
    {
      topic: TOPIC,
      group: 'billing',
      prefetch: 100,
      from: 'earliest',
      onDelivery: (delivery) => deliveries.push(delivery),
      onError: (error) => errors.push(error),
      ...options,
    },
    {
      createConsumer: (restartOnFailure) => {
        const consumer = new FakeConsumer(restartOnFailure);
        consumers.push(consumer);
        return consumer as unknown as Consumer;
      },
      ensureTopic: async () => 3,
      uncommittedEnds: async () => ends,
      heartbeatIntervalMs: 20,
      sessionTimeoutMs: 1_000,
      rebalanceTimeoutMs: 2_000,
      commitIntervalMs: 5,
      drainTimeoutMs: 1_000,
      ...deps,
    },
  );
  /** Starts the subscription and lets the first consumer join with these partitions. */
  const start = async (partitions = [0, 1, 2]) => {
    const started = subscription.start();
    while (consumers[0]?.eachBatch === undefined) await sleep(1);
    consumers[0]?.join(partitions);
    await started;
    return consumers[0] as FakeConsumer;
  };
  return { subscription, consumers, deliveries, errors, start };
}

const until = async (check: () => boolean, ms = 2_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(2);
  }
};

describe('KafkaSubscription', () => {
  it('hands every message to the core with a stable id, key, headers, timestamp and raw record', async () => {
    const { start, deliveries, subscription } = setup();
    const consumer = await start();
    const { done, resolved } = consumer.batch(1, [5, 6, 7]);
    await until(() => deliveries.length === 3);
    const first = deliveries[0] as Delivery & { stale: boolean };
    expect(first.id).toBe('1-5');
    expect(first.key).toBe('k5');
    expect(Buffer.from(first.value).toString()).toBe('v5');
    expect(first.headers).toEqual({ h: 'x' });
    expect(first.timestamp).toBe(1_700_000_000_000);
    expect(first.attempt).toBe(1);
    expect(first.stale).toBe(false);
    expect(first.raw).toMatchObject({ topic: TOPIC, partition: 1, offset: '5' });
    // Resolved once, when the batch was all handed out: the next fetch starts after it.
    expect(resolved).toEqual(['7']);
    for (const d of deliveries) d.ack();
    await done;
    await subscription.close();
  });

  it('commits per partition just below the lowest unsettled message, whatever order acks come in', async () => {
    const { start, deliveries, subscription } = setup();
    const consumer = await start();
    const { done } = consumer.batch(0, [10, 11, 12, 13]);
    await until(() => deliveries.length === 4);
    const [d10, d11, d12, d13] = deliveries as [Delivery, Delivery, Delivery, Delivery];
    d11.ack();
    d13.ack();
    await sleep(30);
    expect(consumer.commits).toEqual([]); // 10 still runs: nothing to commit yet
    d10.ack();
    await until(() => consumer.commits.length === 1);
    expect(consumer.commits[0]).toEqual([{ partition: 0, offset: '12' }]);
    d12.nack(); // handed back (closing): the commit point stays at 12
    await sleep(30);
    expect(consumer.commits.at(-1)).toEqual([{ partition: 0, offset: '12' }]);
    d12.ack(); // settling is idempotent: the first settle wins
    await done;
    await subscription.close();
    expect(consumer.commits.flat().some((c) => c.offset === '14')).toBe(false);
  });

  it('stops handing out at prefetch and while paused, and resumes', async () => {
    const { start, deliveries, subscription } = setup({ prefetch: 3 });
    const consumer = await start();
    const { done, resolved } = consumer.batch(0, [0, 1, 2, 3, 4, 5]);
    await until(() => deliveries.length === 3);
    await sleep(30);
    expect(deliveries).toHaveLength(3);
    expect(resolved).toEqual([]); // resolved when the loop ends, up to what was handed out
    subscription.pause();
    // Handing out stops at once; kafkajs's fetching only once the pause lasts (100 ms).
    expect(consumer.paused).toBe(false);
    for (const d of deliveries.splice(0)) d.ack();
    await sleep(150);
    expect(consumer.paused).toBe(true);
    expect(deliveries).toHaveLength(0);
    subscription.resume();
    expect(consumer.paused).toBe(false);
    await until(() => deliveries.length === 3);
    for (const d of deliveries.splice(0)) d.ack();
    await done;
    expect(resolved).toEqual(['5']);
    await subscription.close();
  });

  it('does not pause fetching for a short flow-control pause', async () => {
    const { start, deliveries, subscription } = setup({ prefetch: 2 });
    const consumer = await start();
    const { done } = consumer.batch(0, [0, 1, 2, 3]);
    await until(() => deliveries.length === 2);
    subscription.pause();
    for (const d of deliveries.splice(0)) d.ack();
    subscription.resume();
    await until(() => deliveries.length === 2);
    for (const d of deliveries.splice(0)) d.ack();
    await done;
    await sleep(150);
    expect(consumer.paused).toBe(false);
    expect(consumer.pauseCalls).toBe(0);
    await subscription.close();
  });

  it('resolves only up to the last message handed out when a batch stops early', async () => {
    const { start, deliveries, subscription } = setup({ prefetch: 2 });
    const consumer = await start();
    const { done, resolved } = consumer.batch(0, [0, 1, 2, 3]);
    await until(() => deliveries.length === 2);
    const closing = subscription.close();
    await done;
    await closing;
    // 2 and 3 were never handed out: whoever reads the partition next fetches them.
    expect(resolved).toEqual(['1']);
  });

  it('heartbeats while a batch waits for slow handlers', async () => {
    const { start, deliveries, subscription } = setup();
    const consumer = await start();
    const { done } = consumer.batch(0, [0, 1]);
    await until(() => deliveries.length === 2);
    (deliveries[0] as Delivery).ack();
    // The second one stays busy but settles now and then in other batches: here, nothing settles.
    await sleep(150);
    expect(consumer.heartbeats).toBeGreaterThan(0);
    await done; // returns after the linger without progress: other partitions must keep flowing
    (deliveries[1] as Delivery).ack();
    await until(() => consumer.commits.some((c) => c.some((p) => p.offset === '2')));
    await subscription.close();
  });

  it('on a rebalance stops handing out, lets what is out finish, commits it, then lets kafkajs rejoin', async () => {
    const { start, deliveries, subscription } = setup({ prefetch: 2 });
    const consumer = await start();
    const first = consumer.batch(0, [0, 1, 2, 3]);
    const second = consumer.batch(1, [10, 11]); // another partition, waiting for room
    await until(() => deliveries.length === 2);
    consumer.heartbeatError = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    const outcomes = Promise.all([first.done.catch((e: unknown) => e), second.done.catch((e: unknown) => e)]);
    await until(() => consumer.heartbeats > 0);
    let finished = false;
    void outcomes.then(() => {
      finished = true;
    });
    await sleep(50);
    expect(finished).toBe(false); // waiting for the two handed out
    for (const d of deliveries.splice(0)) d.ack();
    const [error] = (await outcomes) as [{ type: string }, unknown];
    expect(error.type).toBe('REBALANCE_IN_PROGRESS');
    expect(consumer.commits.at(-1)).toEqual([{ partition: 0, offset: '2' }]);
    // Nothing more was handed out once the rebalance was known, though room came free.
    expect(deliveries).toHaveLength(0);
    expect(second.resolved).toEqual([]);
    await subscription.close();
  });

  it('hands out nothing from a batch that arrives while a rebalance drains', async () => {
    const { start, deliveries, subscription } = setup({ prefetch: 10 });
    const consumer = await start();
    const first = consumer.batch(0, [0, 1]);
    await until(() => deliveries.length === 2);
    consumer.heartbeatError = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    const failed = first.done.catch((e: unknown) => e);
    await until(() => consumer.heartbeats > 0);
    const late = consumer.batch(2, [20, 21]);
    await late.done;
    expect(late.resolved).toEqual([]);
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries) d.ack();
    expect(((await failed) as { type: string }).type).toBe('REBALANCE_IN_PROGRESS');
    await subscription.close();
  });

  it('makes deliveries of the previous generation stale on GROUP_JOIN: their acks never commit', async () => {
    const { start, deliveries, subscription } = setup();
    const consumer = await start();
    const { done } = consumer.batch(2, [40, 41]);
    await until(() => deliveries.length === 2);
    const [old40, old41] = deliveries.splice(0) as [Delivery & { stale: boolean }, Delivery & { stale: boolean }];
    consumer.join([2]); // eager rebalance: everything revoked, partition 2 assigned again
    expect(old40.stale).toBe(true);
    old40.ack();
    old41.ack();
    await done;
    await sleep(30);
    expect(consumer.commits).toEqual([]);
    // The new generation reads again from the committed offset.
    const again = consumer.batch(2, [40, 41]);
    await until(() => deliveries.length === 2);
    expect((deliveries[0] as Delivery & { stale: boolean }).stale).toBe(false);
    for (const d of deliveries) d.ack();
    await again.done;
    await until(() => consumer.commits.length > 0);
    expect(consumer.commits.at(-1)).toEqual([{ partition: 2, offset: '42' }]);
    await subscription.close();
  });

  it('commits before leaving on close, and nothing after', async () => {
    const { start, deliveries, subscription } = setup({}, { commitIntervalMs: 60_000 });
    const consumer = await start();
    const { done } = consumer.batch(0, [0, 1, 2]);
    await until(() => deliveries.length === 3);
    for (const d of deliveries) d.ack();
    await done;
    expect(consumer.commits).toEqual([]); // the interval has not passed
    await subscription.close();
    expect(consumer.commits).toEqual([[{ partition: 0, offset: '3' }]]);
    expect(consumer.disconnected).toBe(true);
  });

  it('pins the end offsets of a new `latest` group on the partitions it got', async () => {
    const ends = new Map([
      [0, '100'],
      [1, '7'],
    ]);
    const { start, subscription } = setup({ from: 'latest' }, {}, ends);
    const consumer = await start([1, 2]);
    expect(consumer.explicitCommits).toEqual([[{ topic: TOPIC, partition: 1, offset: '7' }]]);
    await subscription.close();
  });

  it('restarts a consumer that kafkajs stopped for good, and reports it', async () => {
    const { start, consumers, errors, subscription } = setup();
    const consumer = await start();
    expect(subscription.health().ok).toBe(true);
    consumer.emit(consumer.events.CRASH, { error: new Error('boom'), restart: false, groupId: 'billing' });
    expect(errors[0]?.message).toMatch(/boom/);
    expect(subscription.health()).toMatchObject({ ok: false });
    expect(subscription.health().detail).toMatch(/restarting/);
    await until(() => consumers.length === 2, 5_000);
    await until(() => consumers[1]?.eachBatch !== undefined);
    consumers[1]?.join([0]);
    expect(subscription.health().ok).toBe(true);
    // The replaced consumer's events no longer count.
    consumer.join([0, 1, 2]);
    expect(subscription.health().detail).toMatch(/partitions 0\)/);
    await subscription.close();
  });

  it('restarts a consumer that went silent (kafkajs#659)', async () => {
    const { start, consumers, errors, subscription } = setup({}, { stallTimeoutMs: 100 });
    await start();
    await until(() => consumers.length === 2, 5_000);
    expect(errors.some((e) => /showed no activity/.test(e.message))).toBe(true);
    await subscription.close();
  });

  it('fails start() when the first join fails, and does not let kafkajs restart it', async () => {
    const { subscription, consumers } = setup();
    const started = subscription.start();
    await until(() => consumers[0]?.eachBatch !== undefined);
    const consumer = consumers[0] as FakeConsumer;
    expect(await consumer.restartOnFailure(new Error('x'))).toBe(false);
    consumer.emit(consumer.events.CRASH, { error: new Error('not authorized'), restart: false, groupId: 'billing' });
    await expect(started).rejects.toThrow(/not authorized/);
    expect(consumer.disconnected).toBe(true);
  });
});

describe('toStringHeaders', () => {
  it('decodes UTF-8, keeps the last value of a repeated header and drops null values', () => {
    expect(
      toStringHeaders({
        a: Buffer.from('ünï'),
        b: 'plain',
        c: [Buffer.from('first'), Buffer.from('last')],
        d: undefined,
      }),
    ).toEqual({ a: 'ünï', b: 'plain', c: 'last' });
    expect(toStringHeaders(undefined)).toEqual({});
  });
});
