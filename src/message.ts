/** Message headers: string keys to string values, on every broker. */
export type Headers = Record<string, string>;

/** What a producer sends. */
export interface OutgoingMessage<T> {
  /** Partition/ordering key: messages with one key are delivered in order. */
  key?: string;
  value: T;
  headers?: Headers;
  /** Milliseconds since the epoch; defaults to the send time. */
  timestamp?: number;
}

/** What a consumer's handler receives. */
export interface Message<T> {
  /** The broker's id of this message (stable across redeliveries). */
  readonly id: string;
  readonly topic: string;
  /** The key it was sent with, if any. */
  readonly key: string | undefined;
  /** The decoded value. */
  value: T;
  readonly headers: Headers;
  /** Milliseconds since the epoch, set by the producer or the broker. */
  readonly timestamp: number;
  /** 1 on first delivery; counts broker redeliveries and in-process retries. */
  attempt: number;
  /** The payload as the broker delivered it. */
  readonly payload: Uint8Array;
  /** The broker client's own message object: an escape hatch, not portable. */
  readonly raw: unknown;
}

/** What the broker returns for each accepted message. */
export interface Receipt {
  id: string;
  topic: string;
  /** Kafka partition, Kinesis shard id. */
  partition?: string | number;
  /** Kafka offset, Kinesis sequence number, memory log offset. */
  sequence?: string;
}
