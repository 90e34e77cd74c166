/**
 * The consumer core's failure, lifecycle and attempt semantics, on memory:// and on a scripted
 * adapter without native delay (the Kafka/Kinesis path, where the core holds failed messages).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { resetMemoryBroker } from '../adapters/memory/index.js';
import type { Adapter, Delivery, SubscribeOptions, Subscription } from '../src/adapter.js';
import {
  connect,
  DEAD_LETTER_HEADERS,
  deadLetter,
  InvalidConfigError,
  type Message,
  retry,
  string,
  tracing,
  validate,
} from '../src/index.js';
import { spyHandler, waitForIdle } from '../src/testing/spy.js';
import { installTestTracing } from '../src/testing/tracing.js';

afterEach(() => resetMemoryBroker());

let counter = 0;
const unique = (label: string): string => `${label}-${++counter}`;

type Outcome = { outcome: string; attempt: number | undefined; error: unknown };

/** Counts timer ticks while `ms` pass: a consumer that spins the event loop starves them. */
async function ticksDuring(ms: number): Promise<number> {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 10);
  await sleep(ms);
  clearInterval(interval);
  return ticks;
}

describe('a failing message never spins the process', () => {
  it('backs off redeliveries of a handler that always throws (no middleware), reporting each failure', async () => {
    const bus = await connect(`memory://${unique('spin')}`);
    const outcomes: Outcome[] = [];
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      onError: (error, message, outcome) => outcomes.push({ outcome, attempt: message?.attempt, error }),
    });
    let calls = 0;
    await consumer.run(() => {
      calls++;
      throw new Error('always');
    });
    await bus.producer<string>({ codec: string() }).send('t', { value: 'poison' });
    const ticks = await ticksDuring(1_000);
    // Default backoff from 100 ms, doubling: at most ~5 calls in one second, and timers ran meanwhile.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(6);
    expect(ticks).toBeGreaterThan(50);
    expect(outcomes.length).toBe(calls);
    expect(outcomes.every((o) => o.outcome === 'nacked')).toBe(true);
    expect(outcomes.map((o) => o.attempt)).toEqual(Array.from({ length: calls }, (_, i) => i + 1));
    await bus.close();
  });

  it('yields to the event loop even with redeliveryDelayMs: 0', async () => {
    const bus = await connect(`memory://${unique('zero')}`);
    const consumer = bus.consumer({ topic: 't', group: 'g', redeliveryDelayMs: 0, maxRedeliveryDelayMs: 0 });
    let calls = 0;
    await consumer.run(() => {
      calls++;
      throw new Error('always');
    });
    await bus.producer().send('t', { value: 1 });
    const ticks = await ticksDuring(300);
    expect(ticks).toBeGreaterThan(15);
    expect(calls).toBeGreaterThan(1);
    await bus.close();
  });

  it('retry() and validate() without deadLetter(): the message keeps coming back at the backoff, attempts keep counting', async () => {
    const bus = await connect(`memory://${unique('retry-no-dlq')}`);
    const consumer = bus.consumer<{ n: number }>({
      topic: 't',
      group: 'g',
      redeliveryDelayMs: 20,
      maxRedeliveryDelayMs: 40,
      use: [retry({ attempts: 2, initialDelayMs: 1 })],
    });
    const spy = spyHandler<{ n: number }>(() => {
      throw new Error('always');
    });
    await consumer.run(spy.handler);
    await bus.producer<{ n: number }>().send('t', { value: { n: 1 } });
    await spy.waitFor((call) => call.attempt >= 6, 5_000);
    // Never goes back (the bug: 1, 2, 2, 2…), and the same message each time.
    const attempts = spy.calls.map((call) => call.attempt);
    expect(attempts.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(spy.calls.map((call) => call.message.id)).size).toBe(1);

    const invalid = bus.consumer<{ n: number }>({
      topic: 'v',
      group: 'g',
      redeliveryDelayMs: 20,
      use: [validate({ '~standard': { version: 1, vendor: 't', validate: () => ({ issues: [{ message: 'bad' }] }) } })],
    });
    const outcomes: string[] = [];
    const invalidSpy = spyHandler<{ n: number }>();
    const listener = (event: unknown): void => {
      const { outcome, consumer } = event as { outcome: string; consumer: { topic: string } };
      if (consumer.topic === 'v') outcomes.push(outcome);
    };
    subscribe('polybus:consumer:error', listener);
    await invalid.run(invalidSpy.handler);
    await bus.producer<{ n: number }>().send('v', { value: { n: 1 } });
    const ticks = await ticksDuring(400);
    unsubscribe('polybus:consumer:error', listener);
    expect(invalidSpy.calls).toHaveLength(0);
    expect(outcomes.length).toBeGreaterThanOrEqual(2);
    expect(outcomes.length).toBeLessThan(15);
    expect(new Set(outcomes)).toEqual(new Set(['nacked']));
    expect(ticks).toBeGreaterThan(20);
    await bus.close();
  });

  it('maxDeliveries: redelivers through the broker, then dead-letters after exactly that many handler calls', async () => {
    const bus = await connect(`memory://${unique('max-deliveries')}`);
    const outcomes: Outcome[] = [];
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      maxDeliveries: 5,
      redeliveryDelayMs: 5,
      use: [retry({ attempts: 2, initialDelayMs: 1 }), deadLetter('t.dlq')],
      onError: (error, message, outcome) => outcomes.push({ outcome, attempt: message?.attempt, error }),
    });
    const spy = spyHandler<string>(() => {
      throw new Error('always');
    });
    await consumer.run(spy.handler);
    const dlq = spyHandler<string>();
    await bus.consumer<string>({ topic: 't.dlq', group: 'g', codec: string() }).run(dlq.handler);
    await bus.producer<string>({ codec: string() }).send('t', { key: 'k', value: 'poison' });
    const [dead] = await dlq.waitForHandled(1, 5_000);
    await sleep(100);
    expect(spy.calls.map((call) => call.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(dead?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('5');
    expect(outcomes.map((o) => o.outcome)).toEqual(['retrying', 'nacked', 'nacked', 'nacked', 'dead-lettered']);
    await bus.close();
  });

  it('maxDeliveries: a message delivered again after its limit (a crash loop) is dead-lettered unhandled', async () => {
    const script = scriptedAdapter({ nativeDelay: true });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      maxDeliveries: 3,
      use: [deadLetter('t.dlq')],
    });
    const spy = spyHandler<string>();
    await consumer.run(spy.handler);
    const delivery = script.deliver({ key: 'k', value: 'boom', attempt: 4 });
    await waitForIdle(consumer);
    expect(spy.calls).toHaveLength(0);
    expect(delivery.acked).toBe(1);
    const [published] = script.published;
    expect(published?.topic).toBe('t.dlq');
    expect(published?.headers[DEAD_LETTER_HEADERS.errorType]).toBe('DeliveryLimitError');
    await bus.close();
  });
});

describe('lifecycle', () => {
  it('close() while run() is still subscribing: nothing stays subscribed, run() resolves', async () => {
    const script = scriptedAdapter({ nativeDelay: true, subscribeDelayMs: 100 });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    let calls = 0;
    const running = consumer.run(() => {
      calls++;
      throw new Error('x');
    });
    await sleep(10);
    await consumer.close();
    expect(script.live).toBe(0);
    expect(script.closedSubscriptions).toBe(1);
    await expect(running).resolves.toBeUndefined();
    // A delivery the adapter still makes after close is handed back, never handled.
    const late = script.deliver({ value: '1' });
    expect(late.nacked).toBe(1);
    expect(calls).toBe(0);
    await bus.close();
  });

  it('close() gives up a subscribe that hangs (broker down) through the closing signal, at once', async () => {
    const script = scriptedAdapter({ nativeDelay: true, subscribeHangs: true });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    const running = consumer.run(() => {});
    await sleep(20);
    const started = Date.now();
    await consumer.close();
    expect(Date.now() - started).toBeLessThan(500);
    await expect(running).resolves.toBeUndefined();
    expect(script.live).toBe(0);
    await bus.close();
  });

  it('close() waits closeTimeoutMs at most for an adapter that ignores the signal, then closes the late subscription', async () => {
    const script = scriptedAdapter({ nativeDelay: true, subscribeDelayMs: 400 });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer({ topic: 't', group: 'g', closeTimeoutMs: 100 });
    const running = consumer.run(() => {});
    const started = Date.now();
    await consumer.close();
    expect(Date.now() - started).toBeLessThan(350);
    await running;
    await sleep(50);
    expect(script.live).toBe(0);
    expect(script.closedSubscriptions).toBe(1);
    await bus.close();
  });

  it('an onError that throws is reported on polybus:hook:error and changes nothing else', async () => {
    const bus = await connect(`memory://${unique('hook')}`);
    const hookErrors: unknown[] = [];
    const listener = (event: unknown): void => {
      hookErrors.push((event as { error: unknown }).error);
    };
    subscribe('polybus:hook:error', listener);
    const consumer = bus.consumer<{ n: number }>({
      topic: 't',
      group: 'g',
      redeliveryDelayMs: 5,
      onError: () => {
        throw new Error('hook broke');
      },
    });
    let failedOnce = false;
    const spy = spyHandler<{ n: number }>((m) => {
      if (m.value.n === 1 && !failedOnce) {
        failedOnce = true;
        throw new Error('transient');
      }
    });
    await consumer.run(spy.handler);
    await bus.producer<{ n: number }>().send('t', [
      { key: 'k', value: { n: 1 } },
      { key: 'k', value: { n: 2 } },
    ]);
    const handled = await spy.waitForHandled(2, 3_000);
    unsubscribe('polybus:hook:error', listener);
    // The key was not left busy: both messages of it were handled, in order.
    expect(handled.map((m) => m.value.n)).toEqual([1, 2]);
    expect(hookErrors.map(String)).toEqual(['Error: hook broke']);
    await bus.close();
  });

  it('keeps per-key order when a member closes while its failed message waits out the redelivery delay', async () => {
    const bus = await connect(`memory://${unique('handover')}`);
    const first = bus.consumer<{ n: number }>({ topic: 't', group: 'g', redeliveryDelayMs: 2_000 });
    const failing = spyHandler<{ n: number }>((m) => {
      if (m.value.n === 1) throw new Error('fails on the first member');
    });
    await first.run(failing.handler);
    const producer = bus.producer<{ n: number }>();
    await producer.send('t', { key: 'k', value: { n: 1 } });
    await failing.waitFor((call) => call.error !== undefined, 2_000);
    const second = bus.consumer<{ n: number }>({ topic: 't', group: 'g' });
    const taker = spyHandler<{ n: number }>();
    await second.run(taker.handler);
    // Sent while message 1 waits out its delay: they must not overtake it.
    await producer.send(
      't',
      [2, 3].map((n) => ({ key: 'k', value: { n } })),
    );
    await sleep(20);
    await first.close();
    const handled = await taker.waitForHandled(3, 3_000);
    expect(handled.map((m) => m.value.n)).toEqual([1, 2, 3]);
    expect(handled[0]?.attempt).toBe(2);
    await bus.close();
  });

  it('close() resolves after closeTimeoutMs with a handler that never resolves, even when nothing else keeps the process alive', async () => {
    const { execFile } = await import('node:child_process');
    const script = `
      import { connect } from './src/index.ts';
      const bus = await connect('memory://never');
      const consumer = bus.consumer({ topic: 't', group: 'g', closeTimeoutMs: 200,
        onError: (e, m, outcome) => console.log('reported', e.name, outcome) });
      let started;
      const running = new Promise((r) => { started = r; });
      await consumer.run((message, signal) => { signal.addEventListener('abort', () => console.log('aborted')); started(); return new Promise(() => {}); });
      await bus.producer().send('t', { value: 1 });
      await running;
      await consumer.close();
      console.log('after close');
    `;
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: process.cwd(), timeout: 20_000 },
        (error, stdout) => resolve({ code: error ? (error.code as number | null) : 0, stdout }),
      );
      child.stdin?.end();
    });
    expect(result.stdout).toContain('aborted');
    expect(result.stdout).toContain('reported TimeoutError error');
    expect(result.stdout).toContain('after close');
    expect(result.code).toBe(0);
  });

  it("aborts a handler's signal after handlerTimeoutMs, so a well-behaved handler stops and the message is retried", async () => {
    const bus = await connect(`memory://${unique('abort')}`);
    const consumer = bus.consumer<{ n: number }>({
      topic: 't',
      group: 'g',
      handlerTimeoutMs: 50,
      redeliveryDelayMs: 5,
    });
    const reasons: unknown[] = [];
    const spy = spyHandler<{ n: number }>(async (message, signal) => {
      if (message.attempt > 1) return;
      await new Promise<void>((_, reject) =>
        signal.addEventListener('abort', () => {
          reasons.push(signal.reason);
          reject(signal.reason);
        }),
      );
    });
    await consumer.run(spy.handler);
    await bus.producer<{ n: number }>().send('t', { value: { n: 1 } });
    const [message] = await spy.waitForHandled(1, 3_000);
    expect(message?.attempt).toBe(2);
    expect(reasons).toHaveLength(1);
    expect((reasons[0] as Error).name).toBe('TimeoutError');
    await bus.close();
  });

  it('rejects bad consumer options with a typed error', async () => {
    const bus = await connect(`memory://${unique('options')}`);
    const bad: Record<string, unknown>[] = [
      { closeTimeoutMs: -1 },
      { closeTimeoutMs: Number.NaN },
      { closeTimeoutMs: '5' },
      { redeliveryDelayMs: -5 },
      { redeliveryDelayMs: Number.POSITIVE_INFINITY },
      { maxRedeliveryDelayMs: 10, redeliveryDelayMs: 100 },
      { handlerTimeoutMs: 'soon' },
      { maxDeliveries: 0 },
      { from: 'beginning' },
      { use: retry() },
      { onError: 'log' },
      { codec: 'json' },
    ];
    for (const options of bad) {
      expect(() => bus.consumer({ topic: 't', group: 'g', ...options } as never), JSON.stringify(options)).toThrow(
        InvalidConfigError,
      );
    }
    expect(() => bus.consumer({ topic: 't', group: 'g', from: 'beginning' } as never)).toThrow(
      /"latest" or "earliest", got "beginning"/,
    );
    expect(() => bus.consumer({ topic: 't', group: 'g', concurrancy: 4 } as never)).toThrow(
      /unknown consumer option "concurrancy"/,
    );
    expect(() => bus.consumer({ topic: 't', group: 'g', OnError: () => {} } as never)).toThrow(
      /did you mean "onError"/,
    );
    expect(() => bus.producer({ codecs: 'json' } as never)).toThrow(/unknown producer option "codecs"/);
    await bus.close();
  });
});

describe('attempt', () => {
  it('retry({ attempts }) bounds handler calls and the dead-letter header equals them', async () => {
    const bus = await connect(`memory://${unique('attempts')}`);
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      use: [retry({ attempts: 4, initialDelayMs: 1 }), deadLetter('t.dlq')],
    });
    const spy = spyHandler<string>(() => {
      throw new Error('always');
    });
    await consumer.run(spy.handler);
    const dlq = spyHandler<string>();
    await bus.consumer<string>({ topic: 't.dlq', group: 'g', codec: string() }).run(dlq.handler);
    await bus.producer<string>({ codec: string() }).send('t', { value: 'x' });
    const [dead] = await dlq.waitForHandled(1, 3_000);
    expect(spy.calls.map((c) => c.attempt)).toEqual([1, 2, 3, 4]);
    expect(dead?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('4');
    await bus.close();
  });
});

describe('brokers without native delay: the core holds failed messages', () => {
  it('holds a failed message and its key in process, runs it again with attempt + 1, and hands it back on close', async () => {
    const script = scriptedAdapter({ nativeDelay: false });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      concurrency: 4,
      redeliveryDelayMs: 40,
    });
    const order: string[] = [];
    let failures = 0;
    await consumer.run((message) => {
      order.push(`${message.value}@${message.attempt}`);
      if (message.value === 'a1' && failures++ < 2) throw new Error('transient');
    });
    const a1 = script.deliver({ key: 'a', value: 'a1' });
    const a2 = script.deliver({ key: 'a', value: 'a2' });
    const b1 = script.deliver({ key: 'b', value: 'b1' });
    await waitForIdle(consumer, { timeoutMs: 3_000 });
    // Other keys flow meanwhile; a2 waits for a1; nothing is nacked to the broker.
    expect(order.indexOf('b1@1')).toBeLessThan(order.indexOf('a1@2'));
    expect(order.filter((entry) => entry.startsWith('a'))).toEqual(['a1@1', 'a1@2', 'a1@3', 'a2@1']);
    expect([a1.acked, a1.nacked, a2.acked, b1.acked]).toEqual([1, 0, 1, 1]);

    // A failure waiting out its delay at close is handed back (nack) with its successors.
    failures = 0;
    const c1 = script.deliver({ key: 'c', value: 'a1' });
    const c2 = script.deliver({ key: 'c', value: 'c2' });
    await sleep(10);
    await consumer.close();
    expect([c1.acked, c1.nacked, c2.acked, c2.nacked]).toEqual([0, 1, 0, 1]);
    expect(c1.nackedWith).toEqual([0, 1]);
    await bus.close();
  });

  it('drops a stale delivery (its partition moved) without running or settling it', async () => {
    const script = scriptedAdapter({ nativeDelay: false });
    const bus = await connect('memory://', { adapter: async () => script.adapter });
    const consumer = bus.consumer<string>({ topic: 't', group: 'g', codec: string() });
    const spy = spyHandler<string>(async () => sleep(30));
    await consumer.run(spy.handler);
    script.deliver({ key: 'k', value: 'first' });
    const second = script.deliver({ key: 'k', value: 'second' });
    second.stale = true;
    await waitForIdle(consumer);
    expect(spy.calls.map((c) => c.value)).toEqual(['first']);
    expect([second.acked, second.nacked]).toEqual([0, 0]);
    await bus.close();
  });
});

describe('failures are visible', () => {
  it('a dead-lettered message fails its process span, records the exception, and the dead-letter send is its child', async () => {
    const tracer = installTestTracing();
    tracer.reset();
    const bus = await connect(`memory://${unique('trace-dlq')}`);
    const consumer = bus.consumer<string>({
      topic: 'traced',
      group: 'g',
      codec: string(),
      use: [tracing(), deadLetter('traced.dlq')],
    });
    await consumer.run(() => {
      throw new TypeError('cannot bill');
    });
    const dlq = spyHandler<string>();
    await bus.consumer<string>({ topic: 'traced.dlq', group: 'g', codec: string() }).run(dlq.handler);
    await bus.producer<string>({ codec: string() }).send('traced', { value: 'x' });
    await dlq.waitForHandled(1, 3_000);
    await waitForIdle(consumer);
    const process = tracer.spans.find((span) => span.name === 'process traced');
    const send = tracer.spans.find((span) => span.name === 'send traced.dlq');
    expect(process?.status.code).toBe(2);
    expect(process?.exceptions).toEqual(['TypeError: cannot bill']);
    expect(send?.parentSpanId).toBe(process?.spanId);
    expect(send?.traceId).toBe(process?.traceId);
    await bus.close();
  });

  it('reports retrying and dead-lettered outcomes to onError with the message', async () => {
    const bus = await connect(`memory://${unique('outcomes')}`);
    const seen: { outcome: string; message: Message<string> | undefined }[] = [];
    const consumer = bus.consumer<string>({
      topic: 't',
      group: 'g',
      codec: string(),
      use: [retry({ attempts: 2, initialDelayMs: 1 }), deadLetter('t.dlq')],
      onError: (_error, message, outcome) => seen.push({ outcome, message }),
    });
    await consumer.run(() => {
      throw new Error('nope');
    });
    await bus.producer<string>({ codec: string() }).send('t', { value: 'x' });
    for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(10);
    expect(seen.map((s) => s.outcome)).toEqual(['retrying', 'dead-lettered']);
    expect(seen[1]?.message?.value).toBe('x');
    await bus.close();
  });
});

interface ScriptedDelivery extends Delivery {
  acked: number;
  nacked: number;
  nackedWith: unknown[];
  stale: boolean;
}

/** An adapter whose deliveries the test makes by hand, recording acks, nacks and publishes. */
function scriptedAdapter(options: {
  nativeDelay: boolean;
  subscribeDelayMs?: number;
  /** Subscribing never finishes unless the consumer's closing signal aborts it. */
  subscribeHangs?: boolean;
}) {
  let sink: SubscribeOptions | undefined;
  let id = 0;
  const state = {
    live: 0,
    closedSubscriptions: 0,
    published: [] as { topic: string; headers: Record<string, string> }[],
    adapter: undefined as unknown as Adapter,
    deliver(input: { key?: string; value: string; attempt?: number }): ScriptedDelivery {
      const delivery: ScriptedDelivery = {
        id: String(++id),
        topic: 't',
        key: input.key,
        value: new TextEncoder().encode(input.value),
        headers: {},
        timestamp: Date.now(),
        attempt: input.attempt ?? 1,
        raw: undefined,
        stale: false,
        acked: 0,
        nacked: 0,
        nackedWith: [],
        ack() {
          delivery.acked++;
        },
        nack(...args: unknown[]) {
          delivery.nacked++;
          delivery.nackedWith = args;
        },
      };
      sink?.onDelivery(delivery);
      return delivery;
    },
  };
  state.adapter = {
    broker: 'memory',
    capabilities: {
      perKeyOrdering: true,
      persistent: true,
      replay: true,
      nativeDelay: options.nativeDelay,
      nativeDeadLetter: false,
      maxMessageBytes: 1 << 20,
      maxBatch: 100,
    },
    async publish(topic, records) {
      for (const record of records) state.published.push({ topic, headers: record.headers });
      return records.map(() => ({ id: String(++id), topic }));
    },
    async subscribe(subscribeOptions): Promise<Subscription> {
      if (options.subscribeHangs) {
        await new Promise((_, reject) =>
          subscribeOptions.signal?.addEventListener('abort', () => reject(new Error('subscribe given up'))),
        );
      }
      if (options.subscribeDelayMs) await sleep(options.subscribeDelayMs);
      sink = subscribeOptions;
      state.live++;
      return {
        pause() {},
        resume() {},
        async close() {
          state.live--;
          state.closedSubscriptions++;
        },
      };
    },
    async health() {
      return { ok: true, broker: 'memory' };
    },
    async close() {},
  };
  return state;
}
