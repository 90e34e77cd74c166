import { describe, expect, it } from 'vitest';
import { BrokerError, InvalidConfigError } from '../../src/errors.js';
import { SubscriptionNotFoundError } from './errors.js';
import {
  checkTopicName,
  nameProblem,
  PubSubTopology,
  type SubscriptionFacts,
  subscriptionName,
  type TopologyClient,
} from './topology.js';

const grpcError = (code: number, message = `code ${code}`) => Object.assign(new Error(message), { code });

/** An in-memory admin API that records calls. */
function fakeClient(initial: { topics?: string[]; subscriptions?: Record<string, SubscriptionFacts> } = {}) {
  const topics = new Set(initial.topics ?? []);
  const subscriptions = new Map(Object.entries(initial.subscriptions ?? {}));
  const calls: string[] = [];
  let failNext: Error | undefined;
  const client: TopologyClient = {
    async createTopic(topic) {
      calls.push(`createTopic ${topic}`);
      if (failNext) {
        const error = failNext;
        failNext = undefined;
        throw error;
      }
      if (topics.has(topic)) throw grpcError(6);
      topics.add(topic);
    },
    async createSubscription(topic, name, ackDeadlineSeconds) {
      calls.push(`createSubscription ${topic} ${name} ${ackDeadlineSeconds}`);
      if (!topics.has(topic)) throw grpcError(5);
      if (subscriptions.has(name)) throw grpcError(6);
      subscriptions.set(name, { topic: `projects/p/topics/${topic}`, enableMessageOrdering: true });
    },
    async subscriptionMetadata(name) {
      calls.push(`subscriptionMetadata ${name}`);
      const facts = subscriptions.get(name);
      if (facts === undefined) throw grpcError(5);
      return facts;
    },
  };
  return {
    client,
    calls,
    topics,
    subscriptions,
    failNextWith(error: Error) {
      failNext = error;
    },
  };
}

const options = { projectId: 'p', autoCreate: true, ackDeadlineSeconds: 10, subscriptionPrefix: '' };

describe('Pub/Sub names', () => {
  it('accepts names Pub/Sub accepts', () => {
    for (const name of ['abc', 'orders', 'Google-feed', 'Orders.v2-x_y~z+w%20', `a${'b'.repeat(254)}`]) {
      expect(nameProblem(name)).toBeUndefined();
    }
  });

  it.each([
    ['ab', /has 2 characters/],
    [`a${'b'.repeat(255)}`, /has 256 characters/],
    ['1abc', /does not start with a letter/],
    ['-abc', /does not start with a letter/],
    ['ab/c', /holds characters other than/],
    ['ab c', /holds characters other than/],
    ['äbc', /does not start with a letter/],
    ['goog-topic', /starts with "goog"/],
  ])('rejects %s', (name, problem) => {
    expect(nameProblem(name)).toMatch(problem);
  });

  it('names a subscription <prefix><topic>.<group> and checks it before any call', () => {
    expect(subscriptionName('', 'orders', 'billing')).toBe('orders.billing');
    expect(subscriptionName('svc-', 'orders', 'billing')).toBe('svc-orders.billing');
    expect(() => subscriptionName('', 'orders', 'bill/ing')).toThrow(InvalidConfigError);
    expect(() => subscriptionName('', 'orders', 'bill/ing')).toThrow(/"orders.bill\/ing" .* holds characters/);
    expect(() => subscriptionName('', 'o'.repeat(200), 'g'.repeat(60))).toThrow(/has 261 characters/);
    expect(() => checkTopicName('1orders', 'send')).toThrow(/the topic name "1orders" does not start with a letter/);
  });
});

describe('PubSubTopology', () => {
  it('names a failed topic creation after each caller, even when callers share it', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, options);
    fake.failNextWith(grpcError(14, 'unavailable'));
    const [sent, subscribed] = await Promise.all([
      topology.ensureTopic('orders', 'send').catch((error: unknown) => error),
      topology.ensureTopic('orders', 'subscribe').catch((error: unknown) => error),
    ]);
    expect(fake.calls).toEqual(['createTopic orders']);
    expect(String((sent as Error).message)).toContain('send: create topic "orders"');
    expect(String((subscribed as Error).message)).toContain('subscribe: create topic "orders"');
  });

  it('creates the topic once, remembered, and tolerates one that exists', async () => {
    const fake = fakeClient({ topics: ['existing'] });
    const topology = new PubSubTopology(fake.client, options);
    await Promise.all([topology.ensureTopic('orders', 'send'), topology.ensureTopic('orders', 'send')]);
    await topology.ensureTopic('orders', 'send');
    await topology.ensureTopic('existing', 'send');
    expect(fake.calls).toEqual(['createTopic orders', 'createTopic existing']);
    topology.forget('orders');
    await topology.ensureTopic('orders', 'send');
    expect(fake.calls).toHaveLength(3);
  });

  it('forgets a failed creation, so that the next call tries again, and says what failed', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, options);
    fake.failNextWith(grpcError(14, 'unavailable'));
    const failed = topology.ensureTopic('orders', 'send');
    await expect(failed).rejects.toBeInstanceOf(BrokerError);
    await expect(failed).rejects.toMatchObject({ retryable: true, operation: 'send: create topic "orders"' });
    await topology.ensureTopic('orders', 'send');
    expect(fake.topics.has('orders')).toBe(true);
  });

  it('creates topic and subscription with ordering on and the ack deadline', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, { ...options, ackDeadlineSeconds: 42, subscriptionPrefix: 'x-' });
    expect(await topology.ensureSubscription('orders', 'billing')).toEqual({ name: 'x-orders.billing', ordered: true });
    expect(fake.calls).toEqual(['createTopic orders', 'createSubscription orders x-orders.billing 42']);
  });

  it('checks an existing subscription: its topic must match; ordering off is reported, not refused', async () => {
    const fake = fakeClient({
      topics: ['orders', 'other'],
      subscriptions: {
        'orders.billing': { topic: 'projects/p/topics/orders', enableMessageOrdering: false },
        'orders.audit': { topic: 'projects/p/topics/other', enableMessageOrdering: true },
      },
    });
    const topology = new PubSubTopology(fake.client, options);
    expect(await topology.ensureSubscription('orders', 'billing')).toEqual({ name: 'orders.billing', ordered: false });
    await expect(topology.ensureSubscription('orders', 'audit')).rejects.toThrow(
      /the subscription "orders.audit" exists for topic "other", not "orders"/,
    );
  });

  it('creates the topic again when it went away after it was remembered', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, options);
    await topology.ensureTopic('orders', 'send');
    fake.topics.clear(); // the emulator restarted
    expect(await topology.ensureSubscription('orders', 'billing')).toEqual({ name: 'orders.billing', ordered: true });
    expect(fake.topics.has('orders')).toBe(true);
  });

  it('with autoCreate off, creates nothing and names a missing subscription', async () => {
    const fake = fakeClient({
      subscriptions: { 'orders.billing': { topic: 'projects/p/topics/orders', enableMessageOrdering: true } },
    });
    const topology = new PubSubTopology(fake.client, { ...options, autoCreate: false });
    await topology.ensureTopic('orders', 'send');
    expect(await topology.ensureSubscription('orders', 'billing')).toEqual({ name: 'orders.billing', ordered: true });
    const missing = topology.ensureSubscription('orders', 'audit');
    await expect(missing).rejects.toBeInstanceOf(SubscriptionNotFoundError);
    await expect(missing).rejects.toMatchObject({ subscription: 'orders.audit', retryable: false });
    await expect(missing).rejects.toThrow(/subscription "orders.audit" \(for topic "orders"\) does not exist/);
    await expect(missing).rejects.toThrow(/autoCreate=true/);
    expect(fake.calls.filter((call) => call.startsWith('create'))).toEqual([]);
  });

  it('without autoCreate, uses a subscription it may not read (subscriber-only credentials) unchecked', async () => {
    const fake = fakeClient();
    fake.client.subscriptionMetadata = async () => {
      throw grpcError(7, 'permission denied');
    };
    const topology = new PubSubTopology(fake.client, { ...options, autoCreate: false });
    expect(await topology.ensureSubscription('orders', 'billing')).toEqual({
      name: 'orders.billing',
      ordered: undefined,
    });
  });

  it('refuses bad names before any call', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, options);
    await expect(topology.ensureSubscription('goog-orders', 'billing')).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(topology.ensureSubscription('orders', 'bad group')).rejects.toBeInstanceOf(InvalidConfigError);
    expect(fake.calls).toEqual([]);
  });

  it('maps a permission error to a non-retryable BrokerError that says which role is missing', async () => {
    const fake = fakeClient();
    const topology = new PubSubTopology(fake.client, options);
    fake.failNextWith(grpcError(7, 'permission denied'));
    const denied = topology.ensureSubscription('orders', 'billing');
    await expect(denied).rejects.toMatchObject({ retryable: false, code: 'BROKER_ERROR' });
    await expect(denied).rejects.toThrow(/roles\/pubsub/);
  });
});
