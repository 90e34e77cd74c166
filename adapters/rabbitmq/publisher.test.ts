import { EventEmitter } from 'node:events';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { BrokerError, ClosedError, InvalidConfigError, MessageTooLargeError } from '../../src/errors.js';
import type { RabbitConnection } from './connection.js';
import { KEY_HEADER, publishOptions, RabbitPublisher, TIMESTAMP_HEADER } from './publisher.js';

const record = (over: Partial<{ key: string; headers: Record<string, string>; value: Uint8Array }> = {}) => ({
  value: over.value ?? new Uint8Array([1, 2, 3]),
  headers: over.headers ?? {},
  timestamp: 1_700_000_000_123,
  ...(over.key === undefined ? {} : { key: over.key }),
});

describe('publishOptions', () => {
  it('carries key, timestamp and headers as AMQP properties', () => {
    const options = publishOptions(record({ key: 'k-1', headers: { tenant: 't1' } }), 'id-1', 1024);
    expect(options).toEqual({
      persistent: true,
      messageId: 'id-1',
      timestamp: 1_700_000_000,
      headers: { tenant: 't1', [KEY_HEADER]: 'k-1', [TIMESTAMP_HEADER]: '1700000000123' },
    });
    expect(publishOptions(record(), 'id', 1024).headers).not.toHaveProperty(KEY_HEADER);
  });

  it('refuses oversized bodies, header names and tables before sending', () => {
    expect(() => publishOptions(record({ value: new Uint8Array(2000) }), 'id', 1024)).toThrow(MessageTooLargeError);
    expect(() => publishOptions(record({ headers: { ['n'.repeat(256)]: 'v' } }), 'id', 1024)).toThrow(/255/);
    expect(() => publishOptions(record({ headers: { big: 'x'.repeat(70_000) } }), 'id', 1024)).toThrow(
      /"big" \(70009 bytes\)/,
    );
    expect(() => publishOptions(record({ key: 'k'.repeat(66_000) }), 'id', 1024)).toThrow(/the key/);
    expect(() => publishOptions(record({ headers: { [KEY_HEADER]: 'x' } }), 'id', 1024)).toThrow(InvalidConfigError);
    // Just under the limit is fine: 4 + 6 + 1 + v + the timestamp header.
    const fits = 65_536 - 4 - 6 - 1 - (6 + TIMESTAMP_HEADER.length + 13);
    expect(() => publishOptions(record({ headers: { a: 'x'.repeat(fits) } }), 'id', 1024)).not.toThrow();
    expect(() => publishOptions(record({ headers: { a: 'x'.repeat(fits + 1) } }), 'id', 1024)).toThrow();
  });
});

type ConfirmCallback = (error: Error | null) => void;

/** A confirm channel that records writes and confirms on demand. */
class FakeChannel extends EventEmitter {
  readonly written: Array<{ body: string; id: string; callback: ConfirmCallback }> = [];
  accept = true;
  open = true;
  publish(_exchange: string, _key: string, content: Buffer, options: { messageId: string }, callback: ConfirmCallback) {
    if (!this.open) throw new Error('Channel closed');
    this.written.push({ body: content.toString(), id: options.messageId, callback });
    return this.accept;
  }
  confirmAll(): void {
    for (const write of this.written.splice(0)) write.callback(null);
  }
  async close(): Promise<void> {
    this.die();
  }
  die(): void {
    if (!this.open) return;
    this.open = false;
    for (const write of this.written.splice(0)) write.callback(new Error('channel closed'));
    this.emit('close');
  }
}

function setup(confirmTimeoutMs = 1_000) {
  const channels: FakeChannel[] = [];
  const hooks: Array<(model: ChannelModel) => Promise<void>> = [];
  const model = {
    createConfirmChannel: async () => {
      const channel = new FakeChannel();
      channels.push(channel);
      return channel as unknown as ConfirmChannel;
    },
  } as unknown as ChannelModel;
  let current: ChannelModel | undefined = model;
  const connection = {
    get current() {
      return current;
    },
    onReconnect: (hook: (model: ChannelModel) => Promise<void>) => {
      hooks.push(hook);
      return () => {};
    },
    status: () => ({ ok: current !== undefined, detail: current ? 'up' : 'reconnecting' }),
  } as unknown as RabbitConnection;
  const publisher = new RabbitPublisher({
    connection,
    exchange: 'polybus',
    confirmTimeoutMs,
    maxMessageBytes: 1024,
    onError: () => {},
  });
  return {
    publisher,
    channels,
    model,
    down: () => {
      current = undefined;
    },
    reconnect: async () => {
      current = model;
      for (const hook of hooks) await hook(model);
    },
  };
}

const bodies = (...texts: string[]) => texts.map((text) => record({ value: Buffer.from(text) }));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RabbitPublisher', () => {
  it('resolves a send once every message is confirmed, with one receipt each', async () => {
    const { publisher, channels, model } = setup();
    await publisher.start(model);
    const sent = publisher.publish('orders', bodies('a', 'b'));
    const channel = channels[0] as FakeChannel;
    expect(channel.written.map((w) => w.body)).toEqual(['a', 'b']);
    const ids = channel.written.map((w) => w.id);
    channel.confirmAll();
    expect(await sent).toEqual(ids.map((id) => ({ id, topic: 'orders' })));
  });

  it('waits for drain when the channel buffer is full', async () => {
    const { publisher, channels, model } = setup();
    await publisher.start(model);
    const channel = channels[0] as FakeChannel;
    channel.accept = false;
    const sent = publisher.publish('orders', bodies('a', 'b', 'c'));
    expect(channel.written.map((w) => w.body)).toEqual(['a']);
    channel.accept = true;
    channel.emit('drain');
    expect(channel.written.map((w) => w.body)).toEqual(['a', 'b', 'c']);
    channel.confirmAll();
    await expect(sent).resolves.toHaveLength(3);
  });

  it('writes unconfirmed messages again after a reconnect, ahead of later ones, with the same ids', async () => {
    const { publisher, channels, model, down, reconnect } = setup();
    await publisher.start(model);
    const first = channels[0] as FakeChannel;
    const one = publisher.publish('orders', bodies('a', 'b'));
    const ids = first.written.map((w) => w.id);
    down();
    first.die();
    const two = publisher.publish('orders', bodies('c'));
    await tick();
    expect(channels).toHaveLength(1);
    await reconnect();
    const second = channels[1] as FakeChannel;
    expect(second.written.map((w) => w.body)).toEqual(['a', 'b', 'c']);
    expect(second.written.slice(0, 2).map((w) => w.id)).toEqual(ids);
    second.confirmAll();
    await expect(one).resolves.toHaveLength(2);
    await expect(two).resolves.toHaveLength(1);
  });

  it('rejects with a retryable BrokerError when not confirmed in time, also while disconnected', async () => {
    const { publisher, channels, model, down } = setup(150);
    await publisher.start(model);
    down();
    (channels[0] as FakeChannel).die();
    const started = Date.now();
    const error = await publisher.publish('orders', bodies('a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect(String(error)).toMatch(/confirmTimeoutMs \(150 ms\); reconnecting/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('rejects a send the broker nacks, and refuses sends after close', async () => {
    const { publisher, channels, model } = setup();
    await publisher.start(model);
    const sent = publisher.publish('orders', bodies('a'));
    (channels[0] as FakeChannel).written[0]?.callback(new Error('message nacked'));
    await expect(sent).rejects.toThrow(/basic.nack/);
    await publisher.close();
    await expect(publisher.publish('orders', bodies('b'))).rejects.toBeInstanceOf(ClosedError);
  });

  it('sends nothing of a batch with one bad message', async () => {
    const { publisher, channels, model } = setup();
    await publisher.start(model);
    const batch = [...bodies('a'), record({ value: new Uint8Array(5000) })];
    await expect(publisher.publish('orders', batch)).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(publisher.publish('t'.repeat(300), bodies('a'))).rejects.toBeInstanceOf(InvalidConfigError);
    expect((channels[0] as FakeChannel).written).toHaveLength(0);
  });
});
