/**
 * Batch entries: several messages in one stored entry, each as
 * `[u32 size][SingleMessageMetadata][payload]`. Batches are built per key, so that one entry
 * never mixes keys (Key_Shared dispatches whole entries by key).
 */
import { type KeyValue, SingleMessageMetadata } from './commands.js';
import { PulsarProtocolError } from './errors.js';
import type { OutgoingMessage } from './message.js';
import { Writer } from './protobuf.js';

/** The properties of a message as protocol key/value pairs. */
export function toKeyValues(properties: Record<string, string> | undefined): KeyValue[] {
  if (!properties) return [];
  return Object.entries(properties).map(([key, value]) => ({ key, value }));
}

/** Key/value pairs back to a record. */
export function fromKeyValues(pairs: KeyValue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of pairs) out[key] = value;
  return out;
}

/** Serializes messages into one (uncompressed) batch payload. */
export function encodeBatch(messages: ReadonlyArray<{ message: OutgoingMessage; sequenceId: number }>): Buffer {
  const writer = new Writer(256 * messages.length);
  const lengthAt = Buffer.alloc(4);
  for (const { message, sequenceId } of messages) {
    const meta = SingleMessageMetadata.encode(
      {
        properties: toKeyValues(message.properties),
        partitionKey: message.key,
        payloadSize: message.payload.length,
        eventTime: message.eventTime,
        orderingKey: message.orderingKey,
        sequenceId,
      },
      new Writer(64),
    ).finish();
    lengthAt.writeUInt32BE(meta.length, 0);
    writer.raw(lengthAt).raw(meta).raw(message.payload);
  }
  return writer.finish();
}

/** One message taken out of a batch payload. */
export interface BatchEntry {
  metadata: SingleMessageMetadata;
  payload: Buffer;
}

/** Splits a batch payload into its `count` messages; throws {@link PulsarProtocolError} if malformed. */
export function decodeBatch(payload: Buffer, count: number): BatchEntry[] {
  const out: BatchEntry[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > payload.length) throw new PulsarProtocolError(`batch truncated at message ${i} of ${count}`);
    const size = payload.readUInt32BE(pos);
    pos += 4;
    if (pos + size > payload.length) throw new PulsarProtocolError(`batch message ${i} metadata past the end`);
    const metadata = SingleMessageMetadata.decode(payload, pos, pos + size);
    pos += size;
    if (metadata.payloadSize < 0 || pos + metadata.payloadSize > payload.length) {
      throw new PulsarProtocolError(`batch message ${i} payload past the end`);
    }
    out.push({ metadata, payload: payload.subarray(pos, pos + metadata.payloadSize) });
    pos += metadata.payloadSize;
  }
  return out;
}

/** Batching limits. */
export interface BatchingOptions {
  /** Most messages in one batch (default 1000). */
  maxMessages?: number;
  /** Most payload bytes in one batch (default 128 KiB). */
  maxBytes?: number;
  /** Longest a message waits for its batch to fill, in ms (default 10). */
  maxDelayMs?: number;
}

/** Groups messages into per-key batches; the producer drains it when full or on its timer. */
export class KeyedBatcher<T extends { message: OutgoingMessage; sequenceId: number }> {
  private readonly groups = new Map<string, T[]>();
  private count = 0;
  private bytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds an item; returns true when the container is full and must be drained now. */
  add(item: T): boolean {
    const key = batchKey(item.message);
    let group = this.groups.get(key);
    if (!group) {
      group = [];
      this.groups.set(key, group);
    }
    group.push(item);
    this.count++;
    this.bytes += item.message.payload.length;
    return this.count >= this.maxMessages || this.bytes >= this.maxBytes;
  }

  /** Whether adding `bytes` more would overflow the byte limit (drain first). */
  wouldOverflow(bytes: number): boolean {
    return this.count > 0 && this.bytes + bytes > this.maxBytes;
  }

  /** Takes every batch, ordered by the first sequence id in each. */
  drain(): T[][] {
    const batches = [...this.groups.values()];
    this.groups.clear();
    this.count = 0;
    this.bytes = 0;
    batches.sort((a, b) => (a[0] as T).sequenceId - (b[0] as T).sequenceId);
    return batches;
  }
}

/** The grouping key: partition key and ordering key (messages without either group together). */
export function batchKey(message: OutgoingMessage): string {
  const ordering = message.orderingKey ? Buffer.from(message.orderingKey).toString('base64') : '';
  return message.key === undefined && !ordering ? '' : `${message.key ?? ''}\u0000${ordering}`;
}
