import { describe, expect, it } from 'vitest';
import type { TransportRecord } from '../../src/adapter.js';
import type { PolybusError } from '../../src/errors.js';
import { BrokerError, InvalidConfigError, MessageTooLargeError, TimeoutError } from '../../src/errors.js';
import { TopicNotFoundError } from '../shared/errors.js';
import {
  EMPTY_MESSAGE_ATTRIBUTE,
  type OutgoingPubSubMessage,
  type PublishTarget,
  PubSubPublisher,
  toPubSubMessage,
} from './publisher.js';
import { PubSubTopology, type TopologyClient } from './topology.js';

const record = (value: string, extra: Partial<TransportRecord> = {}): TransportRecord => ({
  value: Buffer.from(value),
  headers: {},
  timestamp: 0,
  ...extra,
});
const grpcError = (code: number) => Object.assign(new Error(`code ${code}`), { code });

describe('toPubSubMessage', () => {
  it('maps key to ordering key and headers to attributes, without copying the payload', () => {
    const value = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 4);
    const message = toPubSubMessage({ key: 'k1', value, headers: { tenant: 't1' }, timestamp: 0 }, 0, 1000);
    expect(message.orderingKey).toBe('k1');
    expect(message.attributes).toEqual({ tenant: 't1' });
    expect(message.data).toBe(value);
    // No headers: no attributes object at all (the client costs ~1 µs per message on an empty one).
    expect(toPubSubMessage(record('x'), 0, 1000)).toStrictEqual({ data: Buffer.from('x') });
  });

  it('marks a message with neither data nor attributes, which Pub/Sub would refuse', () => {
    expect(toPubSubMessage(record(''), 0, 1000).attributes).toEqual({ [EMPTY_MESSAGE_ATTRIBUTE]: '1' });
    expect(toPubSubMessage(record('', { headers: { a: 'b' } }), 0, 1000).attributes).toEqual({ a: 'b' });
  });

  it('accepts the limits exactly: 100 attributes, 256-byte names, 1024-byte values, 1024-byte keys', () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 99; i++) headers[`h${i}`] = 'v';
    headers['n'.repeat(256)] = 'é'.repeat(512);
    expect(() => toPubSubMessage(record('x', { headers, key: 'k'.repeat(1024) }), 0, 1_000_000)).not.toThrow();
  });

  it.each([
    [{ googfoo: 'x' }, /messages\[3\]\.headers\["googfoo"\] starts with "goog"/],
    [{ googclient_x: 'x' }, /headers\["googclient_x"\] starts with "goog"/],
    [{ ['n'.repeat(257)]: 'x' }, /is 257 bytes long; Pub\/Sub allows attribute names up to 256 bytes/],
    [{ ['ń'.repeat(129)]: 'x' }, /is 258 bytes long/],
    [{ big: 'v'.repeat(1025) }, /headers\["big"\] has a value of 1025 bytes/],
    [{ big: '€'.repeat(342) }, /has a value of 1026 bytes/],
  ])('refuses headers Pub/Sub cannot carry, naming them: %#', (headers, message) => {
    const map = () => toPubSubMessage(record('x', { headers }), 3, 1_000_000);
    expect(map).toThrow(InvalidConfigError);
    expect(map).toThrow(message);
  });

  it('refuses more than 100 headers and over-long ordering keys', () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 101; i++) headers[`h${i}`] = 'v';
    expect(() => toPubSubMessage(record('x', { headers }), 0, 1_000_000)).toThrow(/has 101 headers; .* at most 100/);
    expect(() => toPubSubMessage(record('x', { key: 'ł'.repeat(513) }), 1, 1_000_000)).toThrow(
      /messages\[1\]\.key is 1026 bytes long/,
    );
  });

  it('counts data, attributes and key against the size limit', () => {
    expect(() =>
      toPubSubMessage(record('x'.repeat(90), { headers: { ab: 'cdef' }, key: 'kkkk' }), 0, 100),
    ).not.toThrow();
    const over = () => toPubSubMessage(record('x'.repeat(90), { headers: { ab: 'cdef' }, key: 'kkkkk' }), 0, 100);
    expect(over).toThrow(MessageTooLargeError);
    expect(over).toThrow(/a message of 101 bytes exceeds the pubsub limit of 100 bytes/);
  });
});

/** A client Topic stand-in: resolves ids in order, or fails messages as told. */
function fakeTarget(behaviour: (message: OutgoingPubSubMessage, n: number) => Promise<string>) {
  const published: OutgoingPubSubMessage[] = [];
  const resumed: string[] = [];
  const target: PublishTarget = {
    publishMessage(message) {
      published.push(message);
      return behaviour(message, published.length);
    },
    resumePublishing(key) {
      resumed.push(key);
    },
    flush: async () => {},
  };
  return { target, published, resumed };
}

function topologyWith(autoCreate: boolean, createTopic?: TopologyClient['createTopic']) {
  const created: string[] = [];
  const client: TopologyClient = {
    createTopic:
      createTopic ??
      (async (topic) => {
        created.push(topic);
      }),
    createSubscription: async () => {},
    subscriptionMetadata: async () => ({}),
  };
  return {
    topology: new PubSubTopology(client, {
      projectId: 'p',
      autoCreate,
      ackDeadlineSeconds: 10,
      subscriptionPrefix: '',
    }),
    created,
  };
}

function publisherWith(
  target: PublishTarget,
  autoCreate = true,
  sendTimeoutMs = 1_000,
  createTopic?: TopologyClient['createTopic'],
) {
  const { topology, created } = topologyWith(autoCreate, createTopic);
  const errors: Error[] = [];
  const publisher = new PubSubPublisher({
    target: () => target,
    topology,
    maxMessageBytes: 1_000,
    sendTimeoutMs,
    onError: (error) => errors.push(error),
  });
  return { publisher, created, errors };
}

describe('PubSubPublisher', () => {
  it('creates the topic once and returns the message ids in record order', async () => {
    const fake = fakeTarget(async (_m, n) => `id-${n}`);
    const { publisher, created } = publisherWith(fake.target);
    const receipts = await publisher.publish('orders', [record('a', { key: 'k' }), record('b')]);
    expect(receipts).toEqual([
      { id: 'id-1', topic: 'orders' },
      { id: 'id-2', topic: 'orders' },
    ]);
    await publisher.publish('orders', [record('c')]);
    expect(created).toEqual(['orders']);
    expect(fake.published.map((m) => m.orderingKey)).toEqual(['k', undefined, undefined]);
  });

  it('sends nothing of a batch with one bad record, or to a bad topic name', async () => {
    const fake = fakeTarget(async () => 'id');
    const { publisher, created } = publisherWith(fake.target);
    await expect(publisher.publish('orders', [record('a'), record('b', { headers: { goog: 'x' } })])).rejects.toThrow(
      InvalidConfigError,
    );
    await expect(publisher.publish('a/b', [record('a')])).rejects.toThrow(/topic name "a\/b"/);
    expect(fake.published).toEqual([]);
    expect(created).toEqual([]);
  });

  it('resumes the ordering key of a failed publish and rejects with a retryable error', async () => {
    const fake = fakeTarget(async (message) => {
      if (message.orderingKey === 'bad') throw grpcError(14);
      return 'ok';
    });
    const { publisher, errors } = publisherWith(fake.target);
    const failed = publisher.publish('orders', [record('a', { key: 'good' }), record('b', { key: 'bad' })]);
    await expect(failed).rejects.toBeInstanceOf(BrokerError);
    await expect(failed).rejects.toMatchObject({ retryable: true, operation: 'send' });
    expect(fake.resumed).toEqual(['bad']);
    expect(errors).toHaveLength(1);
  });

  it('with autoCreate, creates a topic that went away and resends only what was refused', async () => {
    let refusals = 0;
    const fake = fakeTarget(async (message, n) => {
      // The first two messages of key k are refused (the topic is gone), then it is back.
      if (message.orderingKey === 'k' && refusals < 2) {
        refusals++;
        throw grpcError(5);
      }
      return `id-${n}`;
    });
    const { publisher, created } = publisherWith(fake.target);
    const sending = publisher.publish('orders', [record('a'), record('b', { key: 'k' }), record('c', { key: 'k' })]);
    const receipts = await sending;
    expect(created).toEqual(['orders', 'orders']);
    expect(receipts.map((r) => r.id)).toEqual(['id-1', 'id-4', 'id-5']);
    expect(fake.resumed).toEqual(['k', 'k']);
    expect(fake.published.map((m) => Buffer.from(m.data).toString())).toEqual(['a', 'b', 'c', 'b', 'c']);
  });

  it('without autoCreate, a missing topic is a TopicNotFoundError naming it', async () => {
    const fake = fakeTarget(async () => {
      throw grpcError(5);
    });
    const { publisher, created } = publisherWith(fake.target, false);
    const failed = publisher.publish('orders', [record('a')]);
    await expect(failed).rejects.toBeInstanceOf(TopicNotFoundError);
    await expect(failed).rejects.toMatchObject({ topic: 'orders', retryable: false });
    await expect(failed).rejects.toThrow(/gcloud pubsub topics create orders/);
    expect(created).toEqual([]);
  });

  it('rejects with a retryable TimeoutError when the client never answers', async () => {
    const fake = fakeTarget(() => new Promise<string>(() => {}));
    const { publisher, errors } = publisherWith(fake.target, true, 1_000);
    const started = Date.now();
    const failed = publisher.publish('orders', [record('a')]);
    await expect(failed).rejects.toBeInstanceOf(TimeoutError);
    await expect(failed).rejects.toMatchObject({ retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(errors).toHaveLength(1);
  });

  it('rejects retryably at sendTimeoutMs (+2 s) when creating the topic never answers (Pub/Sub down)', async () => {
    const fake = fakeTarget(async (_m, n) => `id-${n}`);
    const { publisher } = publisherWith(fake.target, true, 50, () => new Promise<never>(() => {}));
    const started = Date.now();
    const error = await publisher.publish('orders', [record('a')]).catch((caught: unknown) => caught);
    expect((error as PolybusError).retryable).toBe(true);
    expect((error as PolybusError).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(fake.published).toHaveLength(0);
  });
});
