import { describe, expect, it } from 'vitest';
import { batchKey, decodeBatch, encodeBatch, KeyedBatcher } from './batch.js';
import { PulsarProtocolError } from './errors.js';
import type { OutgoingMessage } from './message.js';

describe('batch entries', () => {
  it('round-trips messages with keys, properties, event times and empty payloads', () => {
    const messages = [
      { message: { payload: Buffer.from('a'), key: 'k1', properties: { x: '1' } }, sequenceId: 10 },
      { message: { payload: Buffer.alloc(0), eventTime: 1234 }, sequenceId: 11 },
      { message: { payload: Buffer.alloc(70_000, 3), orderingKey: Buffer.from([9]) }, sequenceId: 12 },
    ];
    const entries = decodeBatch(encodeBatch(messages), 3);
    expect(entries.map((e) => e.payload.length)).toEqual([1, 0, 70_000]);
    expect(entries[0]?.metadata).toMatchObject({
      partitionKey: 'k1',
      properties: [{ key: 'x', value: '1' }],
      sequenceId: 10,
    });
    expect(entries[1]?.metadata).toMatchObject({ eventTime: 1234, sequenceId: 11 });
    expect(Buffer.from(entries[2]?.metadata.orderingKey as Uint8Array)).toEqual(Buffer.from([9]));
  });

  it('rejects truncated batches and wrong counts with a typed error', () => {
    const payload = encodeBatch([
      { message: { payload: Buffer.from('abc') }, sequenceId: 1 },
      { message: { payload: Buffer.from('def') }, sequenceId: 2 },
    ]);
    expect(() => decodeBatch(payload, 3)).toThrow(PulsarProtocolError);
    expect(() => decodeBatch(payload.subarray(0, payload.length - 1), 2)).toThrow(/payload past the end/);
    expect(() => decodeBatch(payload.subarray(0, 6), 1)).toThrow(/metadata past the end/);
  });
});

describe('KeyedBatcher', () => {
  const item = (sequenceId: number, key?: string, size = 10) => ({
    message: { payload: Buffer.alloc(size), key } as OutgoingMessage,
    sequenceId,
  });

  it('never puts two keys in one batch and drains in sequence order', () => {
    const batcher = new KeyedBatcher(100, 1 << 20);
    const keys = ['b', 'a', undefined, 'b', 'c', 'a', undefined];
    for (const [i, key] of keys.entries()) batcher.add(item(i, key));
    const batches = batcher.drain();
    for (const batch of batches) {
      expect(new Set(batch.map((i) => i.message.key)).size).toBe(1);
    }
    expect(batches.map((b) => b.map((i) => i.sequenceId))).toEqual([[0, 3], [1, 5], [2, 6], [4]]);
    expect(batcher.size).toBe(0);
  });

  it('says when full by count or bytes', () => {
    const batcher = new KeyedBatcher(3, 100);
    expect(batcher.add(item(0, 'a'))).toBe(false);
    expect(batcher.add(item(1, 'b'))).toBe(false);
    expect(batcher.add(item(2, 'c'))).toBe(true);
    batcher.drain();
    expect(batcher.wouldOverflow(200)).toBe(false); // an empty batch takes anything
    batcher.add(item(3, 'a', 60));
    expect(batcher.wouldOverflow(50)).toBe(true);
  });

  it('tells apart no key, an empty key and ordering keys', () => {
    expect(batchKey({ payload: Buffer.alloc(0) })).not.toBe(batchKey({ payload: Buffer.alloc(0), key: '' }));
    expect(batchKey({ payload: Buffer.alloc(0), key: 'k' })).not.toBe(
      batchKey({ payload: Buffer.alloc(0), key: 'k', orderingKey: Buffer.from('o') }),
    );
  });
});
