/**
 * Kinesis going away: 10,000 keyed messages are sent and consumed while the emulator restarts once
 * (`restart('kinesis')` restarts kinesalite and dynalite together: they share one launcher and
 * process, so the lease table is unreachable too). Every message whose send resolved must be
 * handled; duplicates are counted and printed; sends during the outage resolve after it or reject
 * with a retryable BrokerError within sendTimeoutMs; health() reports the outage and the recovery.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type Broker, connect } from '../src/broker.js';
import { BrokerError, type PolybusError } from '../src/errors.js';
import { type KinesisConfig, parseBrokerUrl } from '../src/url.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const TOTAL = 10_000;
const BATCH = 50;
const SENDERS = 4;
const SEND_TIMEOUT_MS = 20_000;

interface Value {
  n: number;
}

describe('reconnect: kinesis', () => {
  let bus: Broker | undefined;
  afterAll(async () => {
    await bus?.close();
  });

  it('handles every message whose send resolved across a restart of the emulator', async () => {
    bus = await connect({
      ...parseBrokerUrl(
        `kinesis://us-east-1?endpoint=${endpoint('KINESIS_ENDPOINT')}&shards=2&accessKeyId=local&secretAccessKey=local`,
      ),
      dynamoEndpoint: endpoint('DYNAMODB_ENDPOINT'),
      sendTimeoutMs: SEND_TIMEOUT_MS,
      failoverTimeMs: 3_000,
      pollIntervalMs: 250,
      checkpointIntervalMs: 200,
    } as KinesisConfig);
    const stream = `reconnect-${randomUUID().slice(0, 8)}`;
    const handled = new Map<number, number>();
    const consumerErrors: string[] = [];
    const consumer = bus.consumer<Value>({
      topic: stream,
      group: 'reconnect',
      from: 'earliest',
      concurrency: 16,
      onError: (error) => consumerErrors.push(String(error)),
    });
    await consumer.run((m) => {
      handled.set(m.value.n, (handled.get(m.value.n) ?? 0) + 1);
    });

    // Health, sampled all along.
    const healthLog: Array<{ at: number; ok: boolean; detail: string }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const health = await (bus as Broker).health();
        healthLog.push({ at: Date.now(), ok: health.ok, detail: health.detail ?? '' });
        await sleep(250);
      }
    })();

    // Four senders, paced, while the emulator restarts once after a third of the messages.
    const producer = bus.producer<Value>();
    const resolved = new Set<number>();
    const rejections: unknown[] = [];
    let slowestSendMs = 0;
    let next = 0;
    let restartAt = 0;
    let restartMs = 0;
    let restarting: Promise<void> | undefined;
    const sender = async (): Promise<void> => {
      while (next < TOTAL) {
        const from = next;
        next += BATCH;
        if (restarting === undefined && from >= TOTAL / 3) {
          restartAt = Date.now();
          restarting = restart('kinesis').then(() => {
            restartMs = Date.now() - restartAt;
          });
        }
        const batch = Array.from({ length: Math.min(BATCH, TOTAL - from) }, (_, i) => ({
          key: `key-${(from + i) % 113}`,
          value: { n: from + i },
        }));
        const started = Date.now();
        try {
          await producer.send(stream, batch);
          for (const message of batch) resolved.add(message.value.n);
        } catch (error) {
          rejections.push(error);
        }
        slowestSendMs = Math.max(slowestSendMs, Date.now() - started);
        await sleep(15);
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    await restarting;

    const deadline = Date.now() + 90_000;
    const missing = () => [...resolved].filter((n) => !handled.has(n));
    while (missing().length > 0 && Date.now() < deadline) await sleep(100);
    // Recovery: health is ok again.
    while (!healthLog.at(-1)?.ok && Date.now() < deadline) await sleep(100);
    sampling = false;
    await sampler;

    const duplicates = [...handled.values()].reduce((sum, count) => sum + count - 1, 0);
    const outage = healthLog.filter((sample) => !sample.ok);
    console.log(
      [
        `reconnect: kinesis — restart took ${restartMs} ms`,
        `${resolved.size}/${TOTAL} sends resolved, ${rejections.length} batch(es) rejected`,
        `${handled.size} distinct handled, ${duplicates} duplicate(s), ${missing().length} missing`,
        `slowest send ${slowestSendMs} ms (sendTimeoutMs ${SEND_TIMEOUT_MS})`,
        `health: ${outage.length} sample(s) not ok (first: ${outage[0]?.detail.slice(0, 160) ?? 'none'}), last: ${healthLog.at(-1)?.ok} ${healthLog.at(-1)?.detail}`,
        `consumer errors reported: ${consumerErrors.length}: ${consumerErrors.map((e) => e.slice(0, 150)).join(' | ')}`,
      ].join('\n  '),
    );
    expect(missing()).toEqual([]);
    for (const error of rejections) {
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as PolybusError).retryable).toBe(true);
    }
    expect(slowestSendMs).toBeLessThanOrEqual(SEND_TIMEOUT_MS + 5_000);
    expect(outage.length).toBeGreaterThan(0);
    expect(healthLog.at(-1)?.ok).toBe(true);
    expect(resolved.size).toBeGreaterThan(TOTAL / 2);
  }, 180_000);
});
