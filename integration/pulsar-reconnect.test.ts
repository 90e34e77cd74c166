/**
 * The Pulsar adapter survives the broker going away, on both transports: 10,000 keyed messages in
 * flight while Pulsar standalone restarts once. Every message whose send resolved is handled at
 * least once (duplicates are counted and printed); a send during the outage resolves after the
 * reconnect or rejects with a retryable BrokerError within the send timeout (sendTimeoutMs,
 * 30 s by default; here 30 s); the consumer resumes by itself; health() reports the outage and
 * the recovery.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { connect } from '../src/broker.js';
import { BrokerError } from '../src/errors.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const TOTAL = 10_000;
const BATCH = 100;
const SEND_TIMEOUT_MS = 30_000;
/** Time a rejected send may take beyond its timeout (timer granularity, a busy machine, producer re-creation). */
const SLACK_MS = 5_000;

async function scenario(transport: 'binary' | 'websocket'): Promise<void> {
  const base =
    transport === 'binary'
      ? endpoint('PULSAR_URL')
      : endpoint('PULSAR_WS_URL').replace(/^ws(s?):\/\//, 'pulsar+ws$1://');
  const bus = await connect(`${base}?sendTimeoutMs=${SEND_TIMEOUT_MS}`);
  const topic = `reconnect-${transport}-${randomUUID().slice(0, 8)}`;
  const seen = new Map<number, number>();
  let consumerErrors = 0;
  const consumer = bus.consumer<{ i: number }>({
    topic,
    group: 'workers',
    concurrency: 16,
    onError: () => void consumerErrors++,
  });
  await consumer.run((message) => {
    seen.set(message.value.i, (seen.get(message.value.i) ?? 0) + 1);
  });
  const producer = bus.producer<{ i: number }>();
  const confirmed = new Set<number>();
  let failed = 0;
  let longestSendMs = 0;
  const badRejections: unknown[] = [];

  let sawOutage = false;
  let recovered = false;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const health = await bus.health();
      if (!health.ok) sawOutage = true;
      else if (sawOutage) recovered = true;
      await sleep(500);
    }
  })();

  const started = Date.now();
  let restarting: Promise<void> | undefined;
  for (let from = 0; from < TOTAL; from += BATCH) {
    if (from === 3000) restarting = restart('pulsar');
    await Promise.all(
      Array.from({ length: BATCH }, async (_, n) => {
        const i = from + n;
        const t0 = Date.now();
        try {
          await producer.send(topic, { key: `k${i % 64}`, value: { i } });
          confirmed.add(i);
        } catch (error) {
          failed++;
          if (!(error instanceof BrokerError && error.retryable)) badRejections.push(error);
        } finally {
          longestSendMs = Math.max(longestSendMs, Date.now() - t0);
        }
      }),
    );
  }
  await restarting;
  const deadline = Date.now() + 120_000;
  while ([...confirmed].some((i) => !seen.has(i)) && Date.now() < deadline) await sleep(250);
  // Health settles back to ok once the broker is back and every socket reconnected.
  const healthDeadline = Date.now() + 30_000;
  while (!recovered && Date.now() < healthDeadline) await sleep(250);
  watching = false;
  await watcher;
  const lost = [...confirmed].filter((i) => !seen.has(i)).length;
  const duplicates = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
  console.log(
    `[reconnect: pulsar ${transport}] ${confirmed.size} confirmed, ${failed} rejected (retryable), ${seen.size} handled, ` +
      `${duplicates} duplicates, ${lost} lost, longest send ${longestSendMs} ms, outage seen ${sawOutage}, recovered ${recovered}, ` +
      `${consumerErrors} consumer errors reported, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  await bus.close();
  expect(badRejections).toEqual([]);
  expect(lost).toBe(0);
  expect(confirmed.size).toBeGreaterThan(TOTAL / 2);
  expect(longestSendMs).toBeLessThanOrEqual(SEND_TIMEOUT_MS + SLACK_MS);
  expect(sawOutage).toBe(true);
  expect(recovered).toBe(true);
}

describe('reconnect: pulsar', () => {
  it('10,000 keyed messages across a broker restart: every confirmed message handled, no send hangs', async () => {
    await scenario('binary');
  }, 480_000);
});

describe('reconnect: pulsar+ws', () => {
  it('10,000 keyed messages across a broker restart: every confirmed message handled, no send hangs', async () => {
    await scenario('websocket');
  }, 480_000);
});
