/**
 * Kinesis streams shared with programs that are not polybus: records written by the raw SDK are
 * delivered as plain payloads (key = partition key, no headers); records written by polybus with
 * envelope=false are read by the raw SDK unchanged; enveloped records unwrap with the documented
 * format; envelope=false refuses headers with a clear error (tracing included).
 */
import { randomUUID } from 'node:crypto';
import { type _Record, GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HeadersNotSupportedError,
  LeaseTableNotFoundError,
  TopicNotFoundError,
  unwrap,
} from '../adapters/kinesis/index.js';
import { type Broker, connect } from '../src/broker.js';
import { string } from '../src/codecs/string.js';
import { tracing } from '../src/middleware/tracing.js';
import { spyHandler } from '../src/testing/spy.js';
import { installTestTracing } from '../src/testing/tracing.js';
import { type KinesisConfig, parseBrokerUrl } from '../src/url.js';
import { createStream, kinesis } from './clients.js';
import { endpoint } from './env.js';

function open(envelope: boolean, autoCreate = true): Promise<Broker> {
  return connect({
    ...parseBrokerUrl(
      `kinesis://us-east-1?endpoint=${endpoint('KINESIS_ENDPOINT')}&accessKeyId=local&secretAccessKey=local`,
    ),
    dynamoEndpoint: endpoint('DYNAMODB_ENDPOINT'),
    envelope,
    autoCreate,
    pollIntervalMs: 250,
  } as KinesisConfig);
}

/** Every record of a one-shard stream, read with the raw SDK. */
async function readAll(stream: string, shardId: string, count: number, waitMs = 10_000): Promise<_Record[]> {
  const client = kinesis();
  try {
    let { ShardIterator: iterator } = await client.send(
      new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const records: _Record[] = [];
    const deadline = Date.now() + waitMs;
    while (records.length < count && iterator && Date.now() < deadline) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...(page.Records ?? []));
      iterator = page.NextShardIterator;
      if (records.length < count) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return records;
  } finally {
    client.destroy();
  }
}

describe('interop: kinesis', () => {
  const opened: Broker[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((bus) => bus.close()));
  });

  it('delivers records written by the raw SDK as plain payloads, key = partition key, no headers', async () => {
    const stream = `interop-in-${randomUUID().slice(0, 8)}`;
    const client = kinesis();
    await createStream(client, stream);
    const bus = await open(true);
    opened.push(bus);
    const spy = spyHandler<string>();
    await bus.consumer<string>({ topic: stream, group: 'reader', from: 'earliest', codec: string() }).run(spy.handler);
    const texts = ['{"id":1}', 'plain text', '', 'ünïcode ✓'];
    await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: texts.map((text, i) => ({ PartitionKey: `pk-${i}`, Data: new TextEncoder().encode(text) })),
      }),
    );
    client.destroy();
    const handled = await spy.waitForHandled(texts.length, 15_000);
    expect(handled.map((m) => m.value)).toEqual(texts);
    expect(handled.map((m) => m.key)).toEqual(['pk-0', 'pk-1', 'pk-2', 'pk-3']);
    for (const message of handled) {
      expect(message.headers).toEqual({});
      expect(message.attempt).toBe(1);
      expect((message.raw as { enveloped: boolean }).enveloped).toBe(false);
    }
  }, 60_000);

  it('writes raw records with envelope=false that the raw SDK reads unchanged', async () => {
    const stream = `interop-out-${randomUUID().slice(0, 8)}`;
    const shardId = await createStream(kinesis(), stream);
    const bus = await open(false);
    opened.push(bus);
    const producer = bus.producer<string>({ codec: string() });
    const receipts = await producer.send(stream, [
      { key: 'order-1', value: '{"total":42}' },
      { key: 'order-2', value: 'second' },
    ]);
    const records = await readAll(stream, shardId, 2);
    expect(records.map((r) => new TextDecoder().decode(r.Data))).toEqual(['{"total":42}', 'second']);
    expect(records.map((r) => r.PartitionKey)).toEqual(['order-1', 'order-2']);
    expect(receipts.map((r) => r.sequence)).toEqual(records.map((r) => r.SequenceNumber));

    // Headers have no place in a raw record: refused before sending, saying why.
    await expect(producer.send(stream, { key: 'k', value: 'x', headers: { tenant: 't1' } })).rejects.toBeInstanceOf(
      HeadersNotSupportedError,
    );
    installTestTracing();
    const traced = bus.producer<string>({ codec: string(), use: [tracing()] });
    await expect(traced.send(stream, { key: 'k', value: 'x' })).rejects.toThrow(
      /envelope=false.*traceparent.*trace context cannot propagate/s,
    );
    expect(await readAll(stream, shardId, 3, 1_500)).toHaveLength(2);
  }, 60_000);

  it('writes enveloped records that a reader unwraps with the documented format', async () => {
    const stream = `interop-env-${randomUUID().slice(0, 8)}`;
    const shardId = await createStream(kinesis(), stream);
    const bus = await open(true);
    opened.push(bus);
    await bus
      .producer<string>({ codec: string() })
      .send(stream, [{ key: 'k', value: 'payload', headers: { tenant: 't1' } }, { value: 'no key' }]);
    const [withKey, withoutKey] = await readAll(stream, shardId, 2);
    const first = unwrap(withKey?.Data ?? new Uint8Array());
    expect([...(withKey?.Data ?? []).slice(0, 6)]).toEqual([0xc1, 0xb5, 0x50, 0x42, 0x01, 0x00]);
    expect(new TextDecoder().decode(first.payload)).toBe('payload');
    expect(first.headers).toEqual({ tenant: 't1' });
    expect(withKey?.PartitionKey).toBe('k');
    const second = unwrap(withoutKey?.Data ?? new Uint8Array());
    expect(second.keyless).toBe(true);
    expect(new TextDecoder().decode(second.payload)).toBe('no key');
  }, 60_000);

  it('with autoCreate=false, names the missing stream or lease table and creates nothing', async () => {
    const bus = await open(true, false);
    opened.push(bus);
    const missing = `interop-missing-${randomUUID().slice(0, 8)}`;
    await expect(bus.producer<string>({ codec: string() }).send(missing, { value: 'x' })).rejects.toBeInstanceOf(
      TopicNotFoundError,
    );
    const consumer = bus.consumer<string>({ topic: missing, group: 'g', codec: string() });
    await expect(consumer.run(() => {})).rejects.toThrow(/does not exist.*create-stream/s);
    const stream = `interop-nolease-${randomUUID().slice(0, 8)}`;
    await createStream(kinesis(), stream);
    const reader = bus.consumer<string>({ topic: stream, group: 'no-table', codec: string() });
    await expect(reader.run(() => {})).rejects.toBeInstanceOf(LeaseTableNotFoundError);
  }, 60_000);
});
