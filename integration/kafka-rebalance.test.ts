/**
 * Partitions move while messages flow: 10,000 keyed messages on a 6-partition topic while a second
 * and a third member join the group and the first one leaves. Nothing is lost; duplicates stay
 * within what the members held unsettled when partitions moved (printed); no key is ever handled
 * by two members at once; and each key's first deliveries come in send order.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { type Broker, connect } from '../src/broker.js';
import type { Consumer } from '../src/consumer.js';
import { endpoint } from './env.js';

const TOTAL = 10_000;
const KEYS = 100;
const BATCH = 100;
const PREFETCH = 16;

interface Payload {
  key: string;
  seq: number;
}

const open = (): Promise<Broker> =>
  connect(
    `kafka://${endpoint('KAFKA_BROKERS')}?clientId=polybus-rebalance&partitions=6&sessionTimeoutMs=10000&heartbeatIntervalMs=1000`,
  );

describe('rebalance: kafka', () => {
  it('loses nothing and never runs a key on two members while members join and leave', async () => {
    const topic = `rebalance-${randomUUID()}`;
    const group = `rebalance-${randomUUID()}`;
    const buses: Broker[] = [];
    const active = new Map<string, string>(); // key -> member running it now
    const overlaps: string[] = [];
    const handled = new Map<string, number>(); // key/seq -> times handled
    const firstSeen = new Map<string, number[]>();
    const perMember = new Map<string, number>();

    const startMember = async (name: string): Promise<Consumer<Payload>> => {
      const bus = await open();
      buses.push(bus);
      const consumer = bus.consumer<Payload>({ topic, group, concurrency: 8, prefetch: PREFETCH, from: 'earliest' });
      await consumer.run(async (message) => {
        const { key, seq } = message.value;
        const other = active.get(key);
        if (other !== undefined) overlaps.push(`${key}/${seq} on ${name} while ${other} ran it`);
        active.set(key, name);
        await sleep(Math.random() * 4);
        active.delete(key);
        const id = `${key}/${seq}`;
        const times = (handled.get(id) ?? 0) + 1;
        handled.set(id, times);
        perMember.set(name, (perMember.get(name) ?? 0) + 1);
        if (times === 1) {
          let list = firstSeen.get(key);
          if (list === undefined) {
            list = [];
            firstSeen.set(key, list);
          }
          list.push(seq);
        }
      });
      return consumer;
    };

    try {
      const first = await startMember('one');
      const producerBus = await open();
      buses.push(producerBus);
      const producer = producerBus.producer<Payload>();
      const nextSeq = new Map<string, number>();
      const membership: Promise<unknown>[] = [];
      let rebalances = 0;
      for (let sent = 0; sent < TOTAL; sent += BATCH) {
        const batchNumber = sent / BATCH;
        if (batchNumber === 15) {
          rebalances++;
          membership.push(startMember('two'));
        }
        if (batchNumber === 40) {
          rebalances++;
          membership.push(startMember('three'));
        }
        if (batchNumber === 70) {
          rebalances++;
          membership.push(first.close());
        }
        const batch = Array.from({ length: BATCH }, (_, i) => {
          const key = `k${(sent + i) % KEYS}`;
          const seq = nextSeq.get(key) ?? 0;
          nextSeq.set(key, seq + 1);
          return { key, value: { key, seq } };
        });
        await producer.send(topic, batch);
        await sleep(100);
      }
      await Promise.all(membership);

      const deadline = Date.now() + 90_000;
      while (handled.size < TOTAL && Date.now() < deadline) await sleep(200);
      await sleep(500);

      const duplicates = [...handled.values()].reduce((sum, times) => sum + times - 1, 0);
      // Each rebalance can redeliver at most what every member held unsettled (prefetch) when
      // its partitions moved; everything acknowledged before is committed first.
      const bound = rebalances * 3 * PREFETCH;
      process.stderr.write(
        `[rebalance: kafka] handled ${handled.size}/${TOTAL} distinct, duplicates ${duplicates} (bound ${bound}), ` +
          `overlaps ${overlaps.length}, per member ${JSON.stringify(Object.fromEntries(perMember))}\n`,
      );
      expect(handled.size).toBe(TOTAL);
      expect(overlaps).toEqual([]);
      expect(duplicates).toBeLessThanOrEqual(bound);
      for (const [key, seqs] of firstSeen) {
        expect(seqs, `first deliveries of ${key}`).toEqual([...seqs].sort((a, b) => a - b));
      }
      // The members that joined took part.
      expect(perMember.get('two')).toBeGreaterThan(0);
      expect(perMember.get('three')).toBeGreaterThan(0);
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
    }
  }, 240_000);
});
