/**
 * Kinesis: polybus against the raw AWS SDK loop, on the same kinesalite, in the same run. The
 * variants take turns, each figure is the best of BENCH_ROUNDS rounds:
 *  - batched publish: 20,000 × 100 B, keyed (raw: PutRecords calls of 500 one after another;
 *    polybus: one send() of all of them, which the producer splits into PutRecords of 500);
 *  - consume: the same 20,000 records from a 4-shard stream (raw: GetRecords of up to 10,000 per
 *    shard, all shards at once, counting records; polybus: a new group from `earliest`,
 *    concurrency 16, a handler that counts; its lease table exists, the lease taking is timed);
 *  - awaited single sends: 500 sends one after another (raw: PutRecords of one record).
 * Prints progress to stderr and ONE JSON line to stdout at the end.
 *
 *   npx tsx bench/kinesis.ts          (starts the Kinesis emulator if it is not running)
 *
 * polybus is loaded from dist/ when it has been built there (`npm run build`), otherwise from the
 * TypeScript sources; BENCH_DIST=<dir in the repo> or BENCH_DIST_DIR=<absolute dir> point at another build.
 */
import { existsSync } from 'node:fs';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { up } from '../integration/emulators/index.js';
import { dynamoClient, kinesisClient } from '../integration/emulators/kinesis.js';
import type * as BrokerModule from '../src/broker.js';
import type * as BytesModule from '../src/codecs/bytes.js';
import type * as UrlModule from '../src/url.js';
import type { KinesisConfig } from '../src/url.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const SIZE = 100;
const SINGLE = Number(process.env.BENCH_SINGLE ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
const KEYS = 100;
const CHUNK = 500;

const distDir =
  process.env.BENCH_DIST_DIR ?? new URL(`../${process.env.BENCH_DIST ?? 'dist'}`, import.meta.url).pathname;
const fromDist = existsSync(`${distDir}/adapters/kinesis/index.js`) && existsSync(`${distDir}/src/broker.js`);
const load = async <M>(path: string): Promise<M> =>
  (await import(fromDist ? `${distDir}/${path}.js` : `../${path}.js`)) as M;
const { connect } = await load<typeof BrokerModule>('src/broker');
const { parseBrokerUrl } = await load<typeof UrlModule>('src/url');
const say = (line: string): void => {
  process.stderr.write(`[bench:kinesis] ${line}\n`);
};
say(`polybus from ${fromDist ? distDir : 'the TypeScript sources (tsx)'}`);

await up(['kinesis']);
const KINESIS = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:4567';
const DYNAMODB = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:4568';
const raw = kinesisClient(KINESIS);
const dynamo = dynamoClient(DYNAMODB);
const { bytes: bytesCodec } = await load<typeof BytesModule>('src/codecs/bytes');
const bytes = bytesCodec();

const bus = await connect({
  ...parseBrokerUrl(`kinesis://us-east-1?endpoint=${KINESIS}&shards=2&accessKeyId=local&secretAccessKey=local`),
  dynamoEndpoint: DYNAMODB,
  pollIntervalMs: 200,
  failoverTimeMs: 10_000,
} as KinesisConfig);
const producer = bus.producer<Uint8Array>({ codec: bytes });
const run = `${Date.now().toString(36)}`;
let streams = 0;
const payload = new Uint8Array(SIZE).fill(120);
const messages = Array.from({ length: MESSAGES }, (_, i) => ({ key: `k${i % KEYS}`, value: payload }));

/** A new 2-shard stream, ACTIVE (created through polybus, which waits for it). */
async function newStream(label: string): Promise<string> {
  const stream = `bench-${run}-${label}-${++streams}`;
  await producer.send(stream, { key: 'warm-up', value: payload });
  return stream;
}

const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

async function rawPublish(): Promise<number> {
  const stream = await newStream('raw-pub');
  const started = process.hrtime.bigint();
  for (let start = 0; start < MESSAGES; start += CHUNK) {
    let records = messages.slice(start, start + CHUNK).map((m) => ({ PartitionKey: m.key, Data: m.value }));
    while (records.length > 0) {
      const output = await raw.send(new PutRecordsCommand({ StreamName: stream, Records: records }));
      records = records.filter((_, i) => output.Records?.[i]?.ErrorCode !== undefined);
    }
  }
  return MESSAGES / seconds(started);
}

async function polybusPublish(): Promise<number> {
  const stream = await newStream('pb-pub');
  const started = process.hrtime.bigint();
  await producer.send(stream, messages);
  return MESSAGES / seconds(started);
}

async function rawSingle(stream: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < SINGLE; i++) {
    await raw.send(
      new PutRecordsCommand({ StreamName: stream, Records: [{ PartitionKey: `k${i % KEYS}`, Data: payload }] }),
    );
  }
  return (seconds(started) * 1e6) / SINGLE;
}

async function polybusSingle(stream: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < SINGLE; i++) await producer.send(stream, { key: `k${i % KEYS}`, value: payload });
  return (seconds(started) * 1e6) / SINGLE;
}

async function rawConsume(stream: string, total: number): Promise<number> {
  const { Shards = [] } = await raw.send(new ListShardsCommand({ StreamName: stream }));
  let count = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Shards.map(async (shard) => {
      let { ShardIterator: iterator } = await raw.send(
        new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }),
      );
      while (iterator !== undefined && count < total) {
        const page = await raw.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        for (const record of page.Records ?? []) if (record.Data !== undefined) count++;
        iterator = page.NextShardIterator;
        if ((page.Records ?? []).length === 0) break;
      }
    }),
  );
  if (count < total) throw new Error(`raw consume read ${count} of ${total}`);
  return total / seconds(started);
}

/** Fastest subscribe seen (lease table read, leases created and taken), for the report. */
let subscribeMs = Number.POSITIVE_INFINITY;

async function polybusConsume(stream: string, total: number, round: number): Promise<number> {
  const group = `g${round}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName: `polybus.${group}.${stream}`,
      AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  let count = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = bus.consumer<Uint8Array>({
    topic: stream,
    group,
    from: 'earliest',
    concurrency: CONCURRENCY,
    codec: bytes,
  });
  const started = process.hrtime.bigint();
  await consumer.run(() => {
    if (++count === total) done();
  });
  subscribeMs = Math.min(subscribeMs, seconds(started) * 1000);
  await finished;
  const rate = total / seconds(started);
  await consumer.close();
  return rate;
}

const best = {
  rawPublish: 0,
  polybusPublish: 0,
  rawConsume: 0,
  polybusConsume: 0,
  rawSingle: Infinity,
  polybusSingle: Infinity,
};
// The consume stream: filled once, read by every round. Four shards keep each under the 10,000
// records one GetRecords call returns, so that neither loop needs a second call (which Kinesis
// allows only 200 ms later: polybus waits for that, this raw loop would not).
const consumeStream = `bench-${run}-consume`;
await raw.send(new CreateStreamCommand({ StreamName: consumeStream, ShardCount: 4 }));
await producer.send(consumeStream, { key: 'warm-up', value: payload });
await producer.send(consumeStream, messages);
const consumeTotal = MESSAGES + 1;
const singleStream = await newStream('single');
// Warm up both paths (connections, JIT) before measuring.
await rawSingle(singleStream);
await polybusSingle(singleStream);

for (let round = 1; round <= ROUNDS; round++) {
  const rawFirst = round % 2 === 1;
  const turns: Array<[keyof typeof best, () => Promise<number>]> = [
    ['rawPublish', rawPublish],
    ['polybusPublish', polybusPublish],
    ['rawConsume', () => rawConsume(consumeStream, consumeTotal)],
    ['polybusConsume', () => polybusConsume(consumeStream, consumeTotal, round)],
    ['rawSingle', () => rawSingle(singleStream)],
    ['polybusSingle', () => polybusSingle(singleStream)],
  ];
  for (let pair = 0; pair < turns.length; pair += 2) {
    const order = rawFirst ? [turns[pair], turns[pair + 1]] : [turns[pair + 1], turns[pair]];
    for (const turn of order) {
      if (turn === undefined) continue;
      const [name, measure] = turn;
      const value = await measure();
      best[name] = name.endsWith('Single') ? Math.min(best[name], value) : Math.max(best[name], value);
      say(
        `round ${round}: ${name} ${name.endsWith('Single') ? `${value.toFixed(0)} µs/send` : `${value.toFixed(0)} msg/s`}`,
      );
    }
  }
}

say(`polybus consume includes subscribing: ${subscribeMs.toFixed(1)} ms at best (lease table and leases)`);
await bus.close();
raw.destroy();
dynamo.destroy();

const ratio = (polybus: number, rawValue: number): number => Math.round((polybus / rawValue) * 100) / 100;
console.log(
  JSON.stringify({
    broker: 'kinesis',
    raw_publish_msgs_per_s: Math.round(best.rawPublish),
    polybus_publish_msgs_per_s: Math.round(best.polybusPublish),
    publish_ratio: ratio(best.polybusPublish, best.rawPublish),
    raw_consume_msgs_per_s: Math.round(best.rawConsume),
    polybus_consume_msgs_per_s: Math.round(best.polybusConsume),
    consume_ratio: ratio(best.polybusConsume, best.rawConsume),
    raw_single_send_us: Math.round(best.rawSingle),
    polybus_single_send_us: Math.round(best.polybusSingle),
    single_send_ratio: ratio(best.rawSingle, best.polybusSingle),
  }),
);
