import type { PutRecordsCommandInput, PutRecordsCommandOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, MessageTooLargeError } from '../../src/errors.js';
import type { KinesisApi } from './clients.js';
import { unwrap } from './envelope.js';
import { HeadersNotSupportedError } from './errors.js';
import { KinesisPublisher, MAX_RECORD_BYTES } from './publisher.js';

type Answer = (
  input: PutRecordsCommandInput,
  call: number,
) => Promise<PutRecordsResultEntry[]> | PutRecordsResultEntry[];

/** A Kinesis that records PutRecords calls and answers them as told (written records in `log`). */
function fakeKinesis(answer?: Answer) {
  const calls: PutRecordsCommandInput[] = [];
  const log: Array<{ key: string; data: Uint8Array; seq: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let seq = 1000;
  const api = {
    putRecords: async (input: PutRecordsCommandInput): Promise<PutRecordsCommandOutput> => {
      calls.push(input);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 2));
        const results = answer
          ? await answer(input, calls.length)
          : (input.Records ?? []).map(() => ({}) as PutRecordsResultEntry);
        const out = results.map((result, i) => {
          if (result.ErrorCode !== undefined) return result;
          const record = input.Records?.[i];
          const sequence = String(++seq);
          log.push({ key: record?.PartitionKey ?? '', data: record?.Data ?? new Uint8Array(), seq: sequence });
          return { ShardId: 'shardId-000000000000', SequenceNumber: sequence };
        });
        return { Records: out, $metadata: {} } as PutRecordsCommandOutput;
      } finally {
        inFlight--;
      }
    },
  } as unknown as KinesisApi;
  return { api, calls, log, maxInFlight: () => maxInFlight };
}

function publisher(
  api: KinesisApi,
  options: { envelope?: boolean; sendTimeoutMs?: number; ensureStream?: () => Promise<unknown> } = {},
) {
  return new KinesisPublisher({
    kinesis: api,
    ensureStream: options.ensureStream ?? (async () => undefined),
    forgetStream: () => undefined,
    envelope: options.envelope ?? true,
    sendTimeoutMs: options.sendTimeoutMs ?? 5_000,
  });
}

const record = (key: string | undefined, text: string, headers: Record<string, string> = {}): TransportRecord => ({
  ...(key === undefined ? {} : { key }),
  value: new TextEncoder().encode(text),
  headers,
  timestamp: 0,
});

const payloads = (log: Array<{ data: Uint8Array }>) =>
  log.map((entry) => new TextDecoder().decode(unwrap(entry.data).payload));

describe('KinesisPublisher', () => {
  it('returns one receipt per record, with the shard and sequence number as id', async () => {
    const kinesis = fakeKinesis();
    const receipts = await publisher(kinesis.api).publish('orders', [record('a', '1'), record('b', '2')]);
    expect(receipts).toEqual([
      { id: 'shardId-000000000000-1001', topic: 'orders', partition: 'shardId-000000000000', sequence: '1001' },
      { id: 'shardId-000000000000-1002', topic: 'orders', partition: 'shardId-000000000000', sequence: '1002' },
    ]);
  });

  it('wraps records in the envelope; a send without keys gets one random partition key', async () => {
    const kinesis = fakeKinesis();
    await publisher(kinesis.api).publish('orders', [record(undefined, 'x', { h: 'v' }), record(undefined, 'y')]);
    const [first, second] = kinesis.log;
    expect(first?.key).toBe(second?.key);
    expect(first?.key.length).toBeGreaterThan(8);
    expect(unwrap(first?.data ?? new Uint8Array())).toMatchObject({
      enveloped: true,
      keyless: true,
      headers: { h: 'v' },
    });
    await publisher(kinesis.api).publish('orders', [record(undefined, 'z')]);
    expect(kinesis.log[2]?.key).not.toBe(first?.key);
  });

  it('writes raw payloads with envelope=false and refuses headers, saying why tracing cannot work', async () => {
    const kinesis = fakeKinesis();
    const raw = publisher(kinesis.api, { envelope: false });
    await raw.publish('orders', [record('k', 'plain')]);
    expect(new TextDecoder().decode(kinesis.log[0]?.data)).toBe('plain');
    const refused = raw.publish('orders', [record('k', 'x', { traceparent: '00-abc' })]);
    await expect(refused).rejects.toBeInstanceOf(HeadersNotSupportedError);
    await expect(refused).rejects.toThrow(/envelope=false.*traceparent.*tracing\(\)/s);
    expect(kinesis.calls).toHaveLength(1);
  });

  it('refuses a record over 1 MiB including its partition key before sending', async () => {
    const kinesis = fakeKinesis();
    const pub = publisher(kinesis.api, { envelope: false });
    const exact = { key: 'k', value: new Uint8Array(MAX_RECORD_BYTES - 1), headers: {}, timestamp: 0 };
    await pub.publish('orders', [exact]);
    const over = { key: 'kk', value: new Uint8Array(MAX_RECORD_BYTES - 1), headers: {}, timestamp: 0 };
    await expect(pub.publish('orders', [over])).rejects.toBeInstanceOf(MessageTooLargeError);
    await expect(pub.publish('orders', [record('', 'x')])).rejects.toThrow(/1 to 256 characters/);
    await expect(pub.publish('orders', [record('k'.repeat(257), 'x')])).rejects.toThrow(/1 to 256 characters/);
    expect(kinesis.calls).toHaveLength(1);
  });

  it('splits calls at 500 records and 5 MiB', async () => {
    const kinesis = fakeKinesis();
    const pub = publisher(kinesis.api);
    const many = Array.from({ length: 1200 }, (_, i) => record(`k${i}`, `m${i}`));
    await Promise.all([
      pub.publish('s', many.slice(0, 500)),
      pub.publish('s', many.slice(500, 1000)),
      pub.publish('s', many.slice(1000)),
    ]);
    expect(kinesis.calls.every((call) => (call.Records?.length ?? 0) <= 500)).toBe(true);
    const big = Array.from({ length: 12 }, (_, i) => ({
      key: `b${i}`,
      value: new Uint8Array(1_000_000),
      headers: {},
      timestamp: 0,
    }));
    kinesis.calls.length = 0;
    await pub.publish('s', big);
    for (const call of kinesis.calls) {
      const bytes = (call.Records ?? []).reduce(
        (sum, r) => sum + (r.Data?.byteLength ?? 0) + (r.PartitionKey?.length ?? 0),
        0,
      );
      expect(bytes).toBeLessThanOrEqual(5 * 1_048_576);
    }
    expect(kinesis.calls.length).toBeGreaterThanOrEqual(3);
  });

  it('on a partial failure resends the failed record and every later record of its key, in order', async () => {
    let failed = false;
    const kinesis = fakeKinesis((input) =>
      (input.Records ?? []).map((r) => {
        if (!failed && new TextDecoder().decode(unwrap(r.Data ?? new Uint8Array()).payload) === 'a1') {
          failed = true;
          return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };
        }
        return {};
      }),
    );
    const receipts = await publisher(kinesis.api).publish('s', [
      record('a', 'a0'),
      record('a', 'a1'),
      record('b', 'b0'),
      record('a', 'a2'),
      record('b', 'b1'),
    ]);
    // a2 was written once after the failed a1, then again after the resent a1.
    expect(payloads(kinesis.log)).toEqual(['a0', 'b0', 'a2', 'b1', 'a1', 'a2']);
    const aOrder = payloads(kinesis.log.filter((entry) => entry.key === 'a'));
    expect(aOrder.slice(-2)).toEqual(['a1', 'a2']);
    // Receipts point at the copies that keep the order.
    expect(receipts[1]?.sequence).toBe(kinesis.log[4]?.seq);
    expect(receipts[3]?.sequence).toBe(kinesis.log[5]?.seq);
    expect(kinesis.calls).toHaveLength(2);
  });

  it('retries throttled calls with backoff, and never has two calls in flight for one key', async () => {
    let calls = 0;
    const kinesis = fakeKinesis(async (input) => {
      calls++;
      if (calls <= 2) {
        throw Object.assign(new Error('Rate exceeded'), {
          name: 'ProvisionedThroughputExceededException',
          $metadata: { httpStatusCode: 400 },
        });
      }
      return (input.Records ?? []).map(() => ({}));
    });
    const pub = publisher(kinesis.api);
    const sends = Array.from({ length: 20 }, (_, i) => pub.publish('s', [record(`k${i % 2}`, `${i}`)]));
    await Promise.all(sends);
    const perKey = (key: string) => payloads(kinesis.log.filter((entry) => entry.key === key)).map(Number);
    expect(perKey('k0')).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(perKey('k1')).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    // Concurrent sends shared calls.
    expect(kinesis.calls.length).toBeLessThan(20);
  });

  it('rejects with a retryable BrokerError when Kinesis stays unreachable past sendTimeoutMs', async () => {
    const kinesis = fakeKinesis(() => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4567'), { code: 'ECONNREFUSED' });
    });
    const started = Date.now();
    const sent = publisher(kinesis.api, { sendTimeoutMs: 1_000 }).publish('s', [record('k', 'x')]);
    await expect(sent).rejects.toBeInstanceOf(BrokerError);
    await expect(sent).rejects.toMatchObject({ retryable: true });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(kinesis.calls.length).toBeGreaterThan(1);
  });

  it('rejects at once, not retryable, when Kinesis refuses the request', async () => {
    const kinesis = fakeKinesis(() => {
      throw Object.assign(new Error('bad'), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    });
    await expect(publisher(kinesis.api).publish('s', [record('k', 'x')])).rejects.toMatchObject({ retryable: false });
    expect(kinesis.calls).toHaveLength(1);
  });

  it('rejects retryably at sendTimeoutMs when the stream lookup never answers (Kinesis down on first use)', async () => {
    const calls: unknown[] = [];
    const api = { putRecords: async (input: unknown) => calls.push(input) } as unknown as KinesisApi;
    const sender = publisher(api, { sendTimeoutMs: 100, ensureStream: () => new Promise<never>(() => {}) });
    const started = Date.now();
    const error = await sender.publish('s', [record('k', 'v')]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls).toHaveLength(0);
  });
});
