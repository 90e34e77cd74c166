import { setTimeout as sleep } from 'node:timers/promises';
import type { _Record, GetRecordsCommandOutput, GetShardIteratorCommandInput } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Delivery } from '../../src/adapter.js';
import type { KinesisApi } from './clients.js';
import { wrap } from './envelope.js';
import { AT_TIMESTAMP, type Lease, TRIM_HORIZON } from './lease-store.js';
import { type KinesisDelivery, type ReaderHost, ShardReader } from './shard-reader.js';

const seq = (n: number) => String(49_000_000_000n + BigInt(n));

/** One shard in memory: records with sequence numbers and arrival times; iterators are positions. */
function fakeShard(
  records: Array<{ key: string; data: Uint8Array; at: number }>,
  options: { hangAtTimestamp?: boolean } = {},
) {
  const iteratorCalls: GetShardIteratorCommandInput[] = [];
  let ended = false;
  let expireNext = false;
  const stored: _Record[] = records.map((r, i) => ({
    SequenceNumber: seq(i + 1),
    PartitionKey: r.key,
    Data: r.data,
    ApproximateArrivalTimestamp: new Date(r.at),
  }));
  const api = {
    getShardIterator: async (input: GetShardIteratorCommandInput, timeoutMs?: number) => {
      iteratorCalls.push(input);
      let position = 0;
      if (input.ShardIteratorType === 'AFTER_SEQUENCE_NUMBER') {
        position = stored.findIndex((r) => r.SequenceNumber === input.StartingSequenceNumber) + 1;
      } else if (input.ShardIteratorType === 'AT_TIMESTAMP') {
        if (options.hangAtTimestamp) {
          await sleep(timeoutMs ?? 0);
          throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        }
        position = stored.findIndex(
          (r) => (r.ApproximateArrivalTimestamp?.getTime() ?? 0) >= (input.Timestamp?.getTime() ?? 0),
        );
        if (position < 0) position = stored.length;
      }
      return { ShardIterator: String(position), $metadata: {} };
    },
    getRecords: async (iterator: string, limit: number): Promise<GetRecordsCommandOutput> => {
      if (expireNext) {
        expireNext = false;
        throw Object.assign(new Error('expired'), { name: 'ExpiredIteratorException' });
      }
      const position = Number(iterator);
      const page = stored.slice(position, position + Math.min(limit, 3));
      const next = position + page.length;
      const done = ended && next >= stored.length;
      return {
        Records: page,
        NextShardIterator: done ? undefined : String(next),
        MillisBehindLatest: 0,
        $metadata: {},
      };
    },
  } as unknown as KinesisApi;
  return {
    api,
    iteratorCalls,
    add: (key: string, text: string) =>
      stored.push({
        SequenceNumber: seq(stored.length + 1),
        PartitionKey: key,
        Data: new TextEncoder().encode(text),
        ApproximateArrivalTimestamp: new Date(),
      }),
    end: () => {
      ended = true;
    },
    expire: () => {
      expireNext = true;
    },
  };
}

function host(overrides: Partial<ReaderHost> = {}) {
  const delivered: KinesisDelivery[] = [];
  const checkpoints: string[] = [];
  const ended: string[] = [];
  const value: ReaderHost & { delivered: KinesisDelivery[]; checkpoints: string[]; ended: string[] } = {
    stream: 's',
    paused: false,
    closing: false,
    pollIntervalMs: 200,
    checkpointIntervalMs: 0,
    streamCreatedAt: undefined,
    deliver: (delivery: Delivery) => delivered.push(delivery as KinesisDelivery),
    checkpoint: async (_shard, sequenceNumber) => {
      checkpoints.push(sequenceNumber);
      return true;
    },
    shardEnded: (shardId) => ended.push(shardId),
    failed: () => undefined,
    succeeded: () => undefined,
    delivered,
    checkpoints,
    ended,
    ...overrides,
  };
  return value;
}

const lease = (fields: Partial<Lease> = {}): Lease => ({
  leaseKey: 'shardId-000000000000',
  leaseOwner: 'me',
  leaseCounter: 1,
  checkpoint: TRIM_HORIZON,
  checkpointSubSequenceNumber: 0,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: [],
  pendingOwner: undefined,
  startTimestamp: undefined,
  ...fields,
});

const text = (d: Delivery) => new TextDecoder().decode(d.value);
const until = async (check: () => boolean, ms = 3_000) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(10);
  expect(check()).toBe(true);
};

describe('ShardReader', () => {
  const readers: ShardReader[] = [];
  afterEach(() => {
    for (const reader of readers.splice(0)) reader.stop();
  });
  const start = (h: ReaderHost, api: KinesisApi, l: Lease) => {
    const reader = new ShardReader(h, api, l);
    readers.push(reader);
    reader.start();
    return reader;
  };

  it('delivers records with id, key, headers; checkpoints only below the lowest unsettled one', async () => {
    const now = Date.now();
    const shard = fakeShard([
      { key: 'a', data: wrap(new TextEncoder().encode('one'), { h: 'v' }, false), at: now },
      { key: 'rnd', data: wrap(new TextEncoder().encode('two'), {}, true), at: now },
      { key: 'plain', data: new TextEncoder().encode('three'), at: now },
    ]);
    const h = host();
    start(h, shard.api, lease());
    await until(() => h.delivered.length === 3);
    const [one, two, three] = h.delivered as [KinesisDelivery, KinesisDelivery, KinesisDelivery];
    expect(one.id).toBe(`shardId-000000000000-${seq(1)}`);
    expect([one.key, two.key, three.key]).toEqual(['a', undefined, 'plain']);
    expect(one.headers).toEqual({ h: 'v' });
    expect(h.delivered.map(text)).toEqual(['one', 'two', 'three']);
    two.ack();
    three.ack();
    await sleep(30);
    expect(h.checkpoints).toEqual([]);
    one.ack();
    await until(() => h.checkpoints.length > 0);
    expect(h.checkpoints.at(-1)).toBe(seq(3));
  });

  it('starts a new "latest" group at its time: AT_TIMESTAMP, or TRIM_HORIZON skipping older records when that hangs', async () => {
    const now = Date.now();
    const records = [
      { key: 'old', data: new TextEncoder().encode('old'), at: now - 60_000 },
      { key: 'new', data: new TextEncoder().encode('new'), at: now },
    ];
    const quick = fakeShard(records);
    const h1 = host();
    start(h1, quick.api, lease({ checkpoint: AT_TIMESTAMP, startTimestamp: now - 1_000 }));
    await until(() => h1.delivered.length === 1);
    expect(quick.iteratorCalls[0]?.ShardIteratorType).toBe('AT_TIMESTAMP');
    const hanging = fakeShard(records, { hangAtTimestamp: true });
    const h2 = host();
    start(h2, hanging.api, lease({ checkpoint: AT_TIMESTAMP, startTimestamp: now - 1_000 }));
    await until(() => h2.delivered.length === 1, 5_000);
    expect(hanging.iteratorCalls.map((c) => c.ShardIteratorType)).toEqual(['AT_TIMESTAMP', 'TRIM_HORIZON']);
    expect(h2.delivered.map(text)).toEqual(['new']);
  });

  it('renews an expired iterator after the last record fetched, without redelivering', async () => {
    const shard = fakeShard([{ key: 'k', data: new TextEncoder().encode('1'), at: Date.now() }]);
    const h = host({ pollIntervalMs: 200 });
    start(h, shard.api, lease());
    await until(() => h.delivered.length === 1);
    shard.expire();
    shard.add('k', '2');
    await until(() => h.delivered.length === 2);
    expect(h.delivered.map(text)).toEqual(['1', '2']);
    expect(shard.iteratorCalls.at(-1)).toMatchObject({
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: seq(1),
    });
  });

  it('reports a shard end only once every record of it is done', async () => {
    const shard = fakeShard([
      { key: 'k', data: new TextEncoder().encode('1'), at: Date.now() },
      { key: 'k', data: new TextEncoder().encode('2'), at: Date.now() },
    ]);
    shard.end();
    const h = host();
    start(h, shard.api, lease());
    await until(() => h.delivered.length === 2);
    await sleep(50);
    h.delivered[1]?.ack();
    await sleep(20);
    expect(h.ended).toEqual([]);
    h.delivered[0]?.ack();
    await until(() => h.ended.length === 1);
  });

  it('holds a message nacked while closing, and ignores settlements once stale', async () => {
    const shard = fakeShard([
      { key: 'k', data: new TextEncoder().encode('1'), at: Date.now() },
      { key: 'k', data: new TextEncoder().encode('2'), at: Date.now() },
      { key: 'k', data: new TextEncoder().encode('3'), at: Date.now() },
    ]);
    let closing = false;
    const h = host({
      get closing() {
        return closing;
      },
    });
    const reader = start(h, shard.api, lease());
    await until(() => h.delivered.length === 3);
    h.delivered[0]?.ack();
    closing = true;
    h.delivered[1]?.nack(0, 1);
    h.delivered[2]?.ack();
    expect(reader.finalCheckpoint()).toBe(seq(1));
    reader.stop();
    expect(h.delivered[0]?.stale).toBe(true);
  });

  it('hands a nacked message out again (same id, next attempt) when not closing', async () => {
    const shard = fakeShard([{ key: 'k', data: new TextEncoder().encode('1'), at: Date.now() }]);
    const h = host();
    start(h, shard.api, lease());
    await until(() => h.delivered.length === 1);
    h.delivered[0]?.nack(10, 1);
    await until(() => h.delivered.length === 2);
    expect(h.delivered[1]?.id).toBe(h.delivered[0]?.id);
    expect(h.delivered[1]?.attempt).toBe(2);
  });
});
