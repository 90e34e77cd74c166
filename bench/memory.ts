/**
 * memory:// publish → consume throughput, in one run so the figures compare:
 *  - a hand-written in-process async queue with the same concurrency (the machine's floor),
 *  - polybus without middleware (pass-through codec),
 *  - polybus with the default chain: json + retry + tracing (@opentelemetry/api, no SDK).
 * Prints a table and, last, one line of JSON for run-to-run comparison.
 *
 *   npm run bench          (builds first; BENCH_MESSAGES=200000 npm run bench: quicker)
 */
import type * as MemoryModule from '../adapters/memory/index.js';
import type * as Polybus from '../src/index.js';
import type { Codec, MiddlewareInput } from '../src/index.js';

// Measure the built package (dist/, what users install), not TypeScript transpiled on the fly:
// under tsx the same code ran 2.8x slower.
const dist = (path: string): string => new URL(`../dist/${path}`, import.meta.url).href;
const { connect, json, retry, tracing } = (await import(dist('src/index.js'))) as typeof Polybus;
const { resetMemoryBroker } = (await import(dist('adapters/memory/index.js'))) as typeof MemoryModule;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
// V8 sizes its heap and tiers up the hot path over the first few hundred thousand messages.
const WARM_UP = Math.min(MESSAGES, 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 512);
const BATCH = 1000;
const KEYS = 64;

interface Payload {
  id: number;
  sku: string;
}

const batch = Array.from({ length: BATCH }, (_, id) => ({ key: `k${id % KEYS}`, value: { id, sku: 'SKU-123456' } }));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function polybus(codec: Codec<Payload>, use: MiddlewareInput[], messages = MESSAGES): Promise<number> {
  resetMemoryBroker('bench');
  const bus = await connect('memory://bench');
  let handled = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const consumer = bus.consumer<Payload>({
    topic: 'bench',
    group: 'g',
    concurrency: CONCURRENCY,
    prefetch: PREFETCH,
    codec,
    use,
  });
  await consumer.run(async () => {
    if (++handled === messages) done();
  });
  const producer = bus.producer<Payload>({ codec, use });
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent += BATCH) {
    await producer.send('bench', batch);
    // Let the consumer run between batches, as a producer paced by the network would.
    await nextTurn();
  }
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await bus.close();
  return seconds;
}

/** The floor: an array queue drained by CONCURRENCY async workers, no keys, no acks, no bytes. */
async function rawQueue(messages = MESSAGES): Promise<number> {
  const queue: { key: string; value: Payload; timestamp: number }[] = [];
  let head = 0;
  let handled = 0;
  let wake: (() => void)[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const handler = async (_message: unknown): Promise<void> => {
    if (++handled === messages) done();
  };
  const worker = async (): Promise<void> => {
    while (handled < messages) {
      if (head < queue.length) await handler(queue[head++]);
      else await new Promise<void>((resolve) => wake.push(resolve));
    }
  };
  for (let i = 0; i < CONCURRENCY; i++) void worker();
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < messages; sent += BATCH) {
    for (const message of batch) queue.push({ key: message.key, value: message.value, timestamp: Date.now() });
    const waiting = wake;
    wake = [];
    for (const resolve of waiting) resolve();
    await nextTurn();
    if (head > 100_000) {
      queue.splice(0, head);
      head = 0;
    }
  }
  await finished;
  for (const resolve of wake) resolve();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Pre-encoded bytes passed through untouched: the transport and consumer core alone. */
const encodedOnce = Buffer.from(JSON.stringify({ id: 1, sku: 'SKU-123456' }));
const passThrough: Codec<Payload> = {
  name: 'passthrough',
  encode: () => encodedOnce,
  decode: () => ({ id: 1, sku: 'SKU-123456' }),
};

/** JSON encode + decode alone, on the same payloads: the part of the chain that is the codec's own work. */
async function jsonAlone(messages = MESSAGES): Promise<number> {
  const codec = json<Payload>();
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < messages; i++)
    sink += codec.decode(codec.encode((batch[i % BATCH] as { value: Payload }).value)).id;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (sink < 0) console.log(sink); // keeps the loop from being optimised away
  return seconds;
}

/** Runs every variant once per round, interleaved so that machine noise hits them alike; keeps each one's best. */
async function bestOf(variants: Record<string, () => Promise<number>>): Promise<Record<string, number>> {
  const fastest: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      fastest[name] = Math.min(fastest[name] ?? Number.POSITIVE_INFINITY, await run());
    }
  }
  return fastest;
}

// Warm the JIT on every path first, so the first measured round is not the cold one.
await rawQueue(WARM_UP);
await jsonAlone(WARM_UP);
await polybus(passThrough, [], WARM_UP);
await polybus(json<Payload>(), [retry({ attempts: 3 }), tracing()], WARM_UP);

const times = await bestOf({
  raw: () => rawQueue(),
  codecOnly: () => jsonAlone(),
  plain: () => polybus(passThrough, []),
  chain: () => polybus(json<Payload>(), [retry({ attempts: 3 }), tracing()]),
});
const { raw = 0, codecOnly = 0, plain = 0, chain = 0 } = times;
const rate = (seconds: number): number => Math.round(MESSAGES / seconds);
const chainMicros = ((chain - plain) / MESSAGES) * 1e6;
const format = (n: number): string => n.toLocaleString('en-US').padStart(12);

console.log(
  `${MESSAGES} messages per run, best of ${ROUNDS}; ${KEYS} keys, concurrency ${CONCURRENCY}, prefetch ${PREFETCH}`,
);
console.log(`raw in-process async queue     ${format(rate(raw))} msg/s`);
console.log(
  `memory:// no middleware        ${format(rate(plain))} msg/s  (${(raw / plain).toFixed(2)} of the raw queue)`,
);
console.log(`memory:// json+retry+tracing   ${format(rate(chain))} msg/s`);
console.log(`chain cost (publish + consume) ${chainMicros.toFixed(3).padStart(12)} µs/msg`);
console.log(
  `  of which JSON encode + decode ${((codecOnly / MESSAGES) * 1e6).toFixed(3).padStart(11)} µs/msg (measured alone)`,
);
console.log(
  JSON.stringify({
    memory_msgs_per_s: rate(plain),
    memory_chain_msgs_per_s: rate(chain),
    chain_us_per_msg: Number(chainMicros.toFixed(3)),
    json_codec_us_per_msg: Number(((codecOnly / MESSAGES) * 1e6).toFixed(3)),
    raw_queue_msgs_per_s: rate(raw),
    memory_vs_raw_queue: Number((raw / plain).toFixed(3)),
    messages: MESSAGES,
  }),
);
