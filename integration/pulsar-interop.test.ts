/**
 * polybus on Pulsar interoperates with other clients, on both transports: messages written
 * through the raw WebSocket API and by the Java client (batched, LZ4-compressed) are delivered
 * with key, properties (headers) and payload intact; messages polybus writes are read by the raw
 * WebSocket API unchanged, with no polybus-specific envelope.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { decodeMessageId } from '../adapters/pulsar/websocket/transport.js';
import { type Broker, connect } from '../src/broker.js';
import { bytes } from '../src/codecs/bytes.js';
import type { Message } from '../src/message.js';
import { spyHandler } from '../src/testing/spy.js';
import { nextFrame, pulsarSocket } from './clients.js';
import { CACHE } from './emulators/common.js';
import { endpoint } from './env.js';

const TRANSPORTS = {
  binary: () => endpoint('PULSAR_URL'),
  websocket: () => endpoint('PULSAR_WS_URL').replace(/^ws(s?):\/\//, 'pulsar+ws$1://'),
} as const;

const buses: Broker[] = [];
afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
});

async function open(transport: keyof typeof TRANSPORTS): Promise<Broker> {
  const bus = await connect(TRANSPORTS[transport]());
  buses.push(bus);
  return bus;
}

const topicName = (what: string) => `interop-${what}-${randomUUID().slice(0, 8)}`;
/** Bytes that are not valid UTF-8, to show payloads are not re-encoded. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7f, 0x0a, 0xc3, 0x28]);

interface WsSendReply {
  result: string;
  messageId?: string;
  context?: string;
}

describe.each(['binary', 'websocket'] as const)('pulsar interop (%s transport)', (transport) => {
  it('delivers what the raw WebSocket API wrote: key, properties, payload and the same id', async () => {
    const bus = await open(transport);
    const topic = topicName(`from-ws-${transport}`);
    const spy = spyHandler<Uint8Array>();
    await bus.consumer<Uint8Array>({ topic, group: 'reader', codec: bytes() }).run(spy.handler);
    const socket = await pulsarSocket(`producer/persistent/public/default/${topic}`);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const reply = nextFrame<WsSendReply>(socket);
        socket.send(
          JSON.stringify({
            payload: Buffer.concat([BINARY, Buffer.from([i])]).toString('base64'),
            key: `order-${i}`,
            properties: { tenant: 't1', ünï: 'välue ✓', i: String(i) },
            context: String(i),
          }),
        );
        const answer = await reply;
        expect(answer.result).toBe('ok');
        ids.push(decodeMessageId(answer.messageId as string));
      }
    } finally {
      socket.close();
    }
    const handled = await spy.waitForHandled(3, 20_000);
    handled.forEach((m: Message<Uint8Array>, i) => {
      expect(m.key).toBe(`order-${i}`);
      expect(m.headers).toEqual({ tenant: 't1', ünï: 'välue ✓', i: String(i) });
      expect(Buffer.from(m.value)).toEqual(Buffer.concat([BINARY, Buffer.from([i])]));
      expect(m.id).toBe(ids[i]);
      expect(m.attempt).toBe(1);
    });
  }, 60_000);

  it('writes messages the raw WebSocket API reads unchanged', async () => {
    const bus = await open(transport);
    const topic = topicName(`to-ws-${transport}`);
    const socket: WebSocket = await pulsarSocket(
      `consumer/persistent/public/default/${topic}/raw-reader?subscriptionType=Exclusive`,
    );
    const frames: Array<{ messageId: string; payload: string; key?: string; properties: Record<string, string> }> = [];
    const got = new Promise<void>((resolve) => {
      socket.on('message', (data) => {
        const frame = JSON.parse(String(data)) as (typeof frames)[number];
        frames.push(frame);
        socket.send(JSON.stringify({ messageId: frame.messageId }));
        if (frames.length === 3) resolve();
      });
    });
    try {
      const receipts = await bus
        .producer<Uint8Array>({ codec: bytes() })
        .send(topic, [
          { key: 'k1', value: BINARY, headers: { a: '1', ünï: 'välue ✓' } },
          { value: new Uint8Array(0) },
          { key: 'k1', value: Buffer.from('{"json":true}'), headers: {} },
        ]);
      await got;
      // Order holds per key only (the binary transport batches per key): line frames up by id.
      const byId = new Map(frames.map((f) => [decodeMessageId(f.messageId), f]));
      expect([...byId.keys()].sort()).toEqual(receipts.map((r) => r.id).sort());
      frames.splice(0, frames.length, ...receipts.map((r) => byId.get(r.id) as (typeof frames)[number]));
      expect(frames.map((f) => f.key)).toEqual(['k1', undefined, 'k1']);
      expect(Buffer.from(frames[0]?.payload ?? '', 'base64')).toEqual(BINARY);
      expect(frames[0]?.properties).toEqual({ a: '1', ünï: 'välue ✓' });
      expect(frames[1]?.payload).toBe('');
      expect(frames[1]?.properties).toEqual({});
      expect(Buffer.from(frames[2]?.payload ?? '', 'base64').toString()).toBe('{"json":true}');
    } finally {
      socket.close();
    }
  }, 60_000);
});

/** A small Java program: produce,topic,count with batching (KEY_BASED) and LZ4, keys and a property. */
const JAVA_PRODUCER = `
import org.apache.pulsar.client.api.*;
import java.util.*;
import java.util.concurrent.*;

public class JavaProducer {
  public static void main(String[] args) throws Exception {
    try (PulsarClient client = PulsarClient.builder().serviceUrl(args[0]).build()) {
      Producer<byte[]> producer = client.newProducer().topic(args[1])
        .compressionType(CompressionType.LZ4).enableBatching(true)
        .batchingMaxPublishDelay(50, TimeUnit.MILLISECONDS).batcherBuilder(BatcherBuilder.KEY_BASED).create();
      int count = Integer.parseInt(args[2]);
      List<CompletableFuture<MessageId>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        sent.add(producer.newMessage().key("k" + (i % 3)).property("i", String.valueOf(i))
          .value(("java " + i + " " + "abc".repeat(20 + i)).getBytes("UTF-8")).sendAsync());
      }
      producer.flush();
      for (CompletableFuture<MessageId> f : sent) f.get(30, TimeUnit.SECONDS);
      producer.close();
      System.out.println("PRODUCED " + count);
    }
  }
}
`;

describe('pulsar interop: the Java client', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulsar-polybus-interop-'));
    writeFileSync(join(dir, 'JavaProducer.java'), JAVA_PRODUCER);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers batched, LZ4-compressed Java messages with key and properties, on both transports, in key order', async () => {
    const topic = topicName('java');
    const count = 30;
    const spies = await Promise.all(
      (['binary', 'websocket'] as const).map(async (transport) => {
        const bus = await open(transport);
        const spy = spyHandler<Uint8Array>();
        await bus
          .consumer<Uint8Array>({ topic, group: `polybus-${transport}`, codec: bytes(), concurrency: 4 })
          .run(spy.handler);
        return spy;
      }),
    );
    const { stdout } = await promisify(execFile)(
      'java',
      [
        '-Xmx256m',
        '-cp',
        join(CACHE, 'pulsar-4.0.7', 'libs', '*'),
        join(dir, 'JavaProducer.java'),
        endpoint('PULSAR_URL'),
        `persistent://public/default/${topic}`,
        String(count),
      ],
      { maxBuffer: 8 * 1024 * 1024, timeout: 110_000 },
    );
    expect(stdout).toContain(`PRODUCED ${count}`);
    for (const spy of spies) {
      const handled = await spy.waitForHandled(count, 30_000);
      for (const m of handled) {
        const i = Number(m.headers.i);
        expect(Buffer.from(m.value).toString()).toBe(`java ${i} ${'abc'.repeat(20 + i)}`);
        expect(m.key).toBe(`k${i % 3}`);
        expect(m.headers).toEqual({ i: String(i) });
      }
      expect(new Set(handled.map((m) => m.headers.i)).size).toBe(count);
      // Per key, in send order.
      for (const key of ['k0', 'k1', 'k2']) {
        const order = handled.filter((m) => m.key === key).map((m) => Number(m.headers.i));
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
    }
  }, 150_000);
});
