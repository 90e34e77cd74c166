/**
 * Producer flow control against a small in-process fake broker that holds its receipts until the
 * test releases them: `maxPendingMessages` bounds what is unconfirmed, waiters go in arrival
 * order, one per freed slot, and the broker sees every message in send order.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBatch } from './batch.js';
import { PulsarClient } from './client.js';
import { type BaseCommand, CommandType, LookupType, type MessageMetadata } from './commands.js';
import { PulsarClosedError } from './errors.js';
import { encodeCommand, encodePayloadCommand, encodeSendFrame, FrameDecoder, parsePayload } from './frame.js';
import type { MessageId } from './message.js';

interface Sent {
  producerId: number;
  sequenceId: number;
  numMessages: number;
  metadata: MessageMetadata;
  payload: Buffer;
}

/** A broker that accepts a producer and records SENDs, answering them only on `confirm`. */
class HoldingBroker {
  readonly sent: Sent[] = [];
  private confirmed = 0;
  /** Confirms every SEND at once (for tearing down). */
  autoConfirm = false;
  private socket: net.Socket | undefined;
  private server!: net.Server;
  port = 0;

  async start(): Promise<this> {
    this.server = net.createServer((socket) => {
      this.socket = socket;
      socket.on('error', () => {});
      const decoder = new FrameDecoder(64 * 1024 * 1024);
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          const answer = this.answer(frame.command, frame.buffer, frame.payloadOffset);
          if (answer) socket.write(encodeCommand(answer));
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Messages the broker has and has not confirmed yet. */
  get unconfirmed(): number {
    let n = 0;
    for (let i = this.confirmed; i < this.sent.length; i++) n += (this.sent[i] as Sent).numMessages;
    return n;
  }

  get messages(): number {
    let n = 0;
    for (const s of this.sent) n += s.numMessages;
    return n;
  }

  /** Confirms the next `entries` SENDs, all receipts in one socket write. */
  confirm(entries: number): void {
    const frames: Buffer[] = [];
    for (let i = 0; i < entries && this.confirmed < this.sent.length; i++) {
      const s = this.sent[this.confirmed] as Sent;
      frames.push(
        encodeCommand({
          type: CommandType.SEND_RECEIPT,
          sendReceipt: {
            producerId: s.producerId,
            sequenceId: s.sequenceId,
            messageId: { ledgerId: 1, entryId: this.confirmed },
          },
        }),
      );
      this.confirmed++;
    }
    this.socket?.write(Buffer.concat(frames));
  }

  private answer(command: BaseCommand, buffer: Buffer, payloadOffset: number): BaseCommand | undefined {
    switch (command.type) {
      case CommandType.CONNECT:
        return {
          type: CommandType.CONNECTED,
          connected: { serverVersion: 'fake', protocolVersion: 20, maxMessageSize: 5 * 1024 * 1024 },
        };
      case CommandType.PARTITIONED_METADATA:
        return {
          type: CommandType.PARTITIONED_METADATA_RESPONSE,
          partitionMetadataResponse: { requestId: command.partitionMetadata?.requestId as number, partitions: 0 },
        };
      case CommandType.LOOKUP:
        return {
          type: CommandType.LOOKUP_RESPONSE,
          lookupTopicResponse: {
            requestId: command.lookupTopic?.requestId as number,
            response: LookupType.Connect,
            brokerServiceUrl: `pulsar://127.0.0.1:${this.port}`,
            authoritative: true,
          },
        };
      case CommandType.PRODUCER:
        return {
          type: CommandType.PRODUCER_SUCCESS,
          producerSuccess: { requestId: command.producer?.requestId as number, producerName: 'fake-producer' },
        };
      case CommandType.CLOSE_PRODUCER:
        return { type: CommandType.SUCCESS, success: { requestId: command.closeProducer?.requestId as number } };
      case CommandType.SEND: {
        const send = command.send as NonNullable<BaseCommand['send']>;
        const { metadata, payload } = parsePayload(buffer, payloadOffset);
        this.sent.push({
          producerId: send.producerId,
          sequenceId: send.sequenceId,
          numMessages: send.numMessages ?? 1,
          metadata,
          payload,
        });
        if (this.autoConfirm) this.confirm(Number.MAX_SAFE_INTEGER);
        return undefined;
      }
      default:
        return undefined;
    }
  }

  async stop(): Promise<void> {
    this.socket?.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(maxPendingMessages: number, batching: boolean) {
  const broker = await new HoldingBroker().start();
  cleanups.push(() => broker.stop());
  const client = new PulsarClient({ serviceUrl: `pulsar://127.0.0.1:${broker.port}`, operationTimeoutMs: 2000 });
  cleanups.push(async () => {
    broker.autoConfirm = true;
    broker.confirm(Number.MAX_SAFE_INTEGER);
    await client.close();
  });
  const producer = await client.createProducer({
    topic: 't',
    maxPendingMessages,
    batching: batching ? { maxMessages: 7, maxDelayMs: 1 } : false,
    sendTimeoutMs: 0,
  });
  return { broker, producer };
}

const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));
const payloadOf = (i: number) => Buffer.from(`m${i}`);

describe('producer flow control', () => {
  for (const batching of [false, true]) {
    it(`keeps at most maxPendingMessages unconfirmed with 10× that many sends at once (batching ${batching})`, async () => {
      const max = 50;
      const total = 10 * max;
      const { broker, producer } = await setup(max, batching);
      const order: number[] = [];
      const sends: Promise<MessageId>[] = [];
      for (let i = 0; i < total; i++) {
        sends.push(
          producer.send({ payload: payloadOf(i), key: `k${i % 3}` }).then((id) => {
            order.push(i);
            return id;
          }),
        );
      }
      await expect.poll(() => broker.messages).toBe(max);
      expect(producer.pendingCount).toBe(max);
      let peak = 0;
      while (broker.messages < total) {
        // Free room in bursts: all receipts of a burst arrive in one chunk.
        broker.confirm(max);
        await settle(batching ? 10 : 5);
        peak = Math.max(peak, broker.unconfirmed, producer.pendingCount);
        expect(broker.unconfirmed).toBeLessThanOrEqual(max);
        expect(producer.pendingCount).toBeLessThanOrEqual(max);
      }
      broker.confirm(Number.MAX_SAFE_INTEGER);
      await Promise.all(sends);
      expect(peak).toBeLessThanOrEqual(max);
      // Confirmed in send order (per key when batching: a batch holds one key's messages).
      expect(order.length).toBe(total);
      if (!batching) expect(order).toEqual(Array.from({ length: total }, (_, i) => i));
      for (let k = 0; k < 3; k++) {
        const mine = order.filter((i) => i % 3 === k);
        expect(mine).toEqual(mine.slice().sort((a, b) => a - b));
      }
      // The broker got them in send order, with increasing sequence ids.
      const seen: string[] = [];
      for (const s of broker.sent) {
        if (s.metadata.numMessagesInBatch === undefined) seen.push(s.payload.toString());
        else seen.push(...decodeBatchPayloads(s.payload, s.numMessages));
      }
      if (!batching) expect(seen).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
      // Per key, in order.
      for (const key of ['k0', 'k1', 'k2']) {
        const mine = seen.filter((p) => `k${Number(p.slice(1)) % 3}` === key);
        expect(mine).toEqual(mine.slice().sort(byNumber));
      }
      expect(seen.length).toBe(total);
      const sequenceIds = broker.sent.map((s) => s.sequenceId);
      expect(sequenceIds).toEqual(sequenceIds.slice().sort((a, b) => a - b));
    });
  }

  it('releases waiters one by one, in arrival order, as receipts free room', async () => {
    const max = 4;
    const { broker, producer } = await setup(max, false);
    const resolved: number[] = [];
    const sends = Array.from({ length: 12 }, (_, i) =>
      producer.send({ payload: payloadOf(i) }).then(() => resolved.push(i)),
    );
    await expect.poll(() => broker.sent.length).toBe(4);
    for (let step = 1; step <= 8; step++) {
      broker.confirm(1);
      // Exactly one more message reaches the broker per receipt, the oldest waiting one.
      await expect.poll(() => broker.sent.length).toBe(4 + step);
      await settle(5);
      expect(broker.sent.length).toBe(4 + step);
      expect(broker.sent.at(-1)?.payload.toString()).toBe(`m${3 + step}`);
      expect(producer.pendingCount).toBe(max);
    }
    // A send made while others wait queues behind them, even when room frees right away.
    const late = producer.send({ payload: payloadOf(12) }).then(() => resolved.push(12));
    broker.confirm(Number.MAX_SAFE_INTEGER);
    await expect.poll(() => broker.sent.length).toBe(13);
    broker.confirm(Number.MAX_SAFE_INTEGER);
    await Promise.all([...sends, late]);
    expect(broker.sent.map((s) => s.payload.toString())).toEqual(Array.from({ length: 13 }, (_, i) => `m${i}`));
    expect(resolved).toEqual(Array.from({ length: 13 }, (_, i) => i));
  });

  it('rejects waiting sends when the producer closes', async () => {
    const { broker, producer } = await setup(2, false);
    const first = [producer.send({ payload: payloadOf(0) }), producer.send({ payload: payloadOf(1) })];
    const waiting = producer.send({ payload: payloadOf(2) });
    await expect.poll(() => broker.sent.length).toBe(2);
    const closing = producer.close();
    await expect(waiting).rejects.toBeInstanceOf(PulsarClosedError);
    broker.confirm(2);
    await closing;
    await Promise.all(first);
    expect(broker.sent.length).toBe(2);
  });
});

describe('SEND frames', () => {
  it('encodes exactly as the generic encoder does', () => {
    const payload = Buffer.from('hello, pulsar');
    const cases: Array<{ numMessages?: number; highest?: number; metadata: MessageMetadata }> = [
      { metadata: { producerName: 'p', sequenceId: 0, publishTime: 1_700_000_000_123, properties: [] } },
      {
        numMessages: 3,
        highest: 2 ** 40 + 5,
        metadata: {
          producerName: 'standalone-0-17',
          sequenceId: 2 ** 40 + 3,
          publishTime: 1_700_000_000_123,
          properties: [
            { key: 'a', value: 'b' },
            { key: 'é', value: '' },
          ],
          partitionKey: 'ключ',
          compression: 1,
          uncompressedSize: 1234,
          numMessagesInBatch: 3,
          eventTime: 42,
          orderingKey: Buffer.from([0, 1, 2]),
          highestSequenceId: 2 ** 40 + 5,
        },
      },
    ];
    for (const { numMessages, highest, metadata } of cases) {
      const send = { producerId: 300, sequenceId: metadata.sequenceId, numMessages, highestSequenceId: highest };
      const expected = encodePayloadCommand({ type: CommandType.SEND, send }, metadata, payload);
      expect(encodeSendFrame(send, metadata, payload)).toEqual(expected);
    }
  });
});

function byNumber(a: string, b: string): number {
  return Number(a.slice(1)) - Number(b.slice(1));
}

function decodeBatchPayloads(payload: Buffer, count: number): string[] {
  return decodeBatch(payload, count).map((entry) => entry.payload.toString());
}
