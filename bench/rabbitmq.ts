/**
 * RabbitMQ: polybus against raw amqplib on the same broker, in one run, variants taking turns
 * (best of BENCH_ROUNDS rounds):
 *  - batched publish: BENCH_MESSAGES × 100 B in windows of 1,000, each window awaited
 *    (raw: a confirm channel, publish + waitForConfirms; polybus: producer.send(topic, window));
 *  - consume: the same number of 100 B messages waiting in the queue, handled with concurrency
 *    16 (raw: one consumer with the same prefetch as polybus's channel, ack after an async no-op);
 *  - awaited single sends: BENCH_SINGLE sends one after another, mean latency.
 * Both sides use a quorum queue with the same arguments, persistent messages with a message id
 * and a key header, bound to the same direct exchange. Prints a table, then one JSON line.
 *
 *   npx tsx bench/rabbitmq.ts        (or npm run bench -- rabbitmq, which builds first)
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type amqplib from 'amqplib';
import type * as RabbitModule from '../adapters/rabbitmq/index.js';
import { up } from '../integration/emulators/index.js';
import { endpoint } from '../integration/env.js';
import type * as Polybus from '../src/index.js';

// Measure the built package (dist/, what users install) when it is there; TypeScript transpiled
// on the fly runs slower and would not be a fair match for amqplib's plain JavaScript.
// BENCH_DIST points at another build directory (relative to the repository root).
const distDir = process.env.BENCH_DIST ?? 'dist';
const built = existsSync(new URL(`../${distDir}/adapters/rabbitmq/index.js`, import.meta.url));
const from = (path: string): string => new URL(`../${built ? `${distDir}/` : ''}${path}`, import.meta.url).href;
const { connect, bytes } = (await import(from(`src/index.${built ? 'js' : 'ts'}`))) as typeof Polybus;
const rabbit = (await import(from(`adapters/rabbitmq/index.${built ? 'js' : 'ts'}`))) as typeof RabbitModule;
const amqp = ((await import('amqplib')) as unknown as { default: typeof amqplib }).default;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000);
const WINDOW = 1_000;
const SINGLE = Number(process.env.BENCH_SINGLE ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
/** polybus's default prefetch for concurrency 16 is 32; its channel prefetch is twice that. */
const PREFETCH = 32;
const CHANNEL_PREFETCH = 2 * PREFETCH;
const payload = Buffer.alloc(100, 7);
const KEYS = 64;

await up(['rabbitmq']);
const url = endpoint('AMQP_URL');
const run = randomUUID().slice(0, 8);
const rawTopic = `bench-raw-${run}`;
const polyTopic = `bench-polybus-${run}`;
const group = 'g';
const rawQueue = rabbit.queueName(rawTopic, group);
const polyQueue = rabbit.queueName(polyTopic, group);
const queueArguments = { 'x-queue-type': 'quorum', 'x-delivery-limit': rabbit.RABBITMQ_DEFAULTS.deliveryLimit };

const rawConnection = await amqp.connect(url);
const admin = await rawConnection.createConfirmChannel();
await admin.assertExchange('polybus', 'direct', { durable: true });
for (const [queue, topic] of [
  [rawQueue, rawTopic],
  [polyQueue, polyTopic],
] as const) {
  await admin.assertQueue(queue, { durable: true, arguments: queueArguments });
  await admin.bindQueue(queue, 'polybus', topic);
}

const bus = await connect(url);
const producer = bus.producer<Uint8Array>({ codec: bytes() });
const windowOf = (start: number) =>
  Array.from({ length: WINDOW }, (_, i) => ({ key: `k${(start + i) % KEYS}`, value: payload }));

const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

async function rawPublish(channel: amqplib.ConfirmChannel, topic: string, count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += WINDOW) {
    for (let i = 0; i < WINDOW; i++) {
      const ok = channel.publish('polybus', topic, payload, {
        persistent: true,
        messageId: randomUUID(),
        headers: { 'polybus.key': `k${(sent + i) % KEYS}` },
      });
      if (!ok) await new Promise((resolve) => channel.once('drain', resolve));
    }
    await channel.waitForConfirms();
  }
}

async function purge(): Promise<void> {
  await admin.purgeQueue(rawQueue);
  await admin.purgeQueue(polyQueue);
}

const variants: Record<string, () => Promise<number>> = {
  async raw_publish() {
    const channel = await rawConnection.createConfirmChannel();
    const started = process.hrtime.bigint();
    await rawPublish(channel, rawTopic, MESSAGES);
    const took = seconds(started);
    await channel.close();
    await purge();
    return MESSAGES / took;
  },
  async polybus_publish() {
    const started = process.hrtime.bigint();
    for (let sent = 0; sent < MESSAGES; sent += WINDOW) await producer.send(polyTopic, windowOf(sent));
    const took = seconds(started);
    await purge();
    return MESSAGES / took;
  },
  async raw_consume() {
    await rawPublish(admin, rawTopic, MESSAGES);
    const started = process.hrtime.bigint();
    const channel = await rawConnection.createChannel();
    await channel.prefetch(CHANNEL_PREFETCH);
    let handled = 0;
    const handler = async (_message: amqplib.ConsumeMessage): Promise<void> => {};
    await new Promise<void>((resolve) => {
      void channel.consume(rawQueue, (message) => {
        if (message === null) return;
        void handler(message).then(() => {
          channel.ack(message);
          if (++handled === MESSAGES) resolve();
        });
      });
    });
    const took = seconds(started);
    await channel.close();
    return MESSAGES / took;
  },
  async polybus_consume() {
    await rawPublish(admin, polyTopic, MESSAGES);
    const started = process.hrtime.bigint();
    const consumer = bus.consumer<Uint8Array>({
      topic: polyTopic,
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
      if (++handled === MESSAGES) done();
    });
    await finished;
    const took = seconds(started);
    await consumer.close();
    return MESSAGES / took;
  },
  async raw_single_send() {
    const channel = await rawConnection.createConfirmChannel();
    const started = process.hrtime.bigint();
    for (let i = 0; i < SINGLE; i++) {
      await new Promise<void>((resolve, reject) => {
        channel.publish(
          'polybus',
          rawTopic,
          payload,
          { persistent: true, messageId: randomUUID(), headers: { 'polybus.key': `k${i % KEYS}` } },
          (error) => (error ? reject(error) : resolve()),
        );
      });
    }
    const took = seconds(started);
    await channel.close();
    await purge();
    // Lower is better: reported as microseconds; "best" keeps the smallest, so return it negated.
    return -(took / SINGLE) * 1e6;
  },
  async polybus_single_send() {
    const started = process.hrtime.bigint();
    for (let i = 0; i < SINGLE; i++) await producer.send(polyTopic, { key: `k${i % KEYS}`, value: payload });
    const took = seconds(started);
    await purge();
    return -(took / SINGLE) * 1e6;
  },
};

// Warm up both sides (JIT, channels, queues) on a smaller run.
await rawPublish(admin, rawTopic, 2_000);
for (let sent = 0; sent < 2_000; sent += WINDOW) await producer.send(polyTopic, windowOf(sent));
await purge();

const best: Record<string, number> = {};
/** This process's CPU time per message of each variant (best round): where the client's time goes. */
const cpu: Record<string, number> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, measure] of Object.entries(variants)) {
    const before = process.cpuUsage();
    const value = await measure();
    const used = process.cpuUsage(before);
    const count = name.endsWith('single_send') ? SINGLE : MESSAGES;
    const perMessage = (used.user + used.system) / count;
    cpu[name] = Math.min(cpu[name] ?? Number.POSITIVE_INFINITY, perMessage);
    best[name] = Math.max(best[name] ?? Number.NEGATIVE_INFINITY, value);
  }
}

await bus.close();
await admin.deleteQueue(rawQueue);
await admin.deleteQueue(polyQueue);
await rawConnection.close();

const round2 = (value: number): number => Math.round(value * 100) / 100;
const result = {
  broker: 'rabbitmq',
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
console.log(`RabbitMQ ${built ? '(dist)' : '(sources via tsx)'}: ${MESSAGES} × 100 B, best of ${ROUNDS} rounds`);
console.log(
  `  publish (windows of ${WINDOW}):  raw ${result.raw_publish_msgs_per_s} msg/s   polybus ${result.polybus_publish_msgs_per_s} msg/s   ratio ${result.publish_ratio}`,
);
console.log(
  `  consume (concurrency ${CONCURRENCY}):  raw ${result.raw_consume_msgs_per_s} msg/s   polybus ${result.polybus_consume_msgs_per_s} msg/s   ratio ${result.consume_ratio}`,
);
console.log(
  `  single send (${SINGLE} awaited):  raw ${result.raw_single_send_us} µs   polybus ${result.polybus_single_send_us} µs   ratio ${result.single_send_ratio}`,
);
console.log(
  `  client CPU per message (µs, incl. setup and purge): ${Object.entries(cpu)
    .map(([name, us]) => `${name} ${us.toFixed(1)}`)
    .join(', ')}`,
);
console.log(JSON.stringify(result));
