/**
 * Resharding while messages flow: the shard of a stream is split (SplitShard) while 5,000 keyed
 * messages are sent and consumed. Nothing is lost, and each key's messages are handled in send
 * order across the parent and its children: the parent is read to its end and checkpointed
 * SHARD_END before its children are leased (found through ListShards' ParentShardId, since
 * kinesalite returns no ChildShards).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { ListShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Broker, connect } from '../src/broker.js';
import { type KinesisConfig, parseBrokerUrl } from '../src/url.js';
import { kinesis } from './clients.js';
import { dynamoClient } from './emulators/kinesis.js';
import { endpoint } from './env.js';

const TOTAL = 5_000;
const KEYS = 50;
const SPLIT_AFTER = 1_500;

interface Value {
  key: string;
  seq: number;
}

describe('resharding: kinesis', () => {
  let bus: Broker | undefined;
  afterAll(async () => {
    await bus?.close();
  });

  it('keeps every message and per-key order across a shard split', async () => {
    bus = await connect({
      ...parseBrokerUrl(
        `kinesis://us-east-1?endpoint=${endpoint('KINESIS_ENDPOINT')}&shards=1&accessKeyId=local&secretAccessKey=local`,
      ),
      dynamoEndpoint: endpoint('DYNAMODB_ENDPOINT'),
      failoverTimeMs: 3_000,
      pollIntervalMs: 250,
      checkpointIntervalMs: 200,
    } as KinesisConfig);
    const stream = `reshard-${randomUUID().slice(0, 8)}`;
    const handled: Array<{ value: Value; shard: string }> = [];
    await bus.consumer<Value>({ topic: stream, group: 'reshard', from: 'earliest', concurrency: 8 }).run(async (m) => {
      handled.push({ value: m.value, shard: m.id.slice(0, m.id.lastIndexOf('-')) });
      // Some work, so that the consumer is still busy with the parent when the split happens.
      if (m.value.seq % 7 === 0) await sleep(1);
    });

    const producer = bus.producer<Value>();
    const client = kinesis();
    let split: Promise<unknown> | undefined;
    for (let from = 0; from < TOTAL; from += 100) {
      if (split === undefined && from >= SPLIT_AFTER) {
        const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
        split = client.send(
          new SplitShardCommand({
            StreamName: stream,
            ShardToSplit: Shards[0]?.ShardId,
            NewStartingHashKey: (2n ** 127n).toString(),
          }),
        );
      }
      await producer.send(
        stream,
        Array.from({ length: 100 }, (_, i) => {
          const n = from + i;
          return { key: `key-${n % KEYS}`, value: { key: `key-${n % KEYS}`, seq: Math.floor(n / KEYS) } };
        }),
      );
      await sleep(5);
    }
    await split;
    const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
    client.destroy();

    const deadline = Date.now() + 60_000;
    const distinct = () => new Set(handled.map((h) => `${h.value.key}/${h.value.seq}`)).size;
    while (distinct() < TOTAL && Date.now() < deadline) await sleep(100);

    // Per key: the order handlers saw, first sight of each message (a redelivery may repeat one).
    const perKey = new Map<string, number[]>();
    const seen = new Set<string>();
    for (const { value } of handled) {
      const id = `${value.key}/${value.seq}`;
      if (seen.has(id)) continue;
      seen.add(id);
      perKey.set(value.key, [...(perKey.get(value.key) ?? []), value.seq]);
    }
    const outOfOrder = [...perKey].filter(([, seqs]) => seqs.some((seq, i) => i > 0 && seq < (seqs[i - 1] as number)));
    const byShard = new Map<string, number>();
    for (const { shard } of handled) byShard.set(shard, (byShard.get(shard) ?? 0) + 1);
    const dynamo = dynamoClient(endpoint('DYNAMODB_ENDPOINT'));
    const { Items = [] } = await dynamo.send(
      new ScanCommand({ TableName: `polybus.reshard.${stream}`, ConsistentRead: true }),
    );
    dynamo.destroy();
    const leases = Items.map((item) => ({
      shard: item.leaseKey?.S,
      checkpoint: item.checkpoint?.S,
      parents: item.parentShardId?.SS ?? [],
    }));
    console.log(
      `resharding: ${distinct()}/${TOTAL} handled (${handled.length - distinct()} duplicates); per shard ${JSON.stringify([...byShard])}; ${outOfOrder.length} key(s) out of order`,
    );

    expect(Shards.length).toBe(3);
    expect(distinct()).toBe(TOTAL);
    expect(outOfOrder).toEqual([]);
    for (const [, seqs] of perKey) expect(seqs).toEqual(Array.from({ length: TOTAL / KEYS }, (_, i) => i));
    // Both children were read, after their parent had been read to its end.
    const parent = Shards.find((shard) => shard.SequenceNumberRange?.EndingSequenceNumber !== undefined)?.ShardId;
    const children = Shards.filter((shard) => shard.ParentShardId === parent).map((shard) => shard.ShardId);
    expect(children).toHaveLength(2);
    expect(leases.find((lease) => lease.shard === parent)?.checkpoint).toBe('SHARD_END');
    for (const child of children) {
      expect(byShard.get(child as string) ?? 0).toBeGreaterThan(0);
      expect(leases.find((lease) => lease.shard === child)?.parents).toEqual([parent]);
    }
    const lastOfParent = handled.findLastIndex((h) => h.shard === parent);
    const firstOfChildren = handled.findIndex((h) => h.shard !== parent);
    expect(firstOfChildren).toBeGreaterThan(lastOfParent);
  }, 120_000);
});
