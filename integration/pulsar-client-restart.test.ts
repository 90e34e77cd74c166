/**
 * Our binary-protocol Pulsar client across a real broker restart: producers and consumers
 * reconnect by themselves (fresh lookup, backoff), pending sends are resent, and no message
 * whose send was confirmed is lost.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type Message, PulsarClient } from '../adapters/pulsar/client/index.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const clients: PulsarClient[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('pulsar protocol: broker restart', () => {
  it('10,000 keyed messages with a restart in the middle: 0 lost among confirmed sends', async () => {
    const client = new PulsarClient({ serviceUrl: endpoint('PULSAR_URL'), operationTimeoutMs: 20_000 });
    clients.push(client);
    const topic = `persistent://public/default/proto-restart-${randomUUID().slice(0, 8)}`;
    const consumer = await client.subscribe({ topic, subscription: 's', subscriptionType: 'Key_Shared' });
    const producer = await client.createProducer({ topic, sendTimeoutMs: 240_000, batching: { maxDelayMs: 5 } });
    const n = 10_000;
    const confirmed = new Set<string>();
    let failed = 0;
    const received = new Map<string, number>();
    let consuming = true;
    const consumeLoop = (async () => {
      while (consuming) {
        let m: Message;
        try {
          m = await consumer.receive(1000);
        } catch {
          continue;
        }
        consumer.acknowledge(m);
        const body = m.payload.toString();
        received.set(body, (received.get(body) ?? 0) + 1);
      }
    })();
    let restarting: Promise<void> | undefined;
    const sends: Promise<void>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
      const body = `m-${i}`;
      sends.push(
        producer.send({ payload: Buffer.from(body), key: `k${i % 16}` }).then(
          () => void confirmed.add(body),
          () => void failed++,
        ),
      );
      if (i === 4000) restarting = restart('pulsar');
      if (i % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(sends);
    await restarting;
    const deadline = Date.now() + 60_000;
    while ([...confirmed].some((body) => !received.has(body)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    consuming = false;
    await consumeLoop;
    const lost = [...confirmed].filter((body) => !received.has(body)).length;
    const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
    console.log(
      `[pulsar protocol] restart: ${confirmed.size} confirmed, ${failed} failed, ${received.size} received, ` +
        `${duplicates} duplicates, ${lost} lost, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(lost).toBe(0);
    expect(confirmed.size).toBe(n);
    await Promise.all([producer.close(), consumer.close()]);
  }, 420_000);
});
