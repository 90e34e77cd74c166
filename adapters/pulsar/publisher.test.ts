import { describe, expect, it } from 'vitest';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, ClosedError, MessageTooLargeError } from '../../src/errors.js';
import { toPolybusError } from './errors.js';
import { PulsarPublisher, partitionOf } from './publisher.js';
import { PulsarTopology } from './topology.js';
import type { PulsarOutgoing, PulsarTransport, TransportProducer } from './transport.js';

const topology = new PulsarTopology({
  tenant: 't',
  namespace: 'ns',
  partitions: 0,
  autoCreate: true,
  adminUrl: 'http://127.0.0.1:1',
  token: undefined,
  tlsOptions: undefined,
  timeoutMs: 1000,
});

function fakeTransport(send: (m: PulsarOutgoing, n: number) => Promise<string>) {
  const created: string[] = [];
  const sent: PulsarOutgoing[] = [];
  let failCreate = 0;
  const transport: PulsarTransport = {
    kind: 'binary',
    start: async () => {},
    health: async () => ({ ok: true, detail: '' }),
    close: async () => {},
    subscribe: async () => {
      throw new Error('not used');
    },
    createProducer: async (topic) => {
      if (failCreate > 0) {
        failCreate--;
        throw Object.assign(new Error('connection refused'), { name: 'PulsarConnectionError', retryable: true });
      }
      created.push(topic);
      const producer: TransportProducer = {
        send: (m) => {
          sent.push(m);
          return send(m, sent.length - 1);
        },
        close: async () => {},
      };
      return producer;
    },
  };
  return { transport, created, sent, failNextCreate: () => void failCreate++ };
}

const record = (key: string | undefined, i: number): TransportRecord => ({
  key,
  value: Buffer.from(`v${i}`),
  headers: { n: String(i) },
  timestamp: 1000 + i,
});

describe('partitionOf', () => {
  it('reads the partition of a message id, undefined when not partitioned', () => {
    expect(partitionOf('12:3:-1:-1')).toBeUndefined();
    expect(partitionOf('12:3:4:0')).toBe(4);
  });
});

describe('PulsarPublisher', () => {
  it('maps records to messages and returns one receipt per record, in order', async () => {
    const { transport, created, sent } = fakeTransport(async (_m, n) => `5:${n}:${n % 2 === 0 ? -1 : 1}:-1`);
    const publisher = new PulsarPublisher(transport, topology);
    const receipts = await publisher.publish('orders', [record('k', 0), record(undefined, 1)]);
    expect(created).toEqual(['persistent://t/ns/orders']);
    expect(sent).toEqual([
      { key: 'k', payload: Buffer.from('v0'), properties: { n: '0' }, eventTime: 1000 },
      { key: undefined, payload: Buffer.from('v1'), properties: { n: '1' }, eventTime: 1001 },
    ]);
    expect(receipts).toEqual([
      { id: '5:0:-1:-1', topic: 'orders' },
      { id: '5:1:1:-1', topic: 'orders', partition: 1 },
    ]);
    await publisher.publish('orders', [record('k', 2)]);
    expect(created).toHaveLength(1);
  });

  it('rejects with a typed error, retries producer creation on the next send, refuses after close', async () => {
    const { transport, created, failNextCreate } = fakeTransport(async () => '1:1:-1:-1');
    const publisher = new PulsarPublisher(transport, topology);
    failNextCreate();
    await expect(publisher.publish('orders', [record('k', 0)])).rejects.toMatchObject({
      code: 'BROKER_ERROR',
      retryable: true,
    });
    await expect(publisher.publish('orders', [record('k', 0)])).resolves.toHaveLength(1);
    expect(created).toHaveLength(1);
    await expect(publisher.publish('a/b', [record('k', 0)])).rejects.toThrow(/namespace separator/);
    await publisher.close();
    await expect(publisher.publish('orders', [record('k', 0)])).rejects.toBeInstanceOf(ClosedError);
  });

  it('waits for every send before rejecting, so that no rejection is left unhandled', async () => {
    const settled: number[] = [];
    const { transport } = fakeTransport(async (_m, n) => {
      await new Promise((resolve) => setTimeout(resolve, n === 0 ? 1 : 20));
      settled.push(n);
      if (n === 0) throw Object.assign(new Error('send timed out'), { name: 'PulsarTimeoutError', retryable: true });
      return `1:${n}:-1:-1`;
    });
    const publisher = new PulsarPublisher(transport, topology);
    await expect(publisher.publish('orders', [record('k', 0), record('k', 1)])).rejects.toBeInstanceOf(BrokerError);
    expect(settled).toEqual([0, 1]);
  });
});

describe('toPolybusError', () => {
  it('maps client errors by name and retryable flag, never losing the cause', () => {
    const tooLarge = Object.assign(
      new Error("message of 6000000 bytes exceeds the broker's maximum of 5242880 bytes"),
      {
        name: 'PulsarMessageTooLargeError',
        retryable: false,
      },
    );
    const mapped = toPolybusError('send', tooLarge);
    expect(mapped).toBeInstanceOf(MessageTooLargeError);
    expect(mapped).toMatchObject({ size: 6_000_000, limit: 5_242_880 });
    expect(
      toPolybusError('send', Object.assign(new Error('x'), { name: 'PulsarAuthenticationError', retryable: false })),
    ).toMatchObject({ retryable: false, code: 'BROKER_ERROR' });
    expect(
      toPolybusError('send', Object.assign(new Error('x'), { code: 'AuthorizationError', retryable: false })).hint,
    ).toMatch(/token/);
    expect(
      toPolybusError('send', Object.assign(new Error('x'), { name: 'PulsarTimeoutError', retryable: true })).retryable,
    ).toBe(true);
    expect(
      toPolybusError('send', Object.assign(new Error('x'), { name: 'PulsarClosedError', retryable: false })).retryable,
    ).toBe(false);
    const plain = toPolybusError('send', new Error('socket hang up'));
    expect(plain.retryable).toBe(true);
    expect(plain.cause).toBeInstanceOf(Error);
  });
});
