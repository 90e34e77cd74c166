/**
 * Pulsar protocol: our binary-protocol client (adapters/pulsar/client) against the broker's
 * WebSocket API (through `ws`) and the Java client, on the same Pulsar standalone, in one run,
 * variants taking turns (best of BENCH_ROUNDS rounds). Messages are 100 B with BENCH_KEYS keys
 * (default 64; 0 = no keys). Each round, on fresh topics:
 *  - pipelined publish: BENCH_MESSAGES unbatched sends, all issued at once and held back by the
 *    producer's own limit of 10,000 unconfirmed (our client: `send` without awaiting each, which
 *    waits for room; Java: `sendAsync` with blockIfQueueFull), timed from the first send to the
 *    last receipt;
 *  - batched publish: the same with batching on, configured alike on both clients (per-key
 *    batches — Java's KEY_BASED batcher — of at most 1,000 messages / 128 KiB / 10 ms; no explicit
 *    flush on either: the last batch goes on its 10 ms timer);
 *  - consume + ack: a new Exclusive subscription from the earliest message reads the topic the
 *    same client's pipelined publish wrote this round (one entry per message), receiving one
 *    message at a time and acknowledging each (receiver queue 1,000, acks grouped for 10 ms),
 *    timed from subscribe to the last acknowledgement;
 *  - WebSocket API: pipelined publish of BENCH_WS_MESSAGES (default min(BENCH_MESSAGES, 20,000):
 *    it is slower) with 1,000 in flight, batching off; consume + ack of that topic in pull mode
 *    (permits returned in halves of the queue, as polybus's WebSocket transport does: in push mode
 *    the 4.0.7 proxy stalled short of the end in about 2 runs out of 5 under load).
 * The Java client runs in one JVM for the whole run (-Xmx256m), a single-file program launched
 * with the Pulsar jars integration/emulators cached (as the interop test does), driven one task at
 * a time over stdin and timing itself, so JVM start-up and compilation are not measured; each
 * client is warmed up first. Every variant is bounded in time (BENCH_TIMEOUT_S, default
 * 15 + BENCH_MESSAGES / 2,000): one that stalls fails the bench with an error. Prints a table,
 * then one JSON line.
 *
 *   npx tsx bench/pulsar-protocol.ts        (or npm run bench -- pulsar-protocol, which builds first)
 *   BENCH_MESSAGES=20000 BENCH_ROUNDS=2 npx tsx bench/pulsar-protocol.ts   (a short run)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type * as ClientModule from '../adapters/pulsar/client/index.js';
import { CACHE, ROOT } from '../integration/emulators/common.js';
import { up } from '../integration/emulators/index.js';
import { pomProperty } from '../integration/emulators/maven.js';
import { endpoint } from '../integration/env.js';

// Measure the built package (dist/) when it is there, as the other benchmarks do.
const distDir = process.env.BENCH_DIST ?? 'dist';
const built = existsSync(new URL(`../${distDir}/adapters/pulsar/client/index.js`, import.meta.url));
const from = (path: string): string => new URL(`../${built ? `${distDir}/` : ''}${path}`, import.meta.url).href;
const { PulsarClient } = (await import(
  from(`adapters/pulsar/client/index.${built ? 'js' : 'ts'}`)
)) as typeof ClientModule;

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const WS_MESSAGES = Number(process.env.BENCH_WS_MESSAGES ?? Math.min(MESSAGES, 20_000));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const KEYS = Number(process.env.BENCH_KEYS ?? 64);
const TIMEOUT_MS = Math.round(Number(process.env.BENCH_TIMEOUT_S ?? 15 + MESSAGES / 2_000) * 1000);
const WARM = Math.min(MESSAGES, 10_000);
/** Unconfirmed sends at most, on both clients. */
const MAX_PENDING = 10_000;
const WS_IN_FLIGHT = 1_000;
const RECEIVER_QUEUE = 1_000;
const ACK_GROUPING_MS = 10;
const BATCH = { maxMessages: 1_000, maxBytes: 128 * 1024, maxDelayMs: 10 };
const payload = Buffer.alloc(100, 7);
const keyNames = Array.from({ length: Math.max(KEYS, 1) }, (_, i) => `k${i}`);
const keyOf = (i: number): string | undefined => (KEYS > 0 ? keyNames[i % KEYS] : undefined);
const LIBS = join(CACHE, `pulsar-${pomProperty(join(ROOT, 'integration/emulators/pulsar'), 'pulsar.version')}`, 'libs');

for (const [name, value] of Object.entries({ MESSAGES, WS_MESSAGES, ROUNDS, KEYS, TIMEOUT_MS })) {
  if (!Number.isInteger(value) || value < (name === 'KEYS' ? 0 : 1)) {
    throw new Error(`BENCH_${name.replace('_MS', '_S')} must be a positive integer, got ${value}`);
  }
}

const seconds = (started: bigint): number => Number(process.hrtime.bigint() - started) / 1e9;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const run = randomUUID().slice(0, 8);
const topicOf = (label: string): string => `bench-proto-${run}-${label}`;
const full = (topic: string): string => `persistent://public/default/${topic}`;

/** How far the running variant got (for the error when it stalls). */
let progress: () => string = () => 'no progress recorded';

/** `work`, or an error naming the variant if it takes longer than `ms`. */
async function bounded<T>(label: string, work: Promise<T>, ms = TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${label} did not finish within ${ms / 1000} s (stalled? ${progress()})`)),
      ms,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------------ our binary-protocol client

type Client = InstanceType<typeof PulsarClient>;

async function tsPublish(client: Client, topic: string, count: number, batched: boolean): Promise<number> {
  const producer = await client.createProducer({
    topic: full(topic),
    batching: batched ? BATCH : false,
    maxPendingMessages: MAX_PENDING,
  });
  try {
    const started = process.hrtime.bigint();
    const sends = new Array<Promise<unknown>>(count);
    let confirmed = 0;
    progress = () => `${confirmed} of ${count} sends confirmed, ${producer.pendingCount} pending`;
    const counted = (): void => {
      confirmed++;
    };
    for (let i = 0; i < count; i++) sends[i] = producer.send({ payload, key: keyOf(i) }).then(counted);
    await Promise.all(sends);
    return count / seconds(started);
  } finally {
    await producer.close();
  }
}

async function tsConsume(client: Client, topic: string, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  const consumer = await client.subscribe({
    topic: full(topic),
    subscription: 'bench',
    subscriptionType: 'Exclusive',
    initialPosition: 'earliest',
    receiverQueueSize: RECEIVER_QUEUE,
    ackGroupingMs: ACK_GROUPING_MS,
  });
  let received = 0;
  progress = () => `${received} of ${count} received, ${consumer.queued} queued`;
  try {
    for (; received < count; received++) consumer.acknowledge(await consumer.receive());
    return count / seconds(started);
  } finally {
    await consumer.close();
  }
}

// ------------------------------------------------------------------ the WebSocket API

function openSocket(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${endpoint('PULSAR_WS_URL')}/ws/v2/${path}`, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.terminate();
      resolve();
    }, 5_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close();
  });
}

/** Fails `reject` when the socket errors or closes before the work is done. */
function watchSocket(socket: WebSocket, what: string, reject: (error: Error) => void): void {
  socket.once('error', (error) => reject(new Error(`${what}: ${error.message}`)));
  socket.once('close', (code, reason) => reject(new Error(`${what}: socket closed (${code} ${String(reason)})`)));
}

async function wsPublish(topic: string, count: number): Promise<number> {
  const socket = await openSocket(
    `producer/persistent/public/default/${topic}?batchingEnabled=false&maxPendingMessages=${2 * WS_IN_FLIGHT}`,
  );
  try {
    const base64 = payload.toString('base64');
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      watchSocket(socket, 'WebSocket publish', reject);
      let sent = 0;
      let confirmed = 0;
      progress = () => `${sent} sent, ${confirmed} of ${count} confirmed`;
      const pump = (): void => {
        while (sent < count && sent - confirmed < WS_IN_FLIGHT) {
          socket.send(JSON.stringify({ payload: base64, key: keyOf(sent), context: String(sent) }));
          sent++;
        }
      };
      socket.on('message', (data) => {
        const reply = JSON.parse(String(data)) as { result?: string };
        if (reply.result !== 'ok') reject(new Error(`WebSocket publish: ${String(data)}`));
        else if (++confirmed === count) resolve();
        else pump();
      });
      pump();
    });
    return count / seconds(started);
  } finally {
    await closeSocket(socket);
  }
}

async function wsConsume(topic: string, count: number): Promise<number> {
  const started = process.hrtime.bigint();
  const socket = await openSocket(
    `consumer/persistent/public/default/${topic}/bench?subscriptionType=Exclusive` +
      `&subscriptionInitialPosition=Earliest&receiverQueueSize=${RECEIVER_QUEUE}&pullMode=true`,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      watchSocket(socket, 'WebSocket consume', reject);
      let handled = 0;
      let permits = 0;
      progress = () => `${handled} of ${count} received`;
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { messageId: string; payload: string };
        Buffer.from(frame.payload, 'base64');
        socket.send(JSON.stringify({ messageId: frame.messageId }));
        if (++handled === count) return resolve();
        // Permits go back in halves of the queue, as polybus's WebSocket transport does.
        if (++permits >= RECEIVER_QUEUE / 2) {
          socket.send(JSON.stringify({ type: 'permit', permitMessages: permits }));
          permits = 0;
        }
      });
      socket.send(JSON.stringify({ type: 'permit', permitMessages: RECEIVER_QUEUE }));
    });
    return count / seconds(started);
  } finally {
    await closeSocket(socket);
  }
}

// ------------------------------------------------------------------ the Java client

const JAVA_BENCH = `
import org.apache.pulsar.client.api.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicReference;

/** Reads tasks from stdin, one a line; answers each with "BENCH DONE <nanos>" or "BENCH FAIL <why>". */
public class PulsarProtocolBench {
  static final byte[] PAYLOAD = new byte[100];
  static String[] keyNames;
  static long timeoutMs;

  public static void main(String[] args) throws Exception {
    Arrays.fill(PAYLOAD, (byte) 7);
    int keys = Integer.parseInt(args[1]);
    keyNames = new String[keys];
    for (int i = 0; i < keys; i++) keyNames[i] = "k" + i;
    timeoutMs = Long.parseLong(args[2]);
    int code = 0;
    try (PulsarClient client = PulsarClient.builder().serviceUrl(args[0])
        .operationTimeout(30, TimeUnit.SECONDS).build()) {
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      say("READY");
      for (String line; (line = in.readLine()) != null && !line.equals("quit");) {
        String[] task = line.trim().split(" ");
        try {
          long nanos = switch (task[0]) {
            // publish <topic> <count> <unbatched|batched>
            case "publish" -> publish(client, task[1], Integer.parseInt(task[2]), task[3].equals("batched"));
            // consume <topic> <count>
            case "consume" -> consume(client, task[1], Integer.parseInt(task[2]));
            default -> throw new IllegalArgumentException("unknown task: " + line);
          };
          say("DONE " + nanos);
        } catch (Throwable e) {
          say("FAIL " + String.valueOf(e).replace('\\n', ' '));
        }
      }
    } catch (Throwable e) {
      say("FAIL " + String.valueOf(e).replace('\\n', ' '));
      code = 1;
    }
    System.exit(code);
  }

  static synchronized void say(String line) {
    System.out.println("BENCH " + line);
    System.out.flush();
  }

  static long publish(PulsarClient client, String topic, int count, boolean batched) throws Exception {
    Producer<byte[]> producer = client.newProducer().topic(topic)
      .enableBatching(batched)
      .batcherBuilder(BatcherBuilder.KEY_BASED)
      .batchingMaxMessages(${BATCH.maxMessages})
      .batchingMaxBytes(${BATCH.maxBytes})
      .batchingMaxPublishDelay(${BATCH.maxDelayMs}, TimeUnit.MILLISECONDS)
      .maxPendingMessages(${MAX_PENDING})
      .blockIfQueueFull(true)
      .sendTimeout(30, TimeUnit.SECONDS)
      .create();
    try {
      CountDownLatch done = new CountDownLatch(count);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      long started = System.nanoTime();
      for (int i = 0; i < count; i++) {
        TypedMessageBuilder<byte[]> message = producer.newMessage().value(PAYLOAD);
        if (keyNames.length > 0) message.key(keyNames[i % keyNames.length]);
        message.sendAsync().whenComplete((id, error) -> {
          if (error != null) failure.compareAndSet(null, error);
          done.countDown();
        });
      }
      if (!done.await(timeoutMs, TimeUnit.MILLISECONDS)) {
        throw new TimeoutException((count - done.getCount()) + " of " + count + " sends confirmed within " + timeoutMs + " ms");
      }
      long nanos = System.nanoTime() - started;
      if (failure.get() != null) throw new RuntimeException("a send failed: " + failure.get(), failure.get());
      return nanos;
    } finally {
      producer.close();
    }
  }

  static long consume(PulsarClient client, String topic, int count) throws Exception {
    long started = System.nanoTime();
    long deadline = started + timeoutMs * 1_000_000L;
    Consumer<byte[]> consumer = client.newConsumer().topic(topic).subscriptionName("bench")
      .subscriptionType(SubscriptionType.Exclusive)
      .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
      .receiverQueueSize(${RECEIVER_QUEUE})
      .acknowledgmentGroupTime(${ACK_GROUPING_MS}, TimeUnit.MILLISECONDS)
      .subscribe();
    try {
      for (int i = 0; i < count; i++) {
        long left = (deadline - System.nanoTime()) / 1_000_000L;
        Message<byte[]> message = left > 0 ? consumer.receive((int) left, TimeUnit.MILLISECONDS) : null;
        if (message == null) throw new TimeoutException(i + " of " + count + " received within " + timeoutMs + " ms");
        consumer.acknowledge(message);
      }
      return System.nanoTime() - started;
    } finally {
      consumer.close();
    }
  }
}
`;

/** The Java client in one JVM, taking one task at a time. */
class JavaBench {
  private readonly tail: string[] = [];
  private waiting: { resolve(line: string): void; reject(error: Error): void } | undefined;
  private exited: Error | undefined;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
  ) {
    const remember = (line: string): void => {
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('BENCH ')) {
        remember(line);
        return;
      }
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.resolve(line.slice('BENCH '.length));
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', remember);
    this.exit = new Promise((resolve) => {
      const gone = (why: string): void => {
        this.exited ??= new Error(`the Java client process ${why}${this.output()}`);
        this.waiting?.reject(this.exited);
        this.waiting = undefined;
        resolve();
      };
      child.once('error', (error) => gone(`failed: ${error.message}`));
      child.once('close', (code, signal) => gone(`exited (${signal ?? code})`));
    });
  }

  private output(): string {
    return this.tail.length > 0 ? `\n--- its last output ---\n${this.tail.join('\n')}` : '';
  }

  /** Writes the program, starts the JVM and waits until its client is built. */
  static async start(serviceUrl: string): Promise<JavaBench> {
    if (!existsSync(LIBS)) throw new Error(`no Pulsar jars in ${LIBS}: run \`npm run emulators -- up pulsar\``);
    const dir = mkdtempSync(join(tmpdir(), 'pulsar-protocol-bench-'));
    const file = join(dir, 'PulsarProtocolBench.java');
    writeFileSync(file, JAVA_BENCH);
    const child = spawn(
      'java',
      [
        '-Xmx256m',
        `-Dlog4j2.configurationFile=${join(ROOT, 'integration/emulators/pulsar/log4j2.properties')}`,
        '-cp',
        join(LIBS, '*'),
        file,
        serviceUrl,
        String(KEYS),
        String(TIMEOUT_MS),
      ],
      { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const java = new JavaBench(child, dir);
    try {
      const ready = await bounded('starting the Java client', java.next(), 120_000);
      if (ready !== 'READY') throw new Error(`the Java client did not start: ${ready}${java.output()}`);
    } catch (error) {
      await java.stop();
      throw error;
    }
    return java;
  }

  private next(): Promise<string> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Runs one task; resolves with msg/s from the program's own timing. */
  async task(label: string, line: string, count: number): Promise<number> {
    const answer = this.next();
    this.child.stdin?.write(`${line}\n`);
    // The program bounds every task itself; this bounds the program.
    const reply = await bounded(label, answer, TIMEOUT_MS + 15_000);
    const [status, ...rest] = reply.split(' ');
    if (status !== 'DONE') throw new Error(`${label}: ${rest.join(' ')}${this.output()}`);
    return count / (Number(rest[0]) / 1e9);
  }

  publish(topic: string, count: number, batched: boolean): Promise<number> {
    const label = `Java ${batched ? 'batched' : 'pipelined'} publish`;
    const line = `publish ${full(topic)} ${count} ${batched ? 'batched' : 'unbatched'}`;
    return this.task(label, line, count);
  }

  consume(topic: string, count: number): Promise<number> {
    return this.task('Java consume', `consume ${full(topic)} ${count}`, count);
  }

  /** Asks the program to quit (kills it if it does not within 15 s) and removes its directory. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.child.stdin?.end('quit\n');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exit;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ the run

type Variant =
  | 'ts_pipelined'
  | 'java_pipelined'
  | 'ts_batched'
  | 'java_batched'
  | 'ts_consume'
  | 'java_consume'
  | 'ws_publish'
  | 'ws_consume';
const best: Record<Variant, number> = {
  ts_pipelined: 0,
  java_pipelined: 0,
  ts_batched: 0,
  java_batched: 0,
  ts_consume: 0,
  java_consume: 0,
  ws_publish: 0,
  ws_consume: 0,
};

let client: Client | undefined;
let java: JavaBench | undefined;
let javaStarting: Promise<JavaBench> | undefined;
let failure: unknown;
const began = Date.now();
try {
  await up(['pulsar']);
  const serviceUrl = endpoint('PULSAR_URL');
  process.stdout.write(
    `pulsar-protocol bench: ${MESSAGES} × ${payload.length} B (WebSocket ${WS_MESSAGES}), ${KEYS} keys, ` +
      `all sends at once (maxPendingMessages ${MAX_PENDING}), ` +
      `${ROUNDS} rounds, our client from ${built ? distDir : 'TypeScript sources'}, Java client from ${LIBS}\n`,
  );
  javaStarting = JavaBench.start(serviceUrl);
  javaStarting.catch(() => {});
  client = new PulsarClient({ serviceUrl });
  const ours = client;

  // Warm-up, not measured: connections, lookups, JIT on both sides.
  const warm = topicOf('warm');
  await bounded('warm-up (our client)', tsPublish(ours, `${warm}-ts`, WARM, false));
  await bounded('warm-up (our client)', tsPublish(ours, `${warm}-ts-batched`, WARM, true));
  await bounded('warm-up (our client)', tsConsume(ours, `${warm}-ts`, WARM));
  await bounded('warm-up (WebSocket)', wsPublish(`${warm}-ws`, Math.min(WS_MESSAGES, 2_000)));
  await bounded('warm-up (WebSocket)', wsConsume(`${warm}-ws`, Math.min(WS_MESSAGES, 2_000)));
  java = await javaStarting;
  const jvm = java;
  await jvm.publish(`${warm}-java`, WARM, false);
  await jvm.publish(`${warm}-java-batched`, WARM, true);
  await jvm.consume(`${warm}-java`, WARM);

  for (let round = 1; round <= ROUNDS; round++) {
    const results: Partial<Record<Variant, number>> = {};
    const topic = (label: string): string => topicOf(`${label}-r${round}`);
    // Take turns: who goes first alternates by round.
    const pair = async (
      ts: Variant,
      measureTs: () => Promise<number>,
      other: Variant,
      measureJava: () => Promise<number>,
    ): Promise<void> => {
      if (round % 2 === 1) {
        results[ts] = await bounded(`our client, ${ts}`, measureTs());
        results[other] = await measureJava();
      } else {
        results[other] = await measureJava();
        results[ts] = await bounded(`our client, ${ts}`, measureTs());
      }
    };
    await pair(
      'ts_pipelined',
      () => tsPublish(ours, topic('ts'), MESSAGES, false),
      'java_pipelined',
      () => jvm.publish(topic('java'), MESSAGES, false),
    );
    await pair(
      'ts_batched',
      () => tsPublish(ours, topic('ts-batched'), MESSAGES, true),
      'java_batched',
      () => jvm.publish(topic('java-batched'), MESSAGES, true),
    );
    results.ws_publish = await bounded('WebSocket publish', wsPublish(topic('ws'), WS_MESSAGES));
    await pair(
      'ts_consume',
      () => tsConsume(ours, topic('ts'), MESSAGES),
      'java_consume',
      () => jvm.consume(topic('java'), MESSAGES),
    );
    results.ws_consume = await bounded('WebSocket consume', wsConsume(topic('ws'), WS_MESSAGES));
    for (const [name, value] of Object.entries(results) as [Variant, number][]) {
      best[name] = Math.max(best[name], value);
    }
    const r = (name: Variant): string => fmt(results[name] ?? 0);
    process.stdout.write(
      `round ${round}: pipelined ours ${r('ts_pipelined')} / Java ${r('java_pipelined')}; ` +
        `batched ours ${r('ts_batched')} / Java ${r('java_batched')}; ` +
        `consume ours ${r('ts_consume')} / Java ${r('java_consume')}; ` +
        `WebSocket publish ${r('ws_publish')}, consume ${r('ws_consume')} msg/s\n`,
    );
  }
} catch (error) {
  failure = error;
}

// Close everything, bounded, so the process exits by itself.
java ??= await javaStarting?.catch(() => undefined);
const closing = await Promise.allSettled([
  bounded('closing the Java client', java?.stop() ?? Promise.resolve(), 30_000),
  bounded('closing our client', client?.close() ?? Promise.resolve(), 30_000),
]);
for (const outcome of closing) if (outcome.status === 'rejected') failure ??= outcome.reason;

if (failure !== undefined) {
  process.stderr.write(
    `[pulsar-protocol] failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}\n`,
  );
  process.exit(1);
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
const line = {
  broker: 'pulsar-protocol',
  messages: MESSAGES,
  ws_messages: WS_MESSAGES,
  ts_pipelined_publish_msgs_per_s: Math.round(best.ts_pipelined),
  ts_batched_publish_msgs_per_s: Math.round(best.ts_batched),
  ts_consume_msgs_per_s: Math.round(best.ts_consume),
  ws_publish_msgs_per_s: Math.round(best.ws_publish),
  ws_consume_msgs_per_s: Math.round(best.ws_consume),
  java_pipelined_publish_msgs_per_s: Math.round(best.java_pipelined),
  java_batched_publish_msgs_per_s: Math.round(best.java_batched),
  java_consume_msgs_per_s: Math.round(best.java_consume),
  ts_vs_java_pipelined: ratio(best.ts_pipelined, best.java_pipelined),
  ts_vs_java_batched: ratio(best.ts_batched, best.java_batched),
  ts_vs_java_consume: ratio(best.ts_consume, best.java_consume),
};
process.stdout.write(
  `\n| msg/s, best of ${ROUNDS} | our client | Java client | ours / Java | WebSocket API |\n|---|---:|---:|---:|---:|\n` +
    `| pipelined publish, unbatched | ${fmt(best.ts_pipelined)} | ${fmt(best.java_pipelined)} | ${line.ts_vs_java_pipelined} | ${fmt(best.ws_publish)} |\n` +
    `| batched publish | ${fmt(best.ts_batched)} | ${fmt(best.java_batched)} | ${line.ts_vs_java_batched} | – |\n` +
    `| consume + ack | ${fmt(best.ts_consume)} | ${fmt(best.java_consume)} | ${line.ts_vs_java_consume} | ${fmt(best.ws_consume)} |\n` +
    `(${((Date.now() - began) / 1000).toFixed(0)} s in all)\n\n`,
);
process.stdout.write(`${JSON.stringify(line)}\n`);
