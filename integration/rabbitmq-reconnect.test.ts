/**
 * The RabbitMQ adapter survives the broker going away: 10,000 keyed messages in flight while the
 * broker restarts once, and again while the server closes every client connection. Every message
 * whose send resolved is handled at least once (duplicates are counted and printed), no send
 * takes longer than its confirm timeout, the consumer resumes by itself, and health() reports
 * the outage and the recovery.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect } from '../src/broker.js';
import { BrokerError } from '../src/errors.js';
import { CACHE } from './emulators/common.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const TOTAL = 10_000;
const BATCH = 100;
const CONFIRM_TIMEOUT_MS = 15_000;
/** Time a rejected send may take beyond its confirm timeout (timer granularity, a busy machine). */
const SLACK_MS = 2_000;

/** rabbitmqctl against the node `npm run emulators` starts (its cookie lives in the emulator's HOME). */
async function rabbitmqctl(...args: string[]): Promise<void> {
  await promisify(execFile)('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', 'polybus@localhost', ...args], {
    env: { ...process.env, HOME: join(CACHE, 'rabbitmq') },
    timeout: 30_000,
  });
}

interface Outcome {
  confirmed: number;
  handled: number;
  duplicates: number;
  failedSends: number;
  longestSendMs: number;
  sawOutage: boolean;
  recovered: boolean;
  consumerErrors: number;
}

/** Sends TOTAL keyed messages in batches while `disrupt` runs once `startAfter` messages are confirmed. */
async function scenario(label: string, disrupt: () => Promise<void>, startAfter: number): Promise<Outcome> {
  const bus = await connect(`${endpoint('AMQP_URL')}?confirmTimeoutMs=${CONFIRM_TIMEOUT_MS}`);
  const topic = `reconnect-${label}-${randomUUID()}`;
  const seen = new Map<number, number>();
  let consumerErrors = 0;
  const consumer = bus.consumer<{ seq: number }>({
    topic,
    group: 'workers',
    concurrency: 16,
    onError: () => {
      consumerErrors++;
    },
  });
  // Slower than the producer: a backlog builds, so handlers are running and messages unacked
  // when the connection drops; those come back (their acks on the dead channel are dropped).
  await consumer.run(async (message) => {
    await sleep(20);
    seen.set(message.value.seq, (seen.get(message.value.seq) ?? 0) + 1);
  });

  const health: boolean[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      health.push((await bus.health()).ok);
      await sleep(100);
    }
  })();

  const producer = bus.producer<{ seq: number }>();
  const confirmed = new Set<number>();
  let failedSends = 0;
  let longestSendMs = 0;
  let disruption: Promise<void> | undefined;
  const deadline = Date.now() + 150_000;
  for (let start = 0; start < TOTAL; start += BATCH) {
    const batch = Array.from({ length: BATCH }, (_, i) => ({ key: `k${(start + i) % 97}`, value: { seq: start + i } }));
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${label}: sending did not finish in time`);
      const began = Date.now();
      try {
        await producer.send(topic, batch);
        longestSendMs = Math.max(longestSendMs, Date.now() - began);
        for (const message of batch) confirmed.add(message.value.seq);
        break;
      } catch (error) {
        const took = Date.now() - began;
        longestSendMs = Math.max(longestSendMs, took);
        failedSends++;
        // A send during the outage may fail, but only retryably and within its timeout.
        expect(error).toBeInstanceOf(BrokerError);
        expect((error as BrokerError).retryable).toBe(true);
        expect(took).toBeLessThanOrEqual(CONFIRM_TIMEOUT_MS + SLACK_MS);
        await sleep(200);
      }
    }
    if (disruption === undefined && confirmed.size >= startAfter) disruption = disrupt();
    // Spread the rest over the disruption, so that sends are in flight while the broker is away.
    if (disruption !== undefined) await sleep(100);
  }
  await disruption;

  const waitUntil = Date.now() + 120_000;
  const missing = (): number => [...confirmed].filter((seq) => !seen.has(seq)).length;
  while (missing() > 0 && Date.now() < waitUntil) await sleep(200);
  // A little longer, so late redeliveries are counted too.
  await sleep(500);
  watching = false;
  await watcher;
  await bus.close();

  const handled = [...seen.values()].reduce((sum, count) => sum + count, 0);
  const firstDown = health.indexOf(false);
  const outcome: Outcome = {
    confirmed: confirmed.size,
    handled: seen.size,
    duplicates: handled - seen.size,
    failedSends,
    longestSendMs,
    sawOutage: firstDown >= 0,
    recovered: firstDown >= 0 && health.slice(firstDown).includes(true) && health[health.length - 1] === true,
    consumerErrors,
  };
  console.log(`[reconnect: rabbitmq] ${label}: ${JSON.stringify(outcome)} (missing ${missing()})`);
  expect(missing()).toBe(0);
  return outcome;
}

describe('reconnect: rabbitmq', () => {
  it('loses no confirmed message while the broker restarts', async () => {
    const outcome = await scenario('restart', () => restart('rabbitmq'), 2_000);
    expect(outcome.confirmed).toBe(TOTAL);
    expect(outcome.handled).toBe(TOTAL);
    expect(outcome.sawOutage).toBe(true);
    expect(outcome.recovered).toBe(true);
    expect(outcome.duplicates).toBeGreaterThan(0);
    expect(outcome.consumerErrors).toBeGreaterThan(0);
    expect(outcome.longestSendMs).toBeLessThanOrEqual(CONFIRM_TIMEOUT_MS + SLACK_MS);
  }, 240_000);

  it('loses no confirmed message while the server closes every connection, twice', async () => {
    const outcome = await scenario(
      'close_all_connections',
      async () => {
        await rabbitmqctl('close_all_connections', 'test');
        await sleep(1_500);
        await rabbitmqctl('close_all_connections', 'test');
      },
      2_000,
    );
    expect(outcome.confirmed).toBe(TOTAL);
    expect(outcome.handled).toBe(TOTAL);
    expect(outcome.duplicates).toBeGreaterThan(0);
    expect(outcome.consumerErrors).toBeGreaterThan(0);
    expect(outcome.longestSendMs).toBeLessThanOrEqual(CONFIRM_TIMEOUT_MS + SLACK_MS);
  }, 240_000);

  it('rejects a send retryably within confirmTimeoutMs while the broker is down, and sends after it is back', async () => {
    const bus = await connect(`${endpoint('AMQP_URL')}?confirmTimeoutMs=1000`);
    const producer = bus.producer<string>();
    const topic = `reconnect-timeout-${randomUUID()}`;
    const restarting = restart('rabbitmq');
    try {
      const downBy = Date.now() + 60_000;
      while ((await bus.health()).ok && Date.now() < downBy) await sleep(50);
      const health = await bus.health();
      expect(health.ok).toBe(false);
      expect(health.detail).toMatch(/reconnecting/);
      expect(health.detail).not.toContain('guest:');
      const began = Date.now();
      const error = await producer.send(topic, { value: 'during the outage' }).catch((e: unknown) => e);
      const took = Date.now() - began;
      console.log(`[reconnect: rabbitmq] send during the outage: ${String(error)} after ${took} ms`);
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).retryable).toBe(true);
      expect(took).toBeLessThanOrEqual(1_000 + SLACK_MS);
    } finally {
      await restarting;
    }
    const upBy = Date.now() + 30_000;
    while (!(await bus.health()).ok && Date.now() < upBy) await sleep(100);
    await expect(producer.send(topic, { value: 'after' })).resolves.toHaveProperty('id');
    await bus.close();
  }, 240_000);
});
