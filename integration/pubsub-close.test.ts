/**
 * close() flushes acks: a message acked right before a consumer closes is not delivered again,
 * even when the process exits the moment close() resolves (nothing is left for a batch timer to
 * send later). The consumer runs in a child process that does exactly that; a control message
 * the same child leaves unacked proves that the test sees a redelivery when there is one.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { PubSubOptionsInput } from '../adapters/pubsub/index.js';
import { type Broker, connect } from '../src/broker.js';
import { string } from '../src/codecs/string.js';
import { spyHandler } from '../src/testing/spy.js';
import { type PubSubConfig, parseBrokerUrl } from '../src/url.js';
import { endpoint } from './env.js';

/** The subscriptions' ack deadline (the adapter's default): a lost ack shows as a redelivery after it. */
const ACK_DEADLINE_MS = 10_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const URL_ = () => `pubsub://${endpoint('PUBSUB_PROJECT_ID')}?emulatorHost=${endpoint('PUBSUB_EMULATOR_HOST')}`;

const opened: Broker[] = [];
async function bus(options: PubSubOptionsInput = {}): Promise<Broker> {
  // A config object with the adapter's options, as a user would pass one.
  const broker = await connect({ ...parseBrokerUrl(URL_()), ...options } as PubSubConfig);
  opened.push(broker);
  return broker;
}

afterAll(async () => {
  await Promise.all(opened.map((broker) => broker.close()));
}, 30_000);

/**
 * The child: consumes `count` messages, acking all but the one valued "control" (whose handler
 * is still running when close() gives up on it), closes the connection the moment the last ack
 * is made, and exits as soon as close() resolves. Acks wait up to a second in the client's
 * batch, so only close() can have sent them.
 */
const CHILD = `
import { connect } from './src/index.ts';
import { string } from './src/codecs/string.ts';
const [url, topic, group, count] = process.argv.slice(1);
const bus = await connect(url + '&ackBatchMaxMilliseconds=1000');
let started = 0;
let acked = 0;
let closing;
const consumer = bus.consumer({ topic, group, codec: string(), concurrency: 16, closeTimeoutMs: 300 });
await consumer.run(async (message, signal) => {
  started++;
  if (message.value === 'control') {
    await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  }
  // Close in the same tick as the last handler resolves: its ack is made while closing.
  if (++acked === Number(count) - 1) closing = bus.close();
});
process.stdout.write('ready\\n');
const deadline = Date.now() + 20000;
while (closing === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
await closing;
process.stdout.write(JSON.stringify({ started, acked: consumer.stats.acked }) + '\\n');
process.exit(0);
`;

function runChild(topic: string, group: string, count: number, onReady: () => Promise<void>) {
  return new Promise<{ started: number; acked: number }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', CHILD, URL_(), topic, group, String(count)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out === 'ready\n') onReady().catch(reject);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`child exited ${code}: ${out} ${err}`));
      else resolve(JSON.parse(last) as { started: number; acked: number });
    });
  });
}

describe('close: pubsub', () => {
  it('acks made right before close reach Pub/Sub before close() resolves; the unacked one comes back', async () => {
    const topic = `close-${randomUUID().slice(0, 8)}`;
    const group = 'flush';
    const count = 40;
    const parent = await bus();
    const producer = parent.producer<string>({ codec: string() });
    let receipts: Awaited<ReturnType<typeof producer.send>> | undefined;
    const result = await runChild(topic, group, count, async () => {
      receipts = await producer.send(
        topic,
        Array.from({ length: count }, (_, i) =>
          i === 5 ? { key: 'control', value: 'control' } : { key: `k${i % 8}`, value: `m${i}` },
        ),
      );
    });
    expect(result).toEqual({ started: count, acked: count - 1 });
    const control = receipts?.[5];

    const again = spyHandler<string>();
    await parent.consumer<string>({ topic, group, codec: string() }).run(again.handler);
    const [redelivered] = await again.waitForHandled(1, ACK_DEADLINE_MS + 5_000);
    expect(redelivered?.id).toBe(control?.id);
    expect(redelivered?.value).toBe('control');
    // Past the ack deadline: an ack that never reached Pub/Sub would have come back by now.
    await sleep(ACK_DEADLINE_MS + 3_000);
    expect(again.calls.map((call) => call.message.value)).toEqual(['control']);
  }, 90_000);
});
