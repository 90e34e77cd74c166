import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { WebSocketServer } from 'ws';
import { MessageId } from '../client/message.js';
import { resolvePulsarOptions } from '../config.js';
import { WebSocketTransport } from './transport.js';

/** A stand-in for the broker's WebSocket producer endpoint that answers only when told to. */
class FakeProxy {
  /** While true, new connections are refused (HTTP 503), as by a proxy that is down. */
  refusing = false;
  readonly server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info: unknown, done: (ok: boolean, code?: number) => void) => done(!this.refusing, 503),
  });
  /** Contexts in the order frames arrived, per connection. */
  readonly connections: string[][] = [];
  #socket: ws.WebSocket | undefined;
  #waiters: Array<() => void> = [];

  constructor() {
    this.server.on('connection', (socket) => {
      const received: string[] = [];
      this.connections.push(received);
      this.#socket = socket;
      for (const wake of this.#waiters.splice(0)) wake();
      socket.on('message', (data) => {
        received.push((JSON.parse(String(data)) as { context: string }).context);
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  listening(): Promise<void> {
    return new Promise((resolve) => {
      if (this.server.address() !== null) resolve();
      else this.server.once('listening', () => resolve());
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get current(): string[] {
    return this.connections[this.connections.length - 1] ?? [];
  }

  async until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  answer(context: string, entry: number): void {
    const messageId = new MessageId(1, entry, -1, -1, 0).serialize().toString('base64');
    this.#socket?.send(JSON.stringify({ result: 'ok', messageId, context }));
  }

  drop(): void {
    this.#socket?.terminate();
  }

  close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function producerOn(proxy: FakeProxy, sendTimeoutMs = 20_000) {
  const transport = new WebSocketTransport(ws, {
    serviceUrl: proxy.url,
    tenant: 'public',
    namespace: 'default',
    token: undefined,
    tls: undefined,
    options: resolvePulsarOptions({ sendTimeoutMs }),
  });
  const producer = await transport.createProducer('persistent://public/default/t');
  cleanup.push(() => transport.close());
  return producer;
}

const message = (n: number) => ({ key: `k${n % 7}`, payload: Buffer.from(String(n)), properties: {}, eventTime: n });

describe('WebSocket producer', () => {
  it('keeps at most 1,000 sends unanswered, writes the rest in order as answers come, and resends the unanswered in order after a dropped connection', async () => {
    const proxy = new FakeProxy();
    cleanup.push(() => proxy.close());
    await proxy.listening();
    const producer = await producerOn(proxy);
    const total = 2_500;
    const ids = Array.from({ length: total }, (_, n) => producer.send(message(n)));

    await proxy.until(() => proxy.current.length === 1_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.current).toHaveLength(1_000);
    expect(proxy.current).toEqual(Array.from({ length: 1_000 }, (_, n) => String(n)));

    // Answering the first 600 lets exactly 600 more out.
    for (let n = 0; n < 600; n++) proxy.answer(String(n), n);
    await proxy.until(() => proxy.current.length === 1_600);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(proxy.current).toHaveLength(1_600);

    // The connection drops: the 1,000 written and unanswered are written again first, in order.
    proxy.drop();
    await proxy.until(() => proxy.connections.length === 2 && proxy.current.length === 1_000);
    expect(proxy.current).toEqual(Array.from({ length: 1_000 }, (_, n) => String(600 + n)));

    for (let n = 600; n < total; n++) {
      await proxy.until(() => proxy.current.includes(String(n)));
      proxy.answer(String(n), n);
    }
    const resolved = await Promise.all(ids);
    expect(resolved).toEqual(Array.from({ length: total }, (_, n) => `1:${n}:-1:-1`));
    expect(proxy.connections[1]).toEqual(Array.from({ length: total - 600 }, (_, n) => String(600 + n)));
  }, 30_000);

  it('times out sends while the proxy is unreachable, and never writes them once it is back', async () => {
    const proxy = new FakeProxy();
    cleanup.push(() => proxy.close());
    await proxy.listening();
    const producer = await producerOn(proxy, 300);
    proxy.refusing = true;
    proxy.drop();
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, n) => producer.send(message(n))));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: 'PulsarTimeoutError', retryable: true });
    }
    proxy.refusing = false;
    await proxy.until(() => proxy.connections.length === 2);
    const later = producer.send(message(50));
    await proxy.until(() => proxy.current.length === 1);
    expect(proxy.current).toEqual(['50']);
    proxy.answer('50', 50);
    await expect(later).resolves.toBe('1:50:-1:-1');
  }, 30_000);
});
