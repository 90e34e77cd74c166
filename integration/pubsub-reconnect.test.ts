/**
 * The emulator restarts while a consumer runs and a producer keeps sending. pstest keeps no
 * state, so topics and subscriptions are gone after it: the adapter (autoCreate on) creates them
 * again by itself. Checked: every send made during the outage settles (resolves, or rejects with
 * a retryable error) within sendTimeoutMs + 2 s; the consumer resumes by itself and new messages
 * all arrive; health() reports the outage and the recovery; errors reach onError.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type Broker, connect } from '../src/broker.js';
import { string } from '../src/codecs/string.js';
import { PolybusError } from '../src/errors.js';
import { spyHandler } from '../src/testing/spy.js';
import { restart } from './emulators/index.js';
import { endpoint } from './env.js';

const SEND_TIMEOUT_MS = 5_000;
/** What the adapter documents: a send settles within sendTimeoutMs (+ 2 s of guard), never hangs. */
const SEND_BOUND_MS = SEND_TIMEOUT_MS + 2_000 + 1_000;

let bus: Broker | undefined;

afterAll(async () => {
  await bus?.close();
}, 30_000);

describe('reconnect: pubsub', () => {
  it('recovers by itself after the emulator restarts; sends during the outage settle in time', async () => {
    bus = await connect(
      `pubsub://${endpoint('PUBSUB_PROJECT_ID')}?emulatorHost=${endpoint('PUBSUB_EMULATOR_HOST')}&sendTimeoutMs=${SEND_TIMEOUT_MS}`,
    );
    const topic = `reconnect-${randomUUID().slice(0, 8)}`;
    const errors: unknown[] = [];
    const spy = spyHandler<string>();
    const consumer = bus.consumer<string>({
      topic,
      group: 'worker',
      codec: string(),
      concurrency: 8,
      onError: (error) => errors.push(error),
    });
    await consumer.run(spy.handler);
    const producer = bus.producer<string>({ codec: string() });
    await producer.send(
      topic,
      Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 10}`, value: `before-${i}` })),
    );
    await spy.waitForHandled(200, 20_000);
    expect((await bus.health()).ok).toBe(true);

    // Keep sending, and asking for health, while the emulator goes away and comes back.
    const sends: Array<{ ms: number; error?: unknown }> = [];
    const health: boolean[] = [];
    let busy = true;
    const sender = (async () => {
      for (let i = 0; busy; i++) {
        const started = Date.now();
        try {
          await producer.send(topic, { key: `k${i % 10}`, value: `during-${i}` });
          sends.push({ ms: Date.now() - started });
        } catch (error) {
          sends.push({ ms: Date.now() - started, error });
        }
        await sleep(50);
      }
    })();
    const watcher = (async () => {
      while (busy) {
        health.push((await bus?.health())?.ok ?? false);
        await sleep(100);
      }
    })();
    await restart('pubsub');

    // The consumer resumes by itself: probes until one gets through (subscription re-created).
    const recoveredBy = Date.now() + 60_000;
    let probe = 0;
    while (!spy.handled.some((m) => m.value.startsWith('probe-')) && Date.now() < recoveredBy) {
      await producer.send(topic, { value: `probe-${probe++}` }).catch(() => {});
      await sleep(500);
    }
    expect(spy.handled.some((m) => m.value.startsWith('probe-'))).toBe(true);
    busy = false;
    await Promise.all([sender, watcher]);

    // New messages all flow again.
    const after = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 10}`, value: `after-${i}` }));
    await producer.send(topic, after);
    const deadline = Date.now() + 20_000;
    const seen = () => new Set(spy.handled.map((m) => m.value).filter((v) => v.startsWith('after-')));
    while (seen().size < 200 && Date.now() < deadline) await sleep(50);
    expect(seen().size).toBe(200);

    // Sends during the outage never hung; those that failed say they may be retried.
    expect(sends.length).toBeGreaterThan(0);
    for (const send of sends) {
      expect(send.ms).toBeLessThan(SEND_BOUND_MS);
      if (send.error !== undefined) {
        expect(send.error).toBeInstanceOf(PolybusError);
        expect((send.error as PolybusError).retryable).toBe(true);
      }
    }
    // health() saw the outage and sees the recovery; the consumer reported what happened.
    expect(health).toContain(false);
    const healthyBy = Date.now() + 20_000;
    let final = await bus.health();
    while (!final.ok && Date.now() < healthyBy) {
      await sleep(250);
      final = await bus.health();
    }
    expect(final).toMatchObject({ ok: true, broker: 'pubsub' });
    expect(errors.length).toBeGreaterThan(0);
    const failed = sends.filter((s) => s.error !== undefined).length;
    // By value: pstest numbers message ids from 1 again after a restart.
    const duplicates = spy.handled.length - new Set(spy.handled.map((m) => m.value)).size;
    process.stderr.write(
      `[reconnect: pubsub] outage sends ${sends.length} (${failed} rejected, retryable), slowest ${Math.max(...sends.map((s) => s.ms))} ms; health checks ${health.length} (${health.filter((ok) => !ok).length} down); consumer errors ${errors.length}; duplicates ${duplicates}\n`,
    );
  }, 180_000);
});
