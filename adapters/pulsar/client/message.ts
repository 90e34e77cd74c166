/** Message ids, received messages and what a producer sends. */
import { MessageIdData } from './commands.js';
import { PulsarConfigError } from './errors.js';

/**
 * Where a message is stored: ledger and entry, the partition (-1 for a non-partitioned topic)
 * and, for a message inside a batch entry, its index in the batch (-1 otherwise).
 */
export class MessageId {
  constructor(
    readonly ledgerId: number,
    readonly entryId: number,
    readonly partition = -1,
    readonly batchIndex = -1,
    readonly batchSize = 0,
  ) {}

  /** The first message of a topic (for seek and start positions). */
  static readonly earliest = new MessageId(-1, -1);

  /** `ledger:entry:partition:batchIndex`. */
  toString(): string {
    return `${this.ledgerId}:${this.entryId}:${this.partition}:${this.batchIndex}`;
  }

  /** Parses {@link MessageId.toString}'s form. */
  static parse(text: string): MessageId {
    const parts = text.split(':').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p))) {
      throw new PulsarConfigError(`not a message id: ${text}`);
    }
    const [ledger, entry, partition, batch] = parts as [number, number, number, number];
    return new MessageId(ledger, entry, partition, batch);
  }

  /** The protocol's `MessageIdData` bytes (what the Java client's `toByteArray` gives). */
  serialize(): Buffer {
    return MessageIdData.encode(this.toData()).finish();
  }

  /** Reads bytes written by {@link MessageId.serialize} (or the Java client). */
  static deserialize(bytes: Buffer): MessageId {
    const data = MessageIdData.decode(bytes);
    return new MessageId(data.ledgerId, data.entryId, data.partition ?? -1, data.batchIndex ?? -1, data.batchSize ?? 0);
  }

  /** @internal */
  toData(): MessageIdData {
    return {
      ledgerId: this.ledgerId,
      entryId: this.entryId,
      partition: this.partition,
      batchIndex: this.batchIndex >= 0 ? this.batchIndex : undefined,
      batchSize: this.batchSize > 0 ? this.batchSize : undefined,
    };
  }

  equals(other: MessageId): boolean {
    return (
      this.ledgerId === other.ledgerId &&
      this.entryId === other.entryId &&
      this.partition === other.partition &&
      this.batchIndex === other.batchIndex
    );
  }

  /** Orders ids of one partition: negative when this one comes first. */
  compare(other: MessageId): number {
    return (
      this.ledgerId - other.ledgerId ||
      this.entryId - other.entryId ||
      this.partition - other.partition ||
      this.batchIndex - other.batchIndex
    );
  }
}

/** What a producer sends. */
export interface OutgoingMessage {
  /** The bytes. */
  payload: Uint8Array;
  /** The key: routes to a partition and, on Key_Shared subscriptions, to a consumer. */
  key?: string;
  /** Overrides the key for Key_Shared dispatch only. */
  orderingKey?: Uint8Array;
  /** Application properties (header-like string pairs). */
  properties?: Record<string, string>;
  /** Application event time, epoch milliseconds. */
  eventTime?: number;
}

/** A message received by a consumer. */
export interface Message {
  /** The topic (for a partitioned topic: the partition's topic name). */
  readonly topic: string;
  readonly messageId: MessageId;
  readonly payload: Buffer;
  readonly key: string | undefined;
  readonly orderingKey: Buffer | undefined;
  readonly properties: Readonly<Record<string, string>>;
  /** When the broker received it, epoch milliseconds. */
  readonly publishTime: number;
  readonly eventTime: number | undefined;
  /**
   * How many times the broker delivered it before (0 on first delivery). Only Shared and
   * Key_Shared subscriptions count; Exclusive and Failover always give 0.
   */
  readonly redeliveryCount: number;
  readonly producerName: string;
  readonly sequenceId: number;
}
