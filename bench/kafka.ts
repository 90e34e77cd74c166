/**
 * Kafka: polybus against raw kafkajs on the same broker, in one run, variants taking turns (best
 * of BENCH_ROUNDS rounds):
 *  - batched publish: BENCH_MESSAGES × 100 B keyed messages in batches of 1,000 on a 3-partition
 *    topic, each batch awaited (raw: producer.send({ topic, messages }));
 *  - consume: those messages, read by a new group from the beginning, handled with concurrency 16
 *    (raw: eachBatch, an async no-op per message with 16 in flight, offsets resolved and committed
 *    as kafkajs does by default); timed from the first message handled to the last;
 *  - awaited single sends: BENCH_SINGLE sends one after another, mean latency.
 * Both producers are configured alike (idempotent, acks -1, one request in flight, the Java-compatible
 * partitioner), so the figures compare the same guarantees. Prints a table, then one JSON line.
 *
 *   npx tsx bench/kafka.ts        (or npm run bench -- kafka, which builds first and measures dist/)
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type * as Kafkajs from 'kafkajs';
import type * as KafkaModule from '../adapters/kafka/index.js';
import { up } from '../integration/emulators/index.js';
import { endpoint } from '../integration/env.js';
import type * as Polybus from '../src/index.js';

// Measure the built package (dist/, what users install) when it is there; TypeScript transpiled
// on the fly runs slower and would not be a fair match for kafkajs's plain JavaScript.
const distDir = process.env.BENCH_DIST ?? 'dist';
const built = existsSync(new URL(`../${distDir}/adapters/kafka/index.js`, import.meta.url));
const from = (path: string): string => new URL(`../${built ? `${distDir}/` : ''}${path}`, import.meta.url).href;
const { connect, bytes } = (await import(from(`src/index.${built ? 'js' : 'ts'}`))) as typeof Polybus;
const _kafkaAdapter = (await import(from(`adapters/kafka/index.${built ? 'js' : 'ts'}`))) as typeof KafkaModule;
const kafkajs = ((await import('kafkajs')) as unknown as { default: typeof Kafkajs }).default;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const BATCH = 1_000;
const SINGLE = Number(process.env.BENCH_SINGLE ?? 2_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
/** polybus's prefetch (unsettled messages at most); unset = its default for concurrency 16 (32). */
const PREFETCH = process.env.BENCH_PREFETCH === undefined ? undefined : Number(process.env.BENCH_PREFETCH);
const PARTITIONS = 3;
const KEYS = 64;
const payload = Buffer.alloc(100, 7);

await up(['kafka']);
const brokers = endpoint('KAFKA_BROKERS').split(',');
const run = randomUUID().slice(0, 8);
const kafka = new kafkajs.Kafka({ clientId: 'bench-raw', brokers, logLevel: kafkajs.logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const rawProducer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
});
await rawProducer.connect();

const bus = await connect(`kafka://${brokers.join(',')}?clientId=bench-polybus&partitions=${PARTITIONS}`);
const producer = bus.producer<Uint8Array>({ codec: bytes() });

const keyOf = (i: number): string => `k${i % KEYS}`;
const batchOf = (start: number) => Array.from({ length: BATCH }, (_, i) => ({ key: keyOf(start + i), value: payload }));
const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

async function createTopic(topic: string): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
}

async function rawPublish(topic: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    await rawProducer.send({ topic, acks: -1, messages: batchOf(sent) });
  }
  return MESSAGES / seconds(started);
}

async function polybusPublish(topic: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) await producer.send(topic, batchOf(sent));
  return MESSAGES / seconds(started);
}

/** Runs `handle` on each item with up to `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, handle: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await handle(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const noop = async (): Promise<void> => {};

async function rawConsume(topic: string): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-raw-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let handled = 0;
  let started = 0n;
  let finish: (rate: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  await consumer.run({
    partitionsConsumedConcurrently: PARTITIONS,
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (started === 0n) started = process.hrtime.bigint();
      await pool(batch.messages, CONCURRENCY, async () => {
        await noop();
        if (++handled === MESSAGES) finish(MESSAGES / seconds(started));
      });
      resolveOffset(batch.lastOffset());
      await heartbeat();
    },
  });
  const rate = await finished;
  await consumer.disconnect();
  return rate;
}

async function polybusConsume(topic: string): Promise<number> {
  const consumerBus = await connect(`kafka://${brokers.join(',')}?clientId=bench-polybus-consumer`);
  const consumer = consumerBus.consumer<Uint8Array>({
    topic,
    group: `bench-polybus-${randomUUID()}`,
    concurrency: CONCURRENCY,
    ...(PREFETCH === undefined ? {} : { prefetch: PREFETCH }),
    from: 'earliest',
    codec: bytes(),
  });
  let handled = 0;
  let started = 0n;
  let finish: (rate: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  await consumer.run(async () => {
    if (started === 0n) started = process.hrtime.bigint();
    if (++handled === MESSAGES) finish(MESSAGES / seconds(started));
  });
  const rate = await finished;
  await consumerBus.close();
  return rate;
}

async function rawSingle(topic: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < SINGLE; i++) {
    await rawProducer.send({ topic, acks: -1, messages: [{ key: keyOf(i), value: payload }] });
  }
  return (seconds(started) * 1e6) / SINGLE;
}

async function polybusSingle(topic: string): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < SINGLE; i++) await producer.send(topic, { key: keyOf(i), value: payload });
  return (seconds(started) * 1e6) / SINGLE;
}

const best = {
  rawPublish: 0,
  polyPublish: 0,
  rawConsume: 0,
  polyConsume: 0,
  rawSingle: Infinity,
  polySingle: Infinity,
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

process.stdout.write(
  `kafka bench: ${MESSAGES} × ${payload.length} B in batches of ${BATCH}, ${PARTITIONS} partitions, ` +
    `consume concurrency ${CONCURRENCY}${PREFETCH === undefined ? '' : ` (polybus prefetch ${PREFETCH})`}, ${SINGLE} single sends, ${ROUNDS} rounds, polybus from ${built ? distDir : 'TypeScript sources'}\n`,
);
// A short warm-up of both paths (connections, metadata, JIT), not measured.
{
  const warm = `bench-warm-${run}`;
  await createTopic(warm);
  await rawProducer.send({ topic: warm, messages: batchOf(0) });
  await producer.send(warm, batchOf(0));
}
for (let round = 1; round <= ROUNDS; round++) {
  const rawTopic = `bench-raw-${run}-${round}`;
  const polyTopic = `bench-polybus-${run}-${round}`;
  const rawSingleTopic = `bench-raw-single-${run}-${round}`;
  const polySingleTopic = `bench-polybus-single-${run}-${round}`;
  for (const topic of [rawTopic, polyTopic, rawSingleTopic, polySingleTopic]) await createTopic(topic);
  // Take turns: who goes first alternates by round.
  const rawFirst = round % 2 === 1;
  const results: Record<string, number> = {};
  const pair = async (name: string, raw: () => Promise<number>, poly: () => Promise<number>): Promise<void> => {
    if (rawFirst) {
      results[`raw ${name}`] = await raw();
      results[`polybus ${name}`] = await poly();
    } else {
      results[`polybus ${name}`] = await poly();
      results[`raw ${name}`] = await raw();
    }
  };
  await pair(
    'publish',
    () => rawPublish(rawTopic),
    () => polybusPublish(polyTopic),
  );
  await pair(
    'consume',
    () => rawConsume(rawTopic),
    () => polybusConsume(polyTopic),
  );
  await pair(
    'single',
    () => rawSingle(rawSingleTopic),
    () => polybusSingle(polySingleTopic),
  );
  best.rawPublish = Math.max(best.rawPublish, results['raw publish'] ?? 0);
  best.polyPublish = Math.max(best.polyPublish, results['polybus publish'] ?? 0);
  best.rawConsume = Math.max(best.rawConsume, results['raw consume'] ?? 0);
  best.polyConsume = Math.max(best.polyConsume, results['polybus consume'] ?? 0);
  best.rawSingle = Math.min(best.rawSingle, results['raw single'] ?? Infinity);
  best.polySingle = Math.min(best.polySingle, results['polybus single'] ?? Infinity);
  process.stdout.write(
    `round ${round}: publish raw ${fmt(results['raw publish'] ?? 0)} / polybus ${fmt(results['polybus publish'] ?? 0)} msg/s; ` +
      `consume raw ${fmt(results['raw consume'] ?? 0)} / polybus ${fmt(results['polybus consume'] ?? 0)} msg/s; ` +
      `single raw ${fmt(results['raw single'] ?? 0)} / polybus ${fmt(results['polybus single'] ?? 0)} µs\n`,
  );
}

await bus.close();
await rawProducer.disconnect();
await admin.disconnect();

const ratio = (n: number): number => Math.round(n * 100) / 100;
const line = {
  broker: 'kafka',
  raw_publish_msgs_per_s: Math.round(best.rawPublish),
  polybus_publish_msgs_per_s: Math.round(best.polyPublish),
  publish_ratio: ratio(best.polyPublish / best.rawPublish),
  raw_consume_msgs_per_s: Math.round(best.rawConsume),
  polybus_consume_msgs_per_s: Math.round(best.polyConsume),
  consume_ratio: ratio(best.polyConsume / best.rawConsume),
  raw_single_send_us: Math.round(best.rawSingle),
  polybus_single_send_us: Math.round(best.polySingle),
  single_send_ratio: ratio(best.rawSingle / best.polySingle),
};
process.stdout.write(
  `\n| | raw kafkajs | polybus | ratio |\n|---|---:|---:|---:|\n` +
    `| publish (msg/s) | ${fmt(line.raw_publish_msgs_per_s)} | ${fmt(line.polybus_publish_msgs_per_s)} | ${line.publish_ratio} |\n` +
    `| consume (msg/s) | ${fmt(line.raw_consume_msgs_per_s)} | ${fmt(line.polybus_consume_msgs_per_s)} | ${line.consume_ratio} |\n` +
    `| single send (µs) | ${fmt(line.raw_single_send_us)} | ${fmt(line.polybus_single_send_us)} | ${line.single_send_ratio} |\n\n`,
);
process.stdout.write(`${JSON.stringify(line)}\n`);
