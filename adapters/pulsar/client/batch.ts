/**
 * Batch entries: several messages in one stored entry, each as
 * `[u32 size][SingleMessageMetadata][payload]`. Batches are built per key, so that one entry
 * never mixes keys (Key_Shared dispatches whole entries by key).
 */
import { type KeyValue, SingleMessageMetadata } from './commands.js';
import { PulsarProtocolError } from './errors.js';
import { writeKeyValue } from './frame.js';
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

/** Reused by {@link encodeBatch} (encoding is synchronous, never re-entered). */
const scratch = new Writer(64 * 1024);

/**
 * Serializes messages into one (uncompressed) batch payload: each message's
 * `SingleMessageMetadata` written in place (the generic encoder's field order), one copy out.
 */
export function encodeBatch(messages: ReadonlyArray<{ message: OutgoingMessage; sequenceId: number }>): Buffer {
  const w = scratch.reset();
  for (const { message, sequenceId } of messages) {
    const sizeAt = w.reserve(4);
    const start = w.length;
    if (message.properties) {
      for (const key of Object.keys(message.properties)) {
        writeKeyValue(w, 1, { key, value: message.properties[key] as string });
      }
    }
    if (message.key != null) w.tag(2, 2).string(message.key);
    w.tag(3, 0).varint(message.payload.length);
    if (message.eventTime != null) w.tag(5, 0).varint(message.eventTime);
    if (message.orderingKey != null) w.tag(7, 2).bytes(message.orderingKey);
    w.tag(8, 0).varint(sequenceId);
    w.setUint32BE(sizeAt, w.length - start);
    w.raw(message.payload);
  }
  return Buffer.from(w.view());
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
  /** Batches by partition key (undefined: no key), for messages without an ordering key. */
  private readonly groups = new Map<string | undefined, T[]>();
  /** Batches of messages with an ordering key, by {@link batchKey}. */
  private readonly ordered = new Map<string, T[]>();
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
    const message = item.message;
    // The common case (no ordering key) groups by the key as is, with no string built per message.
    const groups: Map<string | undefined, T[]> = message.orderingKey ? this.ordered : this.groups;
    const key = message.orderingKey ? batchKey(message) : message.key;
    let group = groups.get(key);
    if (!group) {
      group = [];
      groups.set(key, group);
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
    const batches = [...this.groups.values(), ...this.ordered.values()];
    this.groups.clear();
    this.ordered.clear();
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
