/**
 * Pub/Sub: polybus against the raw `@google-cloud/pubsub` client on the same emulator (pstest),
 * in one run, variants taking turns (best of BENCH_ROUNDS rounds):
 *  - batched publish: BENCH_MESSAGES × 100 B with 64 ordering keys, all in flight at once
 *    (raw: publishMessage per message, then await all; polybus: one producer.send(topic, batch));
 *  - consume: BENCH_CONSUME messages of 100 B waiting in the subscription, handled with
 *    concurrency 16 (raw: the same flow control as polybus's prefetch of 32, ack after an async
 *    no-op);
 *  - awaited single sends: BENCH_SINGLE sends one after another, mean latency.
 * Both sides use the same client settings: message ordering on, publish batching of 100
 * messages / 10 ms, ack batching of 10 ms, subscriptions created with message ordering. Prints
 * a table, then one JSON line.
 *
 *   npx tsx bench/pubsub.ts        (or npm run bench -- pubsub, which builds first)
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { PubSub, Message as RawMessage, Topic } from '@google-cloud/pubsub';
import type * as PubSubAdapterModule from '../adapters/pubsub/index.js';
import { up } from '../integration/emulators/index.js';
import { endpoint } from '../integration/env.js';
import type * as Polybus from '../src/index.js';

// Measure the built package (dist/, what users install) when it is there; TypeScript transpiled
// on the fly runs slower and would not be a fair match for the client's plain JavaScript.
// BENCH_DIST points at another build directory (relative to the repository root).
const distDir = process.env.BENCH_DIST ?? 'dist';
const built = existsSync(new URL(`../${distDir}/adapters/pubsub/index.js`, import.meta.url));
const from = (path: string): string => new URL(`../${built ? `${distDir}/` : ''}${path}`, import.meta.url).href;
const { connect, bytes } = (await import(from(`src/index.${built ? 'js' : 'ts'}`))) as typeof Polybus;
const adapter = (await import(from(`adapters/pubsub/index.${built ? 'js' : 'ts'}`))) as typeof PubSubAdapterModule;
const { PubSub: PubSubClient, Duration } = await import('@google-cloud/pubsub');

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const CONSUME = Number(process.env.BENCH_CONSUME ?? 3_000);
const SINGLE = Number(process.env.BENCH_SINGLE ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
/** polybus's default prefetch for concurrency 16; the raw subscriber gets the same flow control. */
const PREFETCH = 32;
const KEYS = 64;
const payload = Buffer.alloc(100, 7);
const defaults = adapter.PUBSUB_DEFAULTS;

await up(['pubsub']);
const projectId = endpoint('PUBSUB_PROJECT_ID');
const emulatorHost = endpoint('PUBSUB_EMULATOR_HOST');
const run = randomUUID().slice(0, 8);
const group = 'g';

// The same client settings as the adapter's (see adapters/pubsub/index.ts).
const raw: PubSub = new PubSubClient({
  projectId,
  apiEndpoint: emulatorHost,
  emulatorMode: true,
  universeDomain: 'googleapis.com',
});
const publishOptions = {
  messageOrdering: true,
  batching: { maxMessages: defaults.batching.maxMessages, maxMilliseconds: defaults.batching.maxMilliseconds },
  gaxOpts: { timeout: defaults.sendTimeoutMs },
};
const subscriberOptions = {
  flowControl: { maxMessages: PREFETCH, allowExcessMessages: false },
  batching: { maxMessages: defaults.ackBatching.maxMessages, maxMilliseconds: defaults.ackBatching.maxMilliseconds },
  minAckDeadline: Duration.from({ seconds: defaults.ackDeadlineSeconds }),
  maxAckDeadline: Duration.from({ seconds: 600 }),
  maxExtensionTime: Duration.from({ minutes: 60 }),
  closeOptions: { behavior: 'NACK' as const, timeout: Duration.from({ seconds: 10 }) },
};

const bus = await connect(`pubsub://${projectId}?emulatorHost=${emulatorHost}`);
const producer = bus.producer<Uint8Array>({ codec: bytes() });
const batchOf = (count: number) => Array.from({ length: count }, (_, i) => ({ key: `k${i % KEYS}`, value: payload }));
const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

let topics = 0;
/** A fresh topic (and, for consuming, its group subscription made as the adapter makes it). */
async function freshTopic(label: string, withSubscription: boolean): Promise<{ name: string; topic: Topic }> {
  const name = `bench-${label}-${run}-${++topics}`;
  const [created] = await raw.createTopic(name);
  if (withSubscription) {
    await created.createSubscription(adapter.subscriptionName('', name, group), {
      enableMessageOrdering: true,
      ackDeadlineSeconds: defaults.ackDeadlineSeconds,
    });
  }
  return { name, topic: raw.topic(name, publishOptions) };
}

async function rawPublish(topic: Topic, count: number): Promise<void> {
  const pending: Promise<string>[] = new Array(count);
  for (let i = 0; i < count; i++) pending[i] = topic.publishMessage({ data: payload, orderingKey: `k${i % KEYS}` });
  await Promise.all(pending);
}

// Publishing goes to one topic per side for the whole run, as an application's would: the
// adapter creates (or finds) a topic once, on first use, which the warm-up below does.
const rawTarget = await freshTopic('raw', false);
const polyTarget = await freshTopic('polybus', false);

const variants: Record<string, () => Promise<number>> = {
  async raw_publish() {
    const { topic } = rawTarget;
    const started = process.hrtime.bigint();
    await rawPublish(topic, MESSAGES);
    return MESSAGES / seconds(started);
  },
  async polybus_publish() {
    const { name } = polyTarget;
    const batch = batchOf(MESSAGES);
    const started = process.hrtime.bigint();
    await producer.send(name, batch);
    return MESSAGES / seconds(started);
  },
  async raw_consume() {
    const { name, topic } = await freshTopic('raw', true);
    await rawPublish(topic, CONSUME);
    const started = process.hrtime.bigint();
    const subscription = raw.subscription(adapter.subscriptionName('', name, group), subscriberOptions);
    let handled = 0;
    const handler = async (_message: RawMessage): Promise<void> => {};
    await new Promise<void>((resolve) => {
      subscription.on('message', (message: RawMessage) => {
        void handler(message).then(() => {
          message.ack();
          if (++handled === CONSUME) resolve();
        });
      });
    });
    const took = seconds(started);
    await subscription.close();
    return CONSUME / took;
  },
  async polybus_consume() {
    const { name, topic } = await freshTopic('polybus', true);
    await rawPublish(topic, CONSUME);
    const started = process.hrtime.bigint();
    const consumer = bus.consumer<Uint8Array>({
      topic: name,
      group,
      concurrency: CONCURRENCY,
      prefetch: PREFETCH,
      codec: bytes(),
    });
    let handled = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run(async () => {
      if (++handled === CONSUME) done();
    });
    await finished;
    const took = seconds(started);
    await consumer.close();
    return CONSUME / took;
  },
  async raw_single_send() {
    const { topic } = rawTarget;
    const started = process.hrtime.bigint();
    for (let i = 0; i < SINGLE; i++) await topic.publishMessage({ data: payload, orderingKey: `k${i % KEYS}` });
    // Lower is better: reported as microseconds; "best" keeps the largest, so return it negated.
    return -(seconds(started) / SINGLE) * 1e6;
  },
  async polybus_single_send() {
    const { name } = polyTarget;
    const started = process.hrtime.bigint();
    for (let i = 0; i < SINGLE; i++) await producer.send(name, { key: `k${i % KEYS}`, value: payload });
    return -(seconds(started) / SINGLE) * 1e6;
  },
};

// Warm up both sides (JIT, channels, topic creation) on a smaller run.
await rawPublish(rawTarget.topic, 2_000);
await producer.send(polyTarget.name, batchOf(2_000));

const best: Record<string, number> = {};
/** This process's CPU time per message of each variant (best round): where the client's time goes. */
const cpu: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  // Raw and polybus take turns, and which goes first alternates: pstest keeps every message it
  // was sent, so whatever runs later in a round runs against a fuller emulator.
  for (const kind of ['publish', 'consume', 'single_send']) {
    const pair = [`raw_${kind}`, `polybus_${kind}`];
    if (round % 2 === 1) pair.reverse();
    for (const name of pair) {
      const measure = variants[name] as () => Promise<number>;
      const before = process.cpuUsage();
      const value = await measure();
      const used = process.cpuUsage(before);
      const count = kind === 'single_send' ? SINGLE : kind === 'consume' ? CONSUME * 2 : MESSAGES;
      cpu[name] = Math.min(cpu[name] ?? Number.POSITIVE_INFINITY, (used.user + used.system) / count);
      best[name] = Math.max(best[name] ?? Number.NEGATIVE_INFINITY, value);
    }
  }
}

await bus.close();
await raw.close();

const round2 = (value: number): number => Math.round(value * 100) / 100;
const result = {
  broker: 'pubsub',
  raw_publish_msgs_per_s: Math.round(best.raw_publish as number),
  polybus_publish_msgs_per_s: Math.round(best.polybus_publish as number),
  publish_ratio: round2((best.polybus_publish as number) / (best.raw_publish as number)),
  raw_consume_msgs_per_s: Math.round(best.raw_consume as number),
  polybus_consume_msgs_per_s: Math.round(best.polybus_consume as number),
  consume_ratio: round2((best.polybus_consume as number) / (best.raw_consume as number)),
  raw_single_send_us: Math.round(-(best.raw_single_send as number)),
  polybus_single_send_us: Math.round(-(best.polybus_single_send as number)),
  single_send_ratio: round2((best.raw_single_send as number) / (best.polybus_single_send as number)),
};
console.log(
  `Pub/Sub on pstest ${built ? '(dist)' : '(sources via tsx)'}: ${MESSAGES} × 100 B publish, ${CONSUME} consume, ${KEYS} keys, best of ${ROUNDS} rounds`,
);
console.log(
  `  publish (all in flight):  raw ${result.raw_publish_msgs_per_s} msg/s   polybus ${result.polybus_publish_msgs_per_s} msg/s   ratio ${result.publish_ratio}`,
);
console.log(
  `  consume (concurrency ${CONCURRENCY}, prefetch ${PREFETCH}):  raw ${result.raw_consume_msgs_per_s} msg/s   polybus ${result.polybus_consume_msgs_per_s} msg/s   ratio ${result.consume_ratio}`,
);
console.log(
  `  single send (${SINGLE} awaited):  raw ${result.raw_single_send_us} µs   polybus ${result.polybus_single_send_us} µs   ratio ${result.single_send_ratio}`,
);
console.log(
  `  client CPU per message (µs; consume includes loading the subscription): ${Object.entries(cpu)
    .map(([name, us]) => `${name} ${us.toFixed(1)}`)
    .join(', ')}`,
);
console.log(JSON.stringify(result));
