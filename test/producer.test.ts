import { afterEach, describe, expect, it } from 'vitest';
import { memoryTopicSizes, resetMemoryBroker } from '../adapters/memory/index.js';
import {
  type Broker,
  type Codec,
  connect,
  EncodeError,
  InvalidConfigError,
  json,
  type Message,
  type MiddlewareInput,
  type OutgoingMessage,
  type Producer,
  retry,
  string,
} from '../src/index.js';

const BROKER = 'producer-test';
let bus: Broker | undefined;

afterEach(async () => {
  await bus?.close();
  bus = undefined;
  resetMemoryBroker(BROKER);
});

async function producer<T = unknown>(): Promise<Producer<T>> {
  bus = await connect(`memory://${BROKER}`);
  return bus.producer<T>();
}

/** Calls send with input the types forbid; the call itself must not throw. */
function sendUnchecked(to: Producer<unknown>, topic: unknown, input: unknown): Promise<unknown> {
  let sent: Promise<unknown> | undefined;
  expect(() => {
    sent = (to.send as (topic: unknown, input: unknown) => Promise<unknown>)(topic, input);
  }).not.toThrow();
  return sent as Promise<unknown>;
}

/** The InvalidConfigError a send rejects with. */
async function rejection(sent: Promise<unknown>): Promise<InvalidConfigError> {
  const error = await sent.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InvalidConfigError);
  return error as InvalidConfigError;
}

describe('producer.send input checks', () => {
  it.each([
    ['undefined', undefined, /message must be a message object, got undefined/],
    ['null', null, /message must be a message object, got null/],
    ['a bare value', 'hello', /message must be a message object, got string/],
    ['an object without value', { id: 1 }, /message has no value property/],
    ['a number key', { key: 42, value: 1 }, /message\.key must be a string, got number/],
    ['an object key', { key: { id: 1 }, value: 1 }, /message\.key must be a string, got object/],
    [
      'a number header',
      { value: 1, headers: { retries: 3 } },
      /message\.headers\.retries must be a string, got number/,
    ],
    ['an undefined header', { value: 1, headers: { 'x-a': undefined } }, /message\.headers\["x-a"\] must be a string/],
    ['an empty header name', { value: 1, headers: { '': 'v' } }, /message\.headers has an empty header name/],
    ['headers as a Map', { value: 1, headers: new Map([['a', 'b']]) }, /message\.headers must be a plain object.*Map/],
    ['headers as an array', { value: 1, headers: [['a', 'b']] }, /message\.headers must be a plain object.*array/],
    ['headers as a string', { value: 1, headers: 'a=b' }, /message\.headers must be a plain object.*string/],
    ['a NaN timestamp', { value: 1, timestamp: Number.NaN }, /message\.timestamp must be a non-negative integer.*NaN/],
    ['a negative timestamp', { value: 1, timestamp: -1 }, /message\.timestamp must be .*got -1/],
    ['a fractional timestamp', { value: 1, timestamp: 1.5 }, /message\.timestamp must be .*got 1\.5/],
    ['a string timestamp', { value: 1, timestamp: '2024-01-01' }, /message\.timestamp must be .*got string/],
    ['a Date timestamp', { value: 1, timestamp: new Date() }, /message\.timestamp must be .*got Date/],
  ])('rejects %s with an InvalidConfigError naming the field', async (_, message, expected) => {
    const error = await rejection(sendUnchecked(await producer(), 't', message));
    expect(error.message).toMatch(expected);
    expect(error.operation).toBe('send');
    expect(error.hint).not.toBe('');
    expect(memoryTopicSizes(BROKER).t ?? 0).toBe(0);
  });

  it('names the index in a batch and shows the right shape in the hint', async () => {
    const batch = [{ value: 1 }, { value: 2 }, { value: 3, headers: { retries: 3 } }];
    const error = await rejection(sendUnchecked(await producer(), 't', batch));
    expect(error.message).toContain('messages[2].headers.retries must be a string, got number');
    expect(error.hint).toMatch(/String\(/);
    const missing = await rejection(sendUnchecked(await producer(), 't', [{ value: 1 }, undefined]));
    expect(missing.message).toContain('messages[1] must be a message object, got undefined');
    expect(missing.hint).toMatch(/\{ value, key\?: string, headers\?/);
  });

  it('sends nothing of a batch with an invalid message', async () => {
    const to = await producer<number>();
    const batch: OutgoingMessage<number>[] = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: i }));
    batch[7] = { value: 7, timestamp: Number.NaN };
    await rejection(to.send('t', batch));
    expect(memoryTopicSizes(BROKER).t ?? 0).toBe(0);
    batch[7] = { value: 7 };
    await expect(to.send('t', batch)).resolves.toHaveLength(10);
    expect(memoryTopicSizes(BROKER).t).toBe(10);
  });

  it('rejects a topic that is not a non-empty string', async () => {
    const to = await producer();
    expect((await rejection(sendUnchecked(to, 42, { value: 1 }))).message).toMatch(
      /topic must be a string, got number/,
    );
    expect((await rejection(sendUnchecked(to, undefined, { value: 1 }))).message).toMatch(/got undefined/);
    expect((await rejection(sendUnchecked(to, '', { value: 1 }))).message).toMatch(/topic name is empty/);
  });

  it('takes null key, headers and timestamp as absent, and delivers string headers as given', async () => {
    const to = await producer<number>();
    const received: Message<number>[] = [];
    const consumer = (bus as Broker).consumer<number>({ topic: 't', group: 'g', from: 'earliest' });
    await consumer.run(async (message) => {
      received.push(message);
    });
    await sendUnchecked(to as Producer<unknown>, 't', { key: null, value: 1, headers: null, timestamp: null });
    await to.send('t', { key: '', value: 2, headers: { retries: '3' }, timestamp: 0 });
    await expect.poll(() => received.length).toBe(2);
    expect(received[0]?.key).toBeUndefined();
    expect(received[0]?.headers).toEqual({});
    expect(received[1]?.headers).toEqual({ retries: '3' });
    expect(received[1]?.timestamp).toBe(0);
  });

  it('passes a codec EncodeError on without wrapping it twice', async () => {
    bus = await connect(`memory://${BROKER}`);
    const error = await bus
      .producer<string>({ codec: string() })
      .send('t', { value: 'a\uD800' })
      .catch((reason: unknown) => reason as Error);
    expect(error).toBeInstanceOf(EncodeError);
    expect((error as Error).message).toMatch(
      /^\[polybus:core\] encode: the string codec could not encode the value \(the string has a lone/,
    );
  });

  it('rejects rather than throws when a publish middleware throws', async () => {
    bus = await connect(`memory://${BROKER}`);
    const boom: MiddlewareInput = {
      name: 'boom',
      publish: {
        step: 'custom',
        handle() {
          throw new Error('boom');
        },
      },
    };
    const sent = sendUnchecked(bus.producer({ use: [boom] }), 't', { value: 1 });
    await expect(sent).rejects.toThrow('boom');
  });
});

describe('producer options', () => {
  it('refuses use that is not an array', async () => {
    bus = await connect(`memory://${BROKER}`);
    const open = bus;
    const error = (() => {
      try {
        open.producer({ use: retry() as unknown as MiddlewareInput[] });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).message).toMatch(/use must be an array of middleware, got object/);
    expect((error as InvalidConfigError).hint).toMatch(/use: \[tracing\(\)\]/);
  });

  it('refuses a codec that is not a codec object', async () => {
    bus = await connect(`memory://${BROKER}`);
    const open = bus;
    for (const codec of ['json', {}, { name: 'x' }, json]) {
      expect(() => open.producer({ codec: codec as unknown as Codec<unknown> })).toThrow(InvalidConfigError);
    }
    expect(() => open.producer({ codec: 'json' as unknown as Codec<unknown> })).toThrow(
      /codec must be a codec object, got string "json".*codec: json\(\)/,
    );
  });
});
