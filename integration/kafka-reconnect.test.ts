/**
 * The broker goes away mid-stream: 10,000 keyed messages are sent while Kafka is restarted once,
 * about a third of the way through. Every message whose send resolved is handled; per-key order
 * holds among first deliveries; duplicates are counted and printed; sends during the outage
 * resolve after reconnecting or reject with a retryable error within sendTimeoutMs; health()
 * reports the outage and the recovery.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KAFKA_DEFAULTS } from '../adapters/kafka/index.js';
import { type Broker, connect } from '../src/broker.js';
import { BrokerError } from '../src/errors.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const TOTAL = 10_000;
const KEYS = 50;
const BATCH = 20;
/** The documented bound: a send resolves or rejects within sendTimeoutMs (default 30 s). */
const SEND_TIMEOUT_MS = KAFKA_DEFAULTS.sendTimeoutMs;

interface Payload {
  key: string;
  seq: number;
}

const open = (): Promise<Broker> =>
  connect(`kafka://${endpoint('KAFKA_BROKERS')}?clientId=polybus-reconnect&partitions=3`);

describe('reconnect: kafka', () => {
  it('loses no sent message across a broker restart, keeps per-key order, and reports the outage', async () => {
    const topic = `reconnect-${randomUUID()}`;
    const bus = await open();
    const firstSeen = new Map<string, number[]>(); // key -> seqs in first-delivery order
    const deliveries = new Map<string, number>(); // key/seq -> times handled
    const consumer = bus.consumer<Payload>({
      topic,
      group: `reconnect-${randomUUID()}`,
      concurrency: 16,
      from: 'earliest',
    });
    await consumer.run(async (message) => {
      const { key, seq } = message.value;
      const id = `${key}/${seq}`;
      const times = (deliveries.get(id) ?? 0) + 1;
      deliveries.set(id, times);
      if (times === 1) {
        let list = firstSeen.get(key);
        if (list === undefined) {
          list = [];
          firstSeen.set(key, list);
        }
        list.push(seq);
      }
    });

    const health: Array<{ at: number; ok: boolean; detail: string }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const status = await bus.health();
        health.push({ at: Date.now(), ok: status.ok, detail: status.detail ?? '' });
        await sleep(250);
      }
    })();

    const producer = bus.producer<Payload>();
    const resolved: Payload[] = [];
    const rejected: Array<{ error: unknown; ms: number }> = [];
    let slowest = 0;
    let restarting: Promise<void> | undefined;
    let restartStarted = 0;
    let restartEnded = 0;
    const nextSeq = new Map<string, number>();
    for (let sent = 0; sent < TOTAL; sent += BATCH) {
      if (restarting === undefined && sent >= TOTAL / 3) {
        restartStarted = Date.now();
        restarting = restart('kafka').then(() => {
          restartEnded = Date.now();
        });
      }
      const batch: Payload[] = [];
      for (let i = 0; i < BATCH; i++) {
        const key = `k${(sent + i) % KEYS}`;
        const seq = nextSeq.get(key) ?? 0;
        nextSeq.set(key, seq + 1);
        batch.push({ key, seq });
      }
      const started = Date.now();
      try {
        await producer.send(
          topic,
          batch.map((value) => ({ key: value.key, value })),
        );
        resolved.push(...batch);
      } catch (error) {
        rejected.push({ error, ms: Date.now() - started });
      }
      slowest = Math.max(slowest, Date.now() - started);
    }
    await restarting;

    // Every message whose send resolved is handled (at least once).
    const deadline = Date.now() + 120_000;
    const missing = (): Payload[] => resolved.filter((p) => !deliveries.has(`${p.key}/${p.seq}`));
    while (missing().length > 0 && Date.now() < deadline) await sleep(200);
    await sleep(1_000); // let health see the recovery with the consumer running again
    polling = false;
    await poller;

    const duplicates = [...deliveries.values()].reduce((sum, times) => sum + times - 1, 0);
    const outage = health.filter((h) => !h.ok);
    process.stderr.write(
      `[reconnect: kafka] sent ${TOTAL}, resolved ${resolved.length}, rejected ${rejected.length * BATCH} ` +
        `(in ${rejected.length} sends), handled ${deliveries.size} distinct, duplicates ${duplicates}, ` +
        `slowest send ${slowest} ms, restart took ${restartEnded - restartStarted} ms, ` +
        `health not ok ${outage.length}/${health.length} polls` +
        `${outage[0] ? ` (first: ${outage[0].detail.slice(0, 160)})` : ''}\n`,
    );

    // Health transitions (ok/not ok) with the time since the restart began, for the record.
    let last: string | undefined;
    for (const h of health) {
      const state = `${h.ok} ${h.detail.replace(/reconnect-[\w-]+/g, '…').slice(0, 120)}`;
      if (state === last) continue;
      last = state;
      process.stderr.write(
        `  health ${h.ok ? 'ok' : 'NOT ok'} at ${h.at - restartStarted} ms: ${h.detail.slice(0, 200)}\n`,
      );
    }
    for (const { error, ms } of rejected) process.stderr.write(`  rejected after ${ms} ms: ${String(error)}\n`);

    expect(missing()).toEqual([]);
    for (const { error, ms } of rejected) {
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).retryable).toBe(true);
      expect(ms).toBeLessThanOrEqual(SEND_TIMEOUT_MS + 5_000);
    }
    expect(slowest).toBeLessThanOrEqual(SEND_TIMEOUT_MS + 5_000);
    // Per-key order among first deliveries, over the messages whose send resolved.
    const ok = new Set(resolved.map((p) => `${p.key}/${p.seq}`));
    for (const [key, seqs] of firstSeen) {
      const ordered = seqs.filter((seq) => ok.has(`${key}/${seq}`));
      expect(ordered).toEqual([...ordered].sort((a, b) => a - b));
    }
    // The outage was reported, and so was the recovery.
    expect(outage.length).toBeGreaterThan(0);
    expect(health.at(-1)?.ok).toBe(true);
    expect(health.findIndex((h) => !h.ok)).toBeLessThan(health.length - 1);
    await bus.close();
  }, 300_000);
});
