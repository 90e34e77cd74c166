/**
 * Consumer groups on Kinesis share a stream through leases in DynamoDB (kinesalite + dynalite):
 * two members split a 4-shard stream; one is killed (SIGKILL, no close) and the other takes its
 * shards over once the failover time has passed, from the last checkpoints, losing nothing; then a
 * third member joins and the shards rebalance.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { Broker } from '../src/broker.js';
import { connect } from '../src/broker.js';
import type { Message } from '../src/message.js';
import { type KinesisConfig, parseBrokerUrl } from '../src/url.js';
import { dynamoClient } from './emulators/kinesis.js';
import { endpoint } from './env.js';

const FAILOVER_MS = 3_000;
const SHARDS = 4;
const FIRST = 2_000;
const LATER = 500;

interface Value {
  n: number;
}

const url = () =>
  `kinesis://us-east-1?endpoint=${endpoint('KINESIS_ENDPOINT')}&shards=${SHARDS}&accessKeyId=local&secretAccessKey=local`;
const options = () => ({
  dynamoEndpoint: endpoint('DYNAMODB_ENDPOINT'),
  failoverTimeMs: FAILOVER_MS,
  pollIntervalMs: 250,
  checkpointIntervalMs: 200,
});

function open(): Promise<Broker> {
  return connect({ ...parseBrokerUrl(url()), ...options() } as KinesisConfig);
}

/** A member in its own process, so that it can die without closing. Prints one JSON line per handled message. */
function spawnMember(stream: string, group: string): { child: ChildProcess; handled: string[]; ready: Promise<void> } {
  const root = new URL('..', import.meta.url).pathname;
  const code = `
    import { connect, parseBrokerUrl } from '${root}src/index.ts';
    const bus = await connect({ ...parseBrokerUrl(${JSON.stringify(url())}), ...${JSON.stringify(options())} });
    const consumer = bus.consumer({ topic: ${JSON.stringify(stream)}, group: ${JSON.stringify(group)}, from: 'earliest', concurrency: 4, onError: (e) => process.stderr.write('A onError ' + String(e) + '\\n') });
    await consumer.run(async (m) => { process.stdout.write(JSON.stringify({ id: m.id, n: m.value.n }) + '\\n'); });
    process.stdout.write('READY\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const handled: string[] = [];
  let resolveReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (line === 'READY') resolveReady();
    else if (line.startsWith('{')) handled.push(line);
  });
  return { child, handled, ready };
}

interface LeaseRow {
  shard: string;
  owner: string | undefined;
  checkpoint: string;
  parents: string[];
}

async function leases(table: string): Promise<LeaseRow[]> {
  const client = dynamoClient(endpoint('DYNAMODB_ENDPOINT'));
  try {
    const { Items = [] } = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
    return Items.map((item) => ({
      shard: item.leaseKey?.S ?? '',
      owner: item.leaseOwner?.S,
      checkpoint: item.checkpoint?.S ?? '',
      parents: item.parentShardId?.SS ?? [],
    }));
  } finally {
    client.destroy();
  }
}

/** Shards per owner, from the lease table; owner ids are host:pid:n:random. */
async function shardsByOwner(table: string): Promise<Map<string, string[]>> {
  const byOwner = new Map<string, string[]>();
  for (const row of await leases(table)) {
    if (row.owner === undefined || row.checkpoint === 'SHARD_END') continue;
    byOwner.set(row.owner, [...(byOwner.get(row.owner) ?? []), row.shard].sort());
  }
  return byOwner;
}

/** Shards per owner process (pid). */
async function shardsByPid(table: string): Promise<Map<string, string[]>> {
  const byPid = new Map<string, string[]>();
  for (const [owner, shards] of await shardsByOwner(table)) {
    const pid = owner.split(':')[1] ?? '';
    byPid.set(pid, [...(byPid.get(pid) ?? []), ...shards].sort());
  }
  return byPid;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - started;
}

describe('leases: kinesis', () => {
  const opened: Broker[] = [];
  let member: ChildProcess | undefined;
  afterAll(async () => {
    member?.kill('SIGKILL');
    await Promise.all(opened.map((bus) => bus.close()));
  });

  it('splits shards between two members, fails over from a killed one with nothing lost, rebalances to a third', async () => {
    const stream = `leases-${randomUUID().slice(0, 8)}`;
    const group = 'workers';
    const table = `polybus.${group}.${stream}`;
    const producerBus = await open();
    opened.push(producerBus);
    const producer = producerBus.producer<Value>();

    // Member A in a child process, then member B here: two members, two shards each.
    const a = spawnMember(stream, group);
    member = a.child;
    await a.ready;
    const aPid = String(a.child.pid);
    const bBus = await open();
    opened.push(bBus);
    const handledB: Array<Message<Value>> = [];
    await bBus.consumer<Value>({ topic: stream, group, from: 'earliest', concurrency: 4 }).run((m) => {
      handledB.push(m);
    });
    const bPid = String(process.pid);
    await until(
      'an even split',
      async () => {
        const split = await shardsByPid(table);
        return split.get(aPid)?.length === 2 && split.get(bPid)?.length === 2;
      },
      4 * FAILOVER_MS,
    );
    const aShards = (await shardsByPid(table)).get(aPid) ?? [];

    // Messages flow to both; A is killed halfway, without closing.
    const sendBatch = async (from: number, count: number) => {
      for (let start = from; start < from + count; start += 100) {
        await producer.send(
          stream,
          Array.from({ length: Math.min(100, from + count - start) }, (_, i) => ({
            key: `k${(start + i) % 97}`,
            value: { n: start + i },
          })),
        );
      }
    };
    await sendBatch(0, FIRST / 2);
    // A has done work and checkpointed it on both its shards; then it dies in the middle of more.
    await until(
      'A handling and checkpointing',
      async () =>
        a.handled.length >= 200 &&
        (await leases(table)).filter((row) => aShards.includes(row.shard) && /^\d+$/.test(row.checkpoint)).length ===
          aShards.length,
      20_000,
    );
    const secondHalf = sendBatch(FIRST / 2, FIRST / 2);
    const handledBeforeSecondHalf = a.handled.length;
    await until('A handling the second half', () => a.handled.length > handledBeforeSecondHalf, 20_000);
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const checkpointsAtKill = new Map(
      (await leases(table)).filter((row) => aShards.includes(row.shard)).map((row) => [row.shard, row.checkpoint]),
    );
    await secondHalf;
    await until(
      'B holding all four shards',
      async () => (await shardsByPid(table)).get(bPid)?.length === SHARDS,
      4 * FAILOVER_MS + 10_000,
    );
    const takeoverMs = Date.now() - killedAt;
    const handledByA = a.handled.map((line) => JSON.parse(line) as { id: string; n: number });
    const seen = () => new Set([...handledByA.map((m) => m.n), ...handledB.map((m) => m.value.n)]);
    await until(`all ${FIRST} messages handled`, () => seen().size >= FIRST, 30_000);
    const all = seen();
    const lost = Array.from({ length: FIRST }, (_, n) => n).filter((n) => !all.has(n));
    const duplicates = handledByA.length + handledB.length - all.size;
    console.log(
      `leases: A handled ${handledByA.length} before SIGKILL, B ${handledB.length}; takeover ${takeoverMs} ms after the kill (failoverTimeMs ${FAILOVER_MS}); lost ${lost.length}, duplicates ${duplicates}`,
    );
    expect(lost).toEqual([]);
    // Not before the leases could have expired: A renewed at most a third of the failover time before the kill.
    expect(takeoverMs).toBeGreaterThanOrEqual((2 * FAILOVER_MS) / 3);
    // B read A's shards from their last checkpoints: nothing at or below them again.
    for (const shard of aShards) {
      const checkpoint = checkpointsAtKill.get(shard) ?? '';
      if (!/^\d+$/.test(checkpoint)) continue;
      const again = handledB.filter(
        (m) => m.id.startsWith(`${shard}-`) && BigInt(m.id.slice(shard.length + 1)) <= BigInt(checkpoint),
      );
      expect(again).toEqual([]);
    }
    // Duplicates are only what A did after its last checkpoint.
    expect(duplicates).toBeLessThan(handledByA.length);
    // B went on with A's shards.
    expect(handledB.filter((m) => m.id.startsWith(`${aShards[0]}-`)).length).toBeGreaterThan(0);

    // A third member joins: the shards rebalance (B keeps two, C takes two), and both work.
    const cBus = await open();
    opened.push(cBus);
    const handledC: Array<Message<Value>> = [];
    const before = handledB.length;
    const joinedAt = Date.now();
    await cBus.consumer<Value>({ topic: stream, group, from: 'earliest', concurrency: 4 }).run((m) => {
      handledC.push(m);
    });
    await until(
      'a 2/2 split between B and C',
      async () => {
        const split = [...(await shardsByOwner(table)).values()];
        return split.length === 2 && split.every((shards) => shards.length === 2);
      },
      4 * FAILOVER_MS,
    );
    // Two owners (B and C, both in this process), two shards each.
    const rebalanceMs = Date.now() - joinedAt;
    await sendBatch(FIRST, LATER);
    await until(
      `the ${LATER} later messages handled`,
      () => {
        const later = new Set([...handledB.slice(before), ...handledC].map((m) => m.value.n).filter((n) => n >= FIRST));
        return later.size >= LATER;
      },
      30_000,
    );
    console.log(
      `leases: rebalanced to a third member in ${rebalanceMs} ms; B handled ${handledB.length - before} and C ${handledC.length} of the later messages`,
    );
    expect(handledC.filter((m) => m.value.n >= FIRST).length).toBeGreaterThan(0);
    expect(handledB.slice(before).filter((m) => m.value.n >= FIRST).length).toBeGreaterThan(0);
  }, 120_000);
});
