import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import type { Capabilities } from '../adapter.js';
import type { Broker } from '../broker.js';
import { bytes } from '../codecs/bytes.js';
import { string } from '../codecs/string.js';
import type { Consumer, ConsumerOptions } from '../consumer.js';
import { ClosedError, MessageTooLargeError } from '../errors.js';
import type { Message } from '../message.js';
import { DEAD_LETTER_HEADERS, deadLetter } from '../middleware/dead-letter.js';
import { retry } from '../middleware/retry.js';
import { tracing } from '../middleware/tracing.js';
import { type StandardSchemaV1, validate } from '../middleware/validate.js';
import { spyHandler, waitForIdle } from './spy.js';
import { installTestTracing } from './tracing.js';

/** What the conformance suite needs to test one adapter. */
export interface ConformanceTarget {
  /** Appears in the describe block: `conformance: <name>`. */
  name: string;
  /** Opens a new connection; the suite closes it. Called once per connection it needs. */
  connect(): Promise<Broker>;
  /** What the adapter declares; scenarios it cannot do are reported as not applicable, not passed. */
  capabilities: Capabilities;
  /** Per-scenario timeout (default 30 s; real brokers may need more). */
  timeoutMs?: number;
  /** How long to wait for messages (default 10 s). */
  waitMs?: number;
  /**
   * Registers only the scenarios whose name this accepts (default: all). For a second run of a
   * few scenarios in another mode (RabbitMQ's single-active consumer); the others are not
   * registered at all, so they are not reported as skipped.
   */
  include?: (scenario: string) => boolean;
}

type ScenarioBody = () => Promise<void>;

interface Order {
  id: number;
  note?: string;
}

/**
 * The broker-agnostic scenarios every adapter must pass, as a vitest suite. Topic names are
 * unique per run, so it works against long-lived real brokers too.
 */
export function conformance(target: ConformanceTarget): void {
  const caps = target.capabilities;
  const waitMs = target.waitMs ?? 10_000;
  const timeout = target.timeoutMs ?? 30_000;
  const run = randomUUID().slice(0, 8);
  let counter = 0;
  const topic = (label: string): string => `conf-${run}-${label}-${++counter}`;
  const group = (label: string): string => `g-${run}-${label}-${++counter}`;

  const include = target.include ?? (() => true);
  // `it` and `it.runIf(condition)` as the scenarios below use them, registering only included ones.
  const it = Object.assign(
    (name: string, body: ScenarioBody, ms?: number): void => {
      if (include(name)) vitestIt(name, body, ms);
    },
    {
      runIf:
        (condition: boolean) =>
        (name: string, body: ScenarioBody, ms?: number): void => {
          if (include(name)) vitestIt.runIf(condition)(name, body, ms);
        },
    },
  );

  describe(`conformance: ${target.name}`, () => {
    let bus: Broker;
    const opened: Broker[] = [];
    beforeAll(async () => {
      bus = await target.connect();
      opened.push(bus);
    }, timeout);
    afterAll(async () => {
      await Promise.all(opened.map((b) => b.close()));
    }, timeout);

    async function consume<T>(
      options: ConsumerOptions<T>,
      implementation?: (m: Message<T>) => Promise<void> | void,
      on = bus,
    ) {
      const spy = spyHandler<T>(implementation);
      const consumer = on.consumer<T>(options);
      await consumer.run(spy.handler);
      return { spy, consumer };
    }

    it(
      'round-trips value, key and unicode headers, and sets id, topic, timestamp, attempt',
      async () => {
        const t = topic('roundtrip');
        const { spy } = await consume<Order & { text: string }>({ topic: t, group: group('rt') });
        const headers: Record<string, string> = { tenant: 't1', 'ünïcode-名前': 'välue ✓ 🚀 日本語' };
        for (let i = 0; i < 40; i++) headers[`h${i}`] = `v${i}-${'x'.repeat(i)}`;
        const before = Date.now();
        const receipt = await bus.producer<Order & { text: string }>().send(t, {
          key: 'order-1',
          value: { id: 1, text: 'zażółć gęślą jaźń — 😀' },
          headers,
        });
        const [message] = await spy.waitForHandled(1, waitMs);
        expect(message?.value).toEqual({ id: 1, text: 'zażółć gęślą jaźń — 😀' });
        expect(message?.key).toBe('order-1');
        expect(message?.topic).toBe(t);
        expect(message?.attempt).toBe(1);
        expect(message?.id).toBe(receipt.id);
        expect(receipt.topic).toBe(t);
        expect(typeof message?.id).toBe('string');
        expect(message?.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(message?.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
        for (const [name, value] of Object.entries(headers)) expect(message?.headers[name]).toBe(value);
      },
      timeout,
    );

    it(
      'delivers a message without key or headers with key undefined',
      async () => {
        const t = topic('nokey');
        const { spy } = await consume<string>({ topic: t, group: group('nk'), codec: string() });
        await bus.producer<string>({ codec: string() }).send(t, { value: '' });
        const [message] = await spy.waitForHandled(1, waitMs);
        expect(message?.key).toBeUndefined();
        expect(message?.value).toBe('');
        expect(typeof message?.id).toBe('string');
      },
      timeout,
    );

    it(
      'publishes a batch in order and returns one receipt per message',
      async () => {
        const t = topic('batch');
        const { spy } = await consume<Order>({ topic: t, group: group('batch') });
        const batch = Array.from({ length: 100 }, (_, id) => ({ key: 'same', value: { id } }));
        const receipts = await bus.producer<Order>().send(t, batch);
        expect(receipts).toHaveLength(100);
        expect(new Set(receipts.map((r) => r.id)).size).toBe(100);
        const handled = await spy.waitForHandled(100, waitMs);
        expect(handled.map((m) => m.value.id)).toEqual(batch.map((m) => m.value.id));
        expect(handled.map((m) => m.id)).toEqual(receipts.map((r) => r.id));
      },
      timeout,
    );

    it(
      'delivers every message of 50 concurrent publishers × 20 messages exactly once',
      async () => {
        const t = topic('fanin');
        const { spy, consumer } = await consume<Order>({ topic: t, group: group('fanin'), concurrency: 8 });
        const producer = bus.producer<Order>();
        await Promise.all(
          Array.from({ length: 50 }, async (_, p) => {
            for (let i = 0; i < 20; i++) await producer.send(t, { key: `p${p}`, value: { id: p * 100 + i } });
          }),
        );
        const handled = await spy.waitForHandled(1000, waitMs * 2);
        await waitForIdle(consumer);
        const ids = spy.handled.map((m) => m.value.id);
        expect(handled.length).toBe(1000);
        expect(new Set(ids).size).toBe(1000);
      },
      timeout * 2,
    );

    it(
      'keeps topics isolated',
      async () => {
        const a = topic('iso-a');
        const b = topic('iso-b');
        const onA = await consume<Order>({ topic: a, group: group('iso') });
        const onB = await consume<Order>({ topic: b, group: group('iso') });
        const producer = bus.producer<Order>();
        await producer.send(a, [{ value: { id: 1 } }, { value: { id: 2 } }]);
        await producer.send(b, { value: { id: 3 } });
        await onA.spy.waitForHandled(2, waitMs);
        await onB.spy.waitForHandled(1, waitMs);
        await waitForIdle(onA.consumer, { quietMs: 200 });
        expect(onA.spy.handled.map((m) => m.value.id).sort()).toEqual([1, 2]);
        expect(onB.spy.handled.map((m) => m.value.id)).toEqual([3]);
        expect(onA.spy.handled.every((m) => m.topic === a)).toBe(true);
      },
      timeout,
    );

    it(
      'gives every message to each of two groups',
      async () => {
        const t = topic('groups');
        const billing = await consume<Order>({ topic: t, group: group('billing') });
        const audit = await consume<Order>({ topic: t, group: group('audit') });
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 30 }, (_, id) => ({ key: `k${id % 3}`, value: { id } })),
        );
        await billing.spy.waitForHandled(30, waitMs);
        await audit.spy.waitForHandled(30, waitMs);
        const all = Array.from({ length: 30 }, (_, id) => id);
        expect(billing.spy.handled.map((m) => m.value.id).sort((x, y) => x - y)).toEqual(all);
        expect(audit.spy.handled.map((m) => m.value.id).sort((x, y) => x - y)).toEqual(all);
      },
      timeout,
    );

    it(
      'shares the messages of one group between its members, each message once',
      async () => {
        const t = topic('share');
        const g = group('share');
        const second = await target.connect();
        opened.push(second);
        const slow = async (): Promise<void> => {
          await sleep(5);
        };
        const one = await consume<Order>({ topic: t, group: g, concurrency: 2 }, slow);
        const two = await consume<Order>({ topic: t, group: g, concurrency: 2 }, slow, second);
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 60 }, (_, id) => ({ key: `k${id}`, value: { id } })),
        );
        const deadline = Date.now() + waitMs;
        while (one.spy.handled.length + two.spy.handled.length < 60 && Date.now() < deadline) await sleep(10);
        await waitForIdle(one.consumer);
        await waitForIdle(two.consumer);
        const ids = [...one.spy.handled, ...two.spy.handled].map((m) => m.value.id).sort((x, y) => x - y);
        expect(ids).toEqual(Array.from({ length: 60 }, (_, id) => id));
        expect(one.spy.handled.length).toBeGreaterThan(0);
        expect(two.spy.handled.length).toBeGreaterThan(0);
      },
      timeout,
    );

    it(
      'redelivers a message whose handler threw (nack), with the same id and attempt 2',
      async () => {
        const t = topic('nack');
        let failedOnce = false;
        const { spy } = await consume<Order>({ topic: t, group: group('nack') }, () => {
          if (!failedOnce) {
            failedOnce = true;
            throw new Error('transient');
          }
        });
        await bus.producer<Order>().send(t, { key: 'k', value: { id: 7 } });
        const [message] = await spy.waitForHandled(1, waitMs);
        expect(spy.calls).toHaveLength(2);
        expect(spy.calls[0]?.attempt).toBe(1);
        expect(message?.attempt).toBe(2);
        expect(spy.calls[0]?.message.id).toBe(message?.id);
        expect(message?.value).toEqual({ id: 7 });
      },
      timeout,
    );

    it(
      'redelivers a message that keeps failing with backoff, its attempt counting up across retries and redeliveries',
      async () => {
        const t = topic('keeps-failing');
        const { spy, consumer } = await consume<Order>(
          {
            topic: t,
            group: group('keeps-failing'),
            redeliveryDelayMs: 50,
            maxRedeliveryDelayMs: 200,
            use: [retry({ attempts: 2, initialDelayMs: 5 })],
          },
          () => {
            throw new Error('always');
          },
        );
        await bus.producer<Order>().send(t, { key: 'k', value: { id: 1 } });
        await spy.waitFor((call) => call.attempt >= 5, waitMs);
        const started = spy.calls.length;
        await sleep(300);
        // Backing off: a few calls in 300 ms, not thousands.
        expect(spy.calls.length - started).toBeLessThanOrEqual(6);
        await consumer.close();
        const attempts = spy.calls.map((call) => call.attempt);
        expect(attempts.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
        for (let i = 1; i < attempts.length; i++) expect(attempts[i]).toBeGreaterThan(attempts[i - 1] as number);
        expect(new Set(spy.calls.map((call) => call.message.id)).size).toBe(1);
      },
      timeout,
    );

    it.runIf(caps.perKeyOrdering)(
      'redelivers a nacked message before the later messages of its key',
      async () => {
        const t = topic('nack-order');
        let failedOnce = false;
        const { spy } = await consume<Order>(
          { topic: t, group: group('nack-order'), concurrency: 4, redeliveryDelayMs: 50 },
          (m) => {
            if (m.value.id === 0 && !failedOnce) {
              failedOnce = true;
              throw new Error('transient');
            }
          },
        );
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 10 }, (_, id) => ({ key: 'one-key', value: { id } })),
        );
        const handled = await spy.waitForHandled(10, waitMs);
        expect(handled.map((m) => m.value.id)).toEqual(Array.from({ length: 10 }, (_, id) => id));
        expect(handled[0]?.attempt).toBe(2);
        expect(spy.calls[0]?.value).toEqual({ id: 0 });
      },
      timeout,
    );

    it(
      'counts attempts 1, 2, 3, 4 across retries',
      async () => {
        const t = topic('attempts');
        const { spy } = await consume<Order>(
          { topic: t, group: group('att'), use: [retry({ attempts: 4, initialDelayMs: 5 })] },
          (m) => {
            if (m.attempt < 4) throw new Error(`fail ${m.attempt}`);
          },
        );
        await bus.producer<Order>().send(t, { value: { id: 1 } });
        await spy.waitForHandled(1, waitMs);
        expect(spy.calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
      },
      timeout,
    );

    it(
      'retries, then dead-letters after exactly N attempts while other keys keep flowing',
      async () => {
        const t = topic('dlq');
        const dlqTopic = topic('dlq-out');
        const dlq = await consume<Uint8Array>({ topic: dlqTopic, group: group('dlq-reader'), codec: bytes() });
        const { spy } = await consume<Order>(
          {
            topic: t,
            group: group('dlq'),
            concurrency: 4,
            use: [deadLetter(dlqTopic), retry({ attempts: 3, initialDelayMs: 150, jitter: 'none' })],
          },
          (m) => {
            if (m.key === 'poison') throw new Error(`cannot bill order ${m.value.id}`);
          },
        );
        const producer = bus.producer<Order>();
        await producer.send(t, { key: 'poison', value: { id: 666 }, headers: { tenant: 't9' } });
        await producer.send(
          t,
          Array.from({ length: 20 }, (_, id) => ({ key: `good-${id % 4}`, value: { id } })),
        );
        const [dead] = await dlq.spy.waitForHandled(1, waitMs);
        // The good messages finished while the poison one was still backing off (150 + 300 ms).
        const goodDone = spy.handled.filter((m) => m.key !== 'poison').length;
        expect(goodDone).toBe(20);
        const poisonCalls = spy.calls.filter((c) => c.message.key === 'poison');
        expect(poisonCalls.map((c) => c.attempt)).toEqual([1, 2, 3]);
        expect(dead?.key).toBe('poison');
        expect(JSON.parse(Buffer.from(dead?.value ?? []).toString())).toEqual({ id: 666 });
        expect(dead?.headers.tenant).toBe('t9');
        expect(dead?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('3');
        expect(dead?.headers[DEAD_LETTER_HEADERS.error]).toBe('cannot bill order 666');
        expect(dead?.headers[DEAD_LETTER_HEADERS.topic]).toBe(t);
        expect(dead?.headers[DEAD_LETTER_HEADERS.messageId]).toBe(poisonCalls[0]?.message.id);
        const first = Date.parse(dead?.headers[DEAD_LETTER_HEADERS.firstFailureAt] ?? '');
        const failed = Date.parse(dead?.headers[DEAD_LETTER_HEADERS.failedAt] ?? '');
        expect(failed - first).toBeGreaterThanOrEqual(400);
        await sleep(200);
        expect(dlq.spy.handled).toHaveLength(1);
      },
      timeout,
    );

    it(
      'keeps per-key order with concurrency > 1',
      async () => {
        const t = topic('order');
        let active = 0;
        let maxActive = 0;
        const { spy } = await consume<Order & { key: string }>(
          { topic: t, group: group('order'), concurrency: 8 },
          async () => {
            active++;
            maxActive = Math.max(maxActive, active);
            await sleep(Math.random() * 4);
            active--;
          },
        );
        const messages = [];
        for (let seq = 0; seq < 40; seq++)
          for (let k = 0; k < 10; k++) messages.push({ key: `k${k}`, value: { id: seq, key: `k${k}` } });
        await bus.producer<Order & { key: string }>().send(t, messages);
        await spy.waitForHandled(400, waitMs * 2);
        const perKey = new Map<string, number[]>();
        for (const m of spy.handled) perKey.set(m.value.key, [...(perKey.get(m.value.key) ?? []), m.value.id]);
        for (const sequence of perKey.values()) expect(sequence).toEqual(Array.from({ length: 40 }, (_, i) => i));
        expect(maxActive).toBeGreaterThan(1);
        expect(maxActive).toBeLessThanOrEqual(8);
      },
      timeout * 2,
    );

    it(
      'never runs more handlers than the concurrency limit, and reaches it',
      async () => {
        const t = topic('limit');
        let active = 0;
        let maxActive = 0;
        const { spy } = await consume<Order>({ topic: t, group: group('limit'), concurrency: 4 }, async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(10);
          active--;
        });
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 60 }, (_, id) => ({ value: { id } })),
        );
        await spy.waitForHandled(60, waitMs);
        expect(maxActive).toBe(4);
      },
      timeout,
    );

    it(
      'applies backpressure: a slow handler bounds the unsettled messages by prefetch',
      async () => {
        const t = topic('backpressure');
        let consumer: Consumer<Order> | undefined;
        let maxUnsettled = 0;
        const started = await consume<Order>(
          { topic: t, group: group('bp'), concurrency: 2, prefetch: 6 },
          async () => {
            maxUnsettled = Math.max(maxUnsettled, consumer?.stats.unsettled ?? 0);
            await sleep(3);
          },
        );
        consumer = started.consumer;
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 120 }, (_, id) => ({ value: { id } })),
        );
        await started.spy.waitForHandled(120, waitMs);
        expect(maxUnsettled).toBeGreaterThan(2);
        expect(maxUnsettled).toBeLessThanOrEqual(6);
      },
      timeout,
    );

    it(
      'loses nothing across a consumer close and reopen in the same group',
      async () => {
        const t = topic('reopen');
        const g = group('reopen');
        const first = await consume<Order>({ topic: t, group: g, concurrency: 2 }, () => sleep(2));
        await bus.producer<Order>().send(
          t,
          Array.from({ length: 100 }, (_, id) => ({ key: `k${id % 5}`, value: { id } })),
        );
        await first.spy.waitForHandled(20, waitMs);
        await first.consumer.close();
        const second = await consume<Order>({ topic: t, group: g, concurrency: 2 });
        const deadline = Date.now() + waitMs;
        const seen = (): Set<number> => new Set([...first.spy.handled, ...second.spy.handled].map((m) => m.value.id));
        while (seen().size < 100 && Date.now() < deadline) await sleep(10);
        expect([...seen()].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, id) => id));
      },
      timeout,
    );

    it(
      'close() waits for in-flight handlers and acks them',
      async () => {
        const t = topic('drain');
        const g = group('drain');
        let finished = 0;
        const first = await consume<Order>({ topic: t, group: g, concurrency: 3, prefetch: 3 }, async () => {
          await sleep(300);
          finished++;
        });
        await bus.producer<Order>().send(t, [{ value: { id: 1 } }, { value: { id: 2 } }, { value: { id: 3 } }]);
        await first.spy.waitFor(() => first.spy.calls.length === 3, waitMs);
        await first.consumer.close();
        expect(finished).toBe(3);
        expect(first.consumer.stats.acked).toBe(3);
        const second = await consume<Order>({ topic: t, group: g });
        await sleep(500);
        expect(second.spy.calls).toHaveLength(0);
        await expect(first.consumer.run(async () => {})).rejects.toBeInstanceOf(ClosedError);
      },
      timeout,
    );

    it(
      'producer close() flushes sends in progress',
      async () => {
        const t = topic('flush');
        const { spy } = await consume<Order>({ topic: t, group: group('flush') });
        const producer = bus.producer<Order>();
        const sends = Array.from({ length: 100 }, (_, id) => producer.send(t, { value: { id } }));
        await producer.close();
        const settled = await Promise.allSettled(sends);
        expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
        await spy.waitForHandled(100, waitMs);
        await expect(producer.send(t, { value: { id: 1 } })).rejects.toBeInstanceOf(ClosedError);
      },
      timeout,
    );

    it(
      'round-trips a payload at the size limit and rejects one above it',
      async () => {
        const t = topic('large');
        const { spy } = await consume<Uint8Array>({ topic: t, group: group('large'), codec: bytes() });
        const producer = bus.producer<Uint8Array>({ codec: bytes() });
        const size = caps.maxMessageBytes - 1024;
        const payload = new Uint8Array(size);
        for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
        await producer.send(t, { key: 'big', value: payload });
        const [message] = await spy.waitForHandled(1, waitMs);
        expect(message?.value.byteLength).toBe(size);
        expect(Buffer.compare(Buffer.from(message?.value ?? []), Buffer.from(payload))).toBe(0);
        await expect(producer.send(t, { value: new Uint8Array(caps.maxMessageBytes + 1) })).rejects.toBeInstanceOf(
          MessageTooLargeError,
        );
      },
      timeout,
    );

    it(
      'dead-letters an undecodable payload and keeps consuming',
      async () => {
        const t = topic('undecodable');
        const dlqTopic = topic('undecodable-dlq');
        const dlq = await consume<Uint8Array>({ topic: dlqTopic, group: group('ud-reader'), codec: bytes() });
        const { spy } = await consume<Order>({
          topic: t,
          group: group('ud'),
          use: [retry({ attempts: 5, initialDelayMs: 5 }), deadLetter(dlqTopic)],
        });
        const raw = bus.producer<Uint8Array>({ codec: bytes() });
        await raw.send(t, { key: 'k', value: Buffer.from('{not json') });
        await bus.producer<Order>().send(t, { key: 'k', value: { id: 2 } });
        const [ok] = await spy.waitForHandled(1, waitMs);
        expect(ok?.value).toEqual({ id: 2 });
        const [dead] = await dlq.spy.waitForHandled(1, waitMs);
        expect(Buffer.from(dead?.value ?? []).toString()).toBe('{not json');
        expect(dead?.headers[DEAD_LETTER_HEADERS.errorType]).toBe('DecodeError');
        expect(dead?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('1');
        expect(spy.calls).toHaveLength(1);
      },
      timeout,
    );

    it(
      'dead-letters a message that fails validation without retrying it',
      async () => {
        const t = topic('invalid');
        const dlqTopic = topic('invalid-dlq');
        const schema: StandardSchemaV1<unknown, Order> = {
          '~standard': {
            version: 1,
            vendor: 'conformance',
            validate: (value) =>
              typeof (value as Order)?.id === 'number'
                ? { value: value as Order }
                : { issues: [{ message: 'id must be a number', path: ['id'] }] },
          },
        };
        const dlq = await consume<Uint8Array>({ topic: dlqTopic, group: group('inv-reader'), codec: bytes() });
        const { spy } = await consume<Order>({
          topic: t,
          group: group('inv'),
          use: [validate(schema), retry({ attempts: 3, initialDelayMs: 5 }), deadLetter(dlqTopic)],
        });
        await bus.producer<unknown>().send(t, [{ value: { id: 'x' } }, { value: { id: 3 } }]);
        await spy.waitForHandled(1, waitMs);
        const [dead] = await dlq.spy.waitForHandled(1, waitMs);
        expect(dead?.headers[DEAD_LETTER_HEADERS.errorType]).toBe('ValidationError');
        expect(dead?.headers[DEAD_LETTER_HEADERS.error]).toContain('id: id must be a number');
        expect(spy.calls.map((c) => c.value)).toEqual([{ id: 3 }]);
      },
      timeout,
    );

    it(
      'continues the producer trace in the consumer span (W3C traceparent)',
      async () => {
        const tracer = installTestTracing();
        const t = topic('trace');
        let inHandler: { traceId: string; spanId: string } | undefined;
        const { spy, consumer } = await consume<Order>({ topic: t, group: group('trace'), use: [tracing()] }, () => {
          inHandler = tracer.activeSpanContext();
        });
        const producer = bus.producer<Order>({ use: [tracing()] });
        await tracer.withSpan('http request', () => producer.send(t, [{ value: { id: 1 } }, { value: { id: 2 } }]));
        const handled = await spy.waitForHandled(2, waitMs);
        // The spy sees the handler resolve; the process span ends a moment later, when the chain settles.
        await waitForIdle(consumer, { timeoutMs: waitMs });
        const sends = tracer.spans.filter((s) => s.name === `send ${t}`);
        const processes = tracer.spans.filter((s) => s.name === `process ${t}`);
        const request = tracer.spans.find((s) => s.name === 'http request');
        expect(sends).toHaveLength(1);
        expect(processes).toHaveLength(2);
        const send = sends[0];
        expect(send?.kind).toBe(3); // PRODUCER
        expect(send?.parentSpanId).toBe(request?.spanId);
        expect(send?.attributes['messaging.destination.name']).toBe(t);
        expect(send?.attributes['messaging.batch.message_count']).toBe(2);
        for (const process of processes) {
          expect(process.kind).toBe(4); // CONSUMER
          expect(process.traceId).toBe(send?.traceId);
          expect(process.parentSpanId).toBe(send?.spanId);
          expect(process.attributes['messaging.consumer.group.name']).toBeDefined();
          expect(process.ended).toBe(true);
        }
        expect(handled[0]?.headers.traceparent).toBe(`00-${send?.traceId}-${send?.spanId}-01`);
        expect(inHandler?.traceId).toBe(send?.traceId);
        expect(processes.map((p) => p.spanId)).toContain(inHandler?.spanId);
      },
      timeout,
    );

    it(
      'pause() stops deliveries and resume() restarts them',
      async () => {
        const t = topic('pause');
        const { spy, consumer } = await consume<Order>({ topic: t, group: group('pause') });
        const producer = bus.producer<Order>();
        await producer.send(t, { value: { id: 1 } });
        await spy.waitForHandled(1, waitMs);
        consumer.pause();
        await producer.send(t, [{ value: { id: 2 } }, { value: { id: 3 } }]);
        await sleep(300);
        const whilePaused = spy.handled.length;
        consumer.resume();
        await spy.waitForHandled(3, waitMs);
        expect(whilePaused).toBeLessThan(3);
      },
      timeout,
    );

    it.runIf(caps.replay)(
      'lets a new group start from the earliest message',
      async () => {
        const t = topic('replay');
        await bus.producer<Order>().send(t, [{ value: { id: 1 } }, { value: { id: 2 } }]);
        const { spy } = await consume<Order>({ topic: t, group: group('replay'), from: 'earliest' });
        const handled = await spy.waitForHandled(2, waitMs);
        expect(handled.map((m) => m.value.id)).toEqual([1, 2]);
      },
      timeout,
    );

    it(
      'reports health and refuses work after close',
      async () => {
        const own = await target.connect();
        expect((await own.health()).ok).toBe(true);
        await own.close();
        expect((await own.health()).ok).toBe(false);
        expect(() => own.producer()).toThrow(ClosedError);
      },
      timeout,
    );
  });
}
