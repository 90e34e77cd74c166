/**
 * Pulsar: polybus against the raw client it uses, on the same broker, in one run, variants taking
 * turns (best of BENCH_ROUNDS rounds). "Raw" is our binary-protocol client (adapters/pulsar/client)
 * used directly; with BENCH_TRANSPORT=websocket it is the broker's WebSocket API used directly
 * through `ws`, against polybus on `pulsar+ws://`.
 *  - batched publish: BENCH_MESSAGES × 100 B with 64 keys in windows of 1,000, each window awaited
 *    (binary: both sides batch per key, 1 ms; WebSocket: both unbatched, pipelined);
 *  - consume: the same number waiting on a fresh topic, a new Key_Shared subscription from the
 *    earliest message, handled with concurrency 16 (raw: the same receive queue as polybus's
 *    prefetch, ack after an async no-op, at most 16 at once);
 *  - awaited single sends: BENCH_SINGLE sends one after another, mean latency.
 * The binary run also prints the raw WebSocket API's figures for context. Prints a table, then
 * one JSON line (`"broker":"pulsar"` or `"broker":"pulsar+ws"`).
 *
 *   npx tsx bench/pulsar.ts                              (binary: pulsar://)
 *   BENCH_TRANSPORT=websocket npx tsx bench/pulsar.ts   (WebSocket: pulsar+ws://)
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import WebSocket from 'ws';
import type * as ClientModule from '../adapters/pulsar/client/index.js';
import type * as PulsarModule from '../adapters/pulsar/index.js';
import type * as WsTransportModule from '../adapters/pulsar/websocket/transport.js';
import { up } from '../integration/emulators/index.js';
import { endpoint } from '../integration/env.js';
import type * as Polybus from '../src/index.js';

// Measure the built package (dist/) when it is there, as the other benchmarks do.
const distDir = process.env.BENCH_DIST ?? 'dist';
const built = existsSync(new URL(`../${distDir}/adapters/pulsar/index.js`, import.meta.url));
const from = (path: string): string => new URL(`../${built ? `${distDir}/` : ''}${path}`, import.meta.url).href;
const ext = built ? 'js' : 'ts';
const { connect, bytes } = (await import(from(`src/index.${ext}`))) as typeof Polybus;
const _pulsar = (await import(from(`adapters/pulsar/index.${ext}`))) as typeof PulsarModule;
const { PulsarClient } = (await import(from(`adapters/pulsar/client/index.${ext}`))) as typeof ClientModule;
const { decodeMessageId } = (await import(
  from(`adapters/pulsar/websocket/transport.${ext}`)
)) as typeof WsTransportModule;

const TRANSPORT = process.env.BENCH_TRANSPORT === 'websocket' ? 'websocket' : 'binary';
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? (TRANSPORT === 'binary' ? 20_000 : 5_000));
const WINDOW = 1_000;
const SINGLE = Number(process.env.BENCH_SINGLE ?? 1_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
/** polybus's default prefetch for concurrency 16: the raw consumer gets the same receive queue. */
const PREFETCH = 32;
const KEYS = 64;
const payload = Buffer.alloc(100, 7);

await up(['pulsar']);
const binaryUrl = endpoint('PULSAR_URL');
const wsUrl = endpoint('PULSAR_WS_URL');
const run = randomUUID().slice(0, 8);
let topicCounter = 0;
const freshTopic = (label: string): string => {
  progress.topic = `bench-${label}-${run}-${++topicCounter}`;
  return progress.topic;
};
const full = (topic: string) => `persistent://public/default/${topic}`;

/** The raw client's recent diagnostics, printed if a variant stalls. */
const clientLog: string[] = [];
const note = (level: string) => (message: string) => {
  clientLog.push(`${new Date().toISOString()} ${level} ${message}`);
  if (clientLog.length > 200) clientLog.shift();
};
const client = new PulsarClient({
  serviceUrl: binaryUrl,
  logger: { debug: note('debug'), info: note('info'), warn: note('warn'), error: note('error') },
});
/** What the running variant has done so far, printed if it stalls. */
const progress = { topic: '', sent: 0, received: 0, handled: 0, expected: 0 };
const resetProgress = (expected: number): void => {
  progress.topic = '';
  progress.sent = 0;
  progress.received = 0;
  progress.handled = 0;
  progress.expected = expected;
};
const polybusUrl = TRANSPORT === 'binary' ? binaryUrl : wsUrl.replace(/^ws(s?):\/\//, 'pulsar+ws$1://');
const bus = await connect(polybusUrl);
const producer = bus.producer<Uint8Array>({ codec: bytes() });
const windowOf = (start: number) =>
  Array.from({ length: WINDOW }, (_, i) => ({ key: `k${(start + i) % KEYS}`, value: payload }));
const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;

// ------------------------------------------------------------------ raw: our binary client

async function rawBinaryPublish(topic: string, count: number): Promise<void> {
  const p = await client.createProducer({ topic: full(topic), batching: { maxDelayMs: 1 } });
  for (let sent = 0; sent < count; sent += WINDOW) {
    const sends = [];
    for (let i = 0; i < WINDOW; i++) {
      sends.push(p.send({ payload, key: `k${(sent + i) % KEYS}`, properties: {}, eventTime: Date.now() }));
    }
    await Promise.all(sends);
    progress.sent += WINDOW;
  }
  await p.close();
}

async function rawBinaryConsume(topic: string, count: number): Promise<void> {
  const consumer = await client.subscribe({
    topic: full(topic),
    subscription: 'g',
    subscriptionType: 'Key_Shared',
    initialPosition: 'earliest',
    receiverQueueSize: PREFETCH,
  });
  let handled = 0;
  let running = 0;
  let slot: (() => void) | undefined;
  const handler = async (): Promise<void> => {};
  await new Promise<void>((resolve) => {
    void (async () => {
      while (handled + running < count) {
        if (running >= CONCURRENCY) await new Promise<void>((r) => (slot = r));
        const message = await consumer.receive();
        progress.received++;
        running++;
        void handler().then(() => {
          consumer.acknowledge(message);
          progress.handled++;
          running--;
          const wake = slot;
          slot = undefined;
          wake?.();
          if (++handled === count) resolve();
        });
      }
    })();
  });
  await consumer.close();
}

async function rawBinarySingle(topic: string, count: number): Promise<void> {
  const p = await client.createProducer({ topic: full(topic), batching: { maxDelayMs: 1 } });
  for (let i = 0; i < count; i++) {
    await p.send({ payload, key: `k${i % KEYS}`, properties: {}, eventTime: Date.now() });
    progress.sent++;
  }
  await p.close();
}

// ------------------------------------------------------------------ raw: the WebSocket API

/** Sockets of the raw WebSocket variants still open (ended if a variant stalls). */
const openSockets = new Set<WebSocket>();

function openSocket(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${wsUrl}/ws/v2/${path}`, { perMessageDeflate: false });
    openSockets.add(socket);
    socket.once('close', () => openSockets.delete(socket));
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      reject(new Error(`WebSocket API refused ${path}: HTTP ${response.statusCode}`));
    });
  });
}

async function rawWsPublish(topic: string, count: number, window = WINDOW): Promise<void> {
  const socket = await openSocket(
    `producer/persistent/public/default/${topic}?batchingEnabled=false&maxPendingMessages=2000`,
  );
  let context = 0;
  for (let sent = 0; sent < count; sent += window) {
    await new Promise<void>((resolve, reject) => {
      let answered = 0;
      const onClose = (code: number) => reject(new Error(`the WebSocket API closed the producer socket (${code})`));
      const done = (error?: Error): void => {
        socket.off('message', onMessage);
        socket.off('close', onClose);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onMessage = (data: WebSocket.RawData) => {
        const reply = JSON.parse(String(data)) as { result: string; messageId: string };
        if (reply.result !== 'ok') {
          done(new Error(`the WebSocket API refused a send: ${String(data)}`));
          return;
        }
        decodeMessageId(reply.messageId);
        progress.sent++;
        if (++answered === window) done();
      };
      socket.on('message', onMessage);
      socket.once('close', onClose);
      for (let i = 0; i < window; i++) {
        socket.send(
          JSON.stringify({
            // Encoded per message, as an application (and polybus) must: payloads differ.
            payload: payload.toString('base64'),
            key: `k${(sent + i) % KEYS}`,
            properties: {},
            context: String(context++),
            eventTime: new Date().toISOString(),
          }),
        );
      }
    });
  }
  socket.close();
}

/**
 * Pull mode with flow permits (`receiverQueueSize` up front, half of it back each time that many
 * arrived), as polybus's pulsar+ws transport consumes: the same settings on both sides. (In push
 * mode the WebSocket API sometimes never starts delivering, or stops short of the end: 2 of 6
 * runs here under load; in one its consumer held 512 messages and the socket had none.)
 */
async function rawWsConsume(topic: string, count: number): Promise<void> {
  const socket = await openSocket(
    `consumer/persistent/public/default/${topic}/g?subscriptionType=Key_Shared&subscriptionInitialPosition=Earliest&receiverQueueSize=${PREFETCH}&pullMode=true`,
  );
  const handler = async (): Promise<void> => {};
  await new Promise<void>((resolve, reject) => {
    let handled = 0;
    let permits = 0;
    const onClose = (code: number) => reject(new Error(`the WebSocket API closed the consumer socket (${code})`));
    socket.once('close', onClose);
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { messageId: string; payload: string };
      Buffer.from(frame.payload, 'base64');
      progress.received++;
      if (++permits >= PREFETCH >> 1) {
        socket.send(JSON.stringify({ type: 'permit', permitMessages: permits }));
        permits = 0;
      }
      void handler().then(() => {
        socket.send(JSON.stringify({ messageId: frame.messageId }));
        progress.handled++;
        if (++handled === count) {
          socket.off('close', onClose);
          resolve();
        }
      });
    });
    socket.send(JSON.stringify({ type: 'permit', permitMessages: PREFETCH }));
  });
  socket.close();
}

// ------------------------------------------------------------------ variants

async function polybusConsume(topic: string, count: number): Promise<void> {
  const consumer = bus.consumer<Uint8Array>({
    topic,
    group: 'g',
    concurrency: CONCURRENCY,
    from: 'earliest',
    codec: bytes(),
  });
  let handled = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  await consumer.run(async () => {
    progress.handled++;
    if (++handled === count) done();
  });
  await finished;
  await consumer.close();
}

const rawPublish = TRANSPORT === 'binary' ? rawBinaryPublish : rawWsPublish;
const rawConsume = TRANSPORT === 'binary' ? rawBinaryConsume : rawWsConsume;
const rawSingle =
  TRANSPORT === 'binary' ? rawBinarySingle : (topic: string, count: number) => rawWsPublish(topic, count, 1);

const timed = async (count: number, work: () => Promise<void>): Promise<number> => {
  const started = process.hrtime.bigint();
  await work();
  return count / seconds(started);
};

const variants: Record<string, () => Promise<number>> = {
  raw_publish: () => timed(MESSAGES, () => rawPublish(freshTopic('raw'), MESSAGES)),
  polybus_publish: () => {
    const topic = freshTopic('polybus');
    return timed(MESSAGES, async () => {
      for (let sent = 0; sent < MESSAGES; sent += WINDOW) {
        await producer.send(topic, windowOf(sent));
        progress.sent += WINDOW;
      }
    });
  },
  async raw_consume() {
    const topic = freshTopic('raw-consume');
    await rawBinaryPublish(topic, MESSAGES);
    return timed(MESSAGES, () => rawConsume(topic, MESSAGES));
  },
  async polybus_consume() {
    const topic = freshTopic('polybus-consume');
    await rawBinaryPublish(topic, MESSAGES);
    return timed(MESSAGES, () => polybusConsume(topic, MESSAGES));
  },
  // Lower is better: microseconds; "best" keeps the largest value, so they are negated.
  raw_single_send: async () => -1e6 / (await timed(SINGLE, () => rawSingle(freshTopic('raw-single'), SINGLE))),
  polybus_single_send: async () => {
    const topic = freshTopic('polybus-single');
    await producer.send(topic, { key: 'k0', value: payload });
    return (
      -1e6 /
      (await timed(SINGLE, async () => {
        for (let i = 0; i < SINGLE; i++) {
          await producer.send(topic, { key: `k${i % KEYS}`, value: payload });
          progress.sent++;
        }
      }))
    );
  },
};
if (TRANSPORT === 'binary') {
  // For context: the WebSocket API directly, on the same broker (a smaller run: it is slower).
  const wsCount = Math.min(MESSAGES, 5_000);
  variants.context_ws_publish = () => timed(wsCount, () => rawWsPublish(freshTopic('ws'), wsCount));
  variants.context_ws_consume = async () => {
    const topic = freshTopic('ws-consume');
    await rawBinaryPublish(topic, wsCount);
    return timed(wsCount, () => rawWsConsume(topic, wsCount));
  };
}

/**
 * A variant that stalls ends the benchmark with what it had done and the raw client's recent
 * diagnostics, instead of holding the run until the runner's BENCH_TIMEOUT_S kills it blind.
 */
/** The broker's view of a topic (backlog, permits, unacked messages per consumer), for a stall report. */
async function topicStats(topic: string): Promise<string> {
  if (topic === '') return 'no topic yet';
  try {
    const response = await fetch(`${endpoint('PULSAR_ADMIN_URL')}/admin/v2/persistent/public/default/${topic}/stats`, {
      signal: AbortSignal.timeout(5_000),
    });
    return `HTTP ${response.status} ${await response.text()}`;
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message : String(error)})`;
  }
}

const VARIANT_LIMIT_MS = Number(process.env.BENCH_VARIANT_TIMEOUT_S ?? 60) * 1000;
if (!(VARIANT_LIMIT_MS > 0)) throw new Error('BENCH_VARIANT_TIMEOUT_S must be a positive number of seconds');
async function measured(name: string, round: number, measure: () => Promise<number>): Promise<number> {
  resetProgress(name.includes('single') ? SINGLE : MESSAGES);
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const log = clientLog.length > 0 ? `\nraw client log (last ${clientLog.length}):\n${clientLog.join('\n')}` : '';
      void topicStats(progress.topic).then((stats) =>
        reject(
          new Error(
            `${name} (round ${round}) did not finish within ${VARIANT_LIMIT_MS / 1000} s: ${JSON.stringify(progress)}\n` +
              `broker's stats of ${progress.topic}: ${stats}${log}`,
          ),
        ),
      );
    }, VARIANT_LIMIT_MS);
  });
  try {
    return await Promise.race([measure(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

const best: Record<string, number> = {};
try {
  // Warm up (JIT, connections), not measured.
  await measured('warm-up', 0, async () => {
    await rawBinaryPublish(freshTopic('warm'), 2_000);
    for (let sent = 0; sent < 2_000; sent += WINDOW) await producer.send(freshTopic('warm-polybus'), windowOf(sent));
    return 0;
  });
  for (let round = 1; round <= ROUNDS; round++) {
    const figures: string[] = [];
    for (const [name, measure] of Object.entries(variants)) {
      let value: number;
      try {
        value = await measured(name, round, measure);
      } catch (error) {
        // The context figures measure the broker's WebSocket API, not polybus: a stall there is
        // reported (with the broker's stats) and the round goes on; any other stall ends the run.
        if (!name.startsWith('context_')) throw error;
        console.error(`[bench:pulsar] ${error instanceof Error ? error.message : String(error)}`);
        for (const socket of openSockets) socket.terminate();
        figures.push(`${name} failed (above)`);
        continue;
      }
      figures.push(`${name} ${Math.round(Math.abs(value)).toLocaleString('en-US')}`);
      best[name] = Math.max(best[name] ?? Number.NEGATIVE_INFINITY, value);
    }
    console.error(`round ${round}: ${figures.join(', ')} (msg/s; single sends in µs)`);
  }
} catch (error) {
  console.error(`[bench:pulsar] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
await bus.close();
await client.close();

const round2 = (value: number): number => Math.round(value * 100) / 100;
const contextFigure = (value: number | undefined): string =>
  value === undefined ? 'failed in every round' : `${Math.round(value)} msg/s`;
const result = {
  broker: TRANSPORT === 'binary' ? 'pulsar' : 'pulsar+ws',
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
const raw = TRANSPORT === 'binary' ? 'our binary-protocol client' : 'the WebSocket API via ws';
console.log(
  `Pulsar ${TRANSPORT} ${built ? '(dist)' : '(sources via tsx)'}: ${MESSAGES} × 100 B, best of ${ROUNDS} rounds; raw = ${raw}`,
);
console.log(
  `  publish (windows of ${WINDOW}):  raw ${result.raw_publish_msgs_per_s} msg/s   polybus ${result.polybus_publish_msgs_per_s} msg/s   ratio ${result.publish_ratio}`,
);
console.log(
  `  consume (concurrency ${CONCURRENCY}):  raw ${result.raw_consume_msgs_per_s} msg/s   polybus ${result.polybus_consume_msgs_per_s} msg/s   ratio ${result.consume_ratio}`,
);
console.log(
  `  single send (${SINGLE} awaited):  raw ${result.raw_single_send_us} µs   polybus ${result.polybus_single_send_us} µs   ratio ${result.single_send_ratio}`,
);
if (TRANSPORT === 'binary') {
  console.log(
    `  context, raw WebSocket API: publish ${contextFigure(best.context_ws_publish)}, consume ${contextFigure(best.context_ws_consume)}`,
  );
}
console.log(JSON.stringify(result));
// A variant abandoned after a stall may still hold a socket or a timer: the figures are out, stop.
process.exit(0);
