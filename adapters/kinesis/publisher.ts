/**
 * Publishing: records go out in `PutRecords` calls within Kinesis's limits (500 records, 5 MiB,
 * 1 MiB per record including its partition key, checked before sending). Sends made at the same
 * time share calls, up to {@link MAX_IN_FLIGHT} calls per stream at once.
 *
 * Order: a partition key never has two calls in flight, so records of one key reach their shard in
 * send order even when sends are not awaited. A throttled or failed record is resent with every
 * later record of its key from the same call (also those that succeeded: they are written again
 * after it), so the last copy of each keeps the key's order. Whole calls that fail for a reason
 * that may pass (throttling, the endpoint restarting) are retried with backoff until the send's
 * deadline (`sendTimeoutMs`), then the send rejects with a retryable `BrokerError`.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { PutRecordsRequestEntry, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import type { TransportRecord } from '../../src/adapter.js';
import { BrokerError, ClosedError, InvalidConfigError, MessageTooLargeError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import { backoffDelay, withDeadline } from '../shared/backoff.js';
import { type KinesisApi, REQUEST_TIMEOUT_MS } from './clients.js';
import { wrap } from './envelope.js';
import { HeadersNotSupportedError, isNotFound, isRetryableAwsError, isThrottling, toBrokerError } from './errors.js';

/** Largest record Kinesis accepts: data plus partition key. */
export const MAX_RECORD_BYTES = 1_048_576;
/** Most records in one PutRecords call. */
export const MAX_RECORDS_PER_CALL = 500;
/** Most bytes (data plus partition keys) in one PutRecords call. */
export const MAX_CALL_BYTES = 5 * 1_048_576;
/** PutRecords calls in flight per stream. */
export const MAX_IN_FLIGHT = 8;
/** Longest partition key Kinesis accepts, in characters. */
const MAX_KEY_LENGTH = 256;

/** What a publisher needs. */
export interface PublisherOptions {
  kinesis: KinesisApi;
  /** Makes sure the stream exists (creating it if allowed). */
  ensureStream(stream: string): Promise<unknown>;
  /** Forgets that a stream exists (it was deleted). */
  forgetStream(stream: string): void;
  /** Wrap records in the polybus envelope (headers, no-key mark). */
  envelope: boolean;
  sendTimeoutMs: number;
  /** Called on each throttled call or record (for health). */
  onThrottled?(): void;
  /** Called when a call fails and will be retried (for health). */
  onRetry?(error: unknown): void;
  /** Called when a call succeeds (for health). */
  onSuccess?(): void;
}

/** One send (one publish() call). */
class Send {
  readonly receipts: Receipt[];
  readonly deadline: number;
  remaining: number;
  settled = false;
  readonly #resolve: (receipts: Receipt[]) => void;
  readonly #reject: (error: unknown) => void;

  constructor(
    count: number,
    deadline: number,
    resolve: (receipts: Receipt[]) => void,
    reject: (error: unknown) => void,
  ) {
    this.receipts = new Array<Receipt>(count);
    this.remaining = count;
    this.deadline = deadline;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  done(index: number, receipt: Receipt): void {
    if (this.settled) return;
    if (this.receipts[index] === undefined) this.remaining--;
    this.receipts[index] = receipt;
    if (this.remaining === 0) {
      this.settled = true;
      this.#resolve(this.receipts);
    }
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#reject(error);
  }
}

/** One record of a send, encoded. */
interface Entry {
  readonly send: Send;
  readonly index: number;
  readonly request: PutRecordsRequestEntry;
  readonly partitionKey: string;
  readonly bytes: number;
}

/** The queue and calls of one stream. */
class StreamSender {
  readonly stream: string;
  readonly #owner: KinesisPublisher;
  #queue: Entry[] = [];
  #inFlight = 0;
  /** Partition keys with a call in flight. */
  readonly #busy = new Map<string, number>();
  readonly #idle: Array<() => void> = [];

  constructor(owner: KinesisPublisher, stream: string) {
    this.#owner = owner;
    this.stream = stream;
  }

  get inFlight(): number {
    return this.#inFlight + this.#queue.length;
  }

  enqueue(entries: readonly Entry[]): void {
    for (const entry of entries) this.#queue.push(entry);
    this.#pump();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#nextBatch();
      if (batch.length === 0) break;
      this.#inFlight++;
      for (const entry of batch) this.#busy.set(entry.partitionKey, (this.#busy.get(entry.partitionKey) ?? 0) + 1);
      void this.#owner.deliver(this.stream, batch).finally(() => {
        this.#inFlight--;
        for (const entry of batch) {
          const count = (this.#busy.get(entry.partitionKey) ?? 1) - 1;
          if (count === 0) this.#busy.delete(entry.partitionKey);
          else this.#busy.set(entry.partitionKey, count);
        }
        this.#pump();
        if (this.inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
    if (this.inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** The next call's records: in queue order, within the limits, skipping keys with a call in flight. */
  #nextBatch(): Entry[] {
    const batch: Entry[] = [];
    const rest: Entry[] = [];
    const blocked = new Set<string>();
    let bytes = 0;
    const queue = this.#queue;
    let i = 0;
    for (; i < queue.length; i++) {
      const entry = queue[i] as Entry;
      if (entry.send.settled) continue;
      if (batch.length >= MAX_RECORDS_PER_CALL || bytes + entry.bytes > MAX_CALL_BYTES) break;
      const key = entry.partitionKey;
      if (this.#busy.has(key) || blocked.has(key)) {
        blocked.add(key);
        rest.push(entry);
        // Do not scan a long queue of blocked records over and over.
        if (rest.length > 4 * MAX_RECORDS_PER_CALL) {
          i++;
          break;
        }
        continue;
      }
      batch.push(entry);
      bytes += entry.bytes;
    }
    this.#queue = i >= queue.length ? rest : rest.concat(queue.slice(i));
    return batch;
  }
}

/** Random partition key for a send without keys: one per send, so that its records stay together and in order. */
function randomPartitionKey(): string {
  return `${Math.floor(Math.random() * 2 ** 52).toString(36)}${Math.floor(Math.random() * 2 ** 30).toString(36)}`;
}

const encoder = new TextEncoder();

/** Sends records to Kinesis streams. */
export class KinesisPublisher {
  readonly #options: PublisherOptions;
  readonly #senders = new Map<string, StreamSender>();
  readonly #ready = new Set<string>();
  #closed = false;

  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  /** Resolves once Kinesis has accepted every record, with one receipt each, in order. */
  publish(stream: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'publish', 'kinesis'));
    if (records.length === 0) return Promise.resolve([]);
    let entries: Entry[];
    let send: Send | undefined;
    const result = new Promise<Receipt[]>((resolve, reject) => {
      send = new Send(records.length, Date.now() + this.#options.sendTimeoutMs, resolve, reject);
    });
    try {
      entries = this.#encode(stream, records, send as unknown as Send);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#ready.has(stream)) {
      this.#sender(stream).enqueue(entries);
    } else {
      // Looking the stream up (and creating it) counts against the send's deadline: with Kinesis
      // unreachable, waiting for a stream to become ACTIVE may take minutes.
      const ready = send as unknown as Send;
      withDeadline(this.#options.ensureStream(stream), ready.deadline, () => this.#timeoutError(stream)).then(
        () => {
          this.#ready.add(stream);
          this.#sender(stream).enqueue(entries);
        },
        (error: unknown) => ready.fail(error),
      );
    }
    return result;
  }

  #timeoutError(stream: string): BrokerError {
    return new BrokerError(
      'kinesis',
      `send to ${stream}`,
      new Error(`Kinesis did not accept the records within sendTimeoutMs (${this.#options.sendTimeoutMs} ms)`),
      'Kinesis is unreachable or throttling: the send may be retried (some of its records may have been written); raise sendTimeoutMs to wait longer.',
      true,
    );
  }

  #sender(stream: string): StreamSender {
    let sender = this.#senders.get(stream);
    if (sender === undefined) {
      sender = new StreamSender(this, stream);
      this.#senders.set(stream, sender);
    }
    return sender;
  }

  #encode(stream: string, records: readonly TransportRecord[], send: Send): Entry[] {
    const envelope = this.#options.envelope;
    let sendKey: string | undefined;
    const entries = new Array<Entry>(records.length);
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as TransportRecord;
      const keyless = record.key === undefined;
      let partitionKey: string;
      if (keyless) {
        sendKey ??= randomPartitionKey();
        partitionKey = sendKey;
      } else {
        partitionKey = record.key as string;
        if (partitionKey.length === 0 || partitionKey.length > MAX_KEY_LENGTH) {
          throw new InvalidConfigError(
            `a message key must be 1 to ${MAX_KEY_LENGTH} characters on Kinesis (it is the partition key), got ${partitionKey.length}`,
            {
              broker: 'kinesis',
              operation: 'send',
              hint: 'Send without a key (key undefined) for no key, or shorten the key, e.g. hash it.',
            },
          );
        }
      }
      let data: Uint8Array;
      if (envelope) {
        data = wrap(record.value, record.headers, keyless);
      } else {
        const names = Object.keys(record.headers);
        if (names.length > 0) throw new HeadersNotSupportedError(names);
        data = record.value;
      }
      const keyBytes = partitionKey.length < 86 ? encodedLength(partitionKey) : encoder.encode(partitionKey).byteLength;
      const bytes = data.byteLength + keyBytes;
      if (bytes > MAX_RECORD_BYTES) throw new MessageTooLargeError('kinesis', bytes, MAX_RECORD_BYTES);
      entries[index] = {
        send,
        index,
        request: { Data: data, PartitionKey: partitionKey },
        partitionKey,
        bytes,
      };
    }
    void stream;
    return entries;
  }

  /**
   * Sends one call's records until each is written or its send's deadline passes. Records of a
   * key that failed are resent, with the later ones of that key, in order.
   */
  async deliver(stream: string, batch: readonly Entry[]): Promise<void> {
    let pending = batch.filter((entry) => !entry.send.settled);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const now = Date.now();
      const deadline = Math.min(...pending.map((entry) => entry.send.deadline));
      if (now >= deadline) {
        pending = this.#expire(stream, pending, now);
        if (pending.length === 0) return;
        continue;
      }
      let results: PutRecordsResultEntry[] | undefined;
      let failure: unknown;
      try {
        const output = await this.#options.kinesis.putRecords(
          { StreamName: stream, Records: pending.map((entry) => entry.request) },
          Math.max(1_000, Math.min(REQUEST_TIMEOUT_MS, deadline - now)),
        );
        results = output.Records;
        if (results === undefined || results.length !== pending.length) {
          failure = new Error(`PutRecords answered ${results?.length ?? 0} results for ${pending.length} records`);
          results = undefined;
        }
      } catch (error) {
        failure = error;
      }
      if (results === undefined) {
        if (isThrottling(failure)) this.#options.onThrottled?.();
        if (isNotFound(failure)) {
          // Deleted meanwhile: create it again (if allowed) and resend.
          this.#ready.delete(stream);
          this.#options.forgetStream(stream);
          try {
            await this.#options.ensureStream(stream);
            this.#ready.add(stream);
          } catch (error) {
            for (const entry of pending) entry.send.fail(error);
            return;
          }
          continue;
        }
        if (!isRetryableAwsError(failure)) {
          const error = toBrokerError(failure, `send to ${stream}`);
          for (const entry of pending) entry.send.fail(error);
          return;
        }
        this.#options.onRetry?.(failure);
        await this.#pause(attempt, pending);
        pending = pending.filter((entry) => !entry.send.settled);
        continue;
      }
      this.#options.onSuccess?.();
      const retry: Entry[] = [];
      const failedKeys = new Set<string>();
      let throttled = false;
      for (let i = 0; i < pending.length; i++) {
        const entry = pending[i] as Entry;
        const result = results[i] as PutRecordsResultEntry;
        if (result.ErrorCode !== undefined || result.SequenceNumber === undefined || result.ShardId === undefined) {
          if (
            result.ErrorCode === 'ProvisionedThroughputExceededException' ||
            result.ErrorCode === 'KMSThrottlingException'
          ) {
            throttled = true;
          }
          failedKeys.add(entry.partitionKey);
          retry.push(entry);
          continue;
        }
        if (failedKeys.has(entry.partitionKey)) {
          // Written, but after an earlier record of its key that was not: write it again after that one.
          retry.push(entry);
          continue;
        }
        entry.send.done(entry.index, {
          id: `${result.ShardId}-${result.SequenceNumber}`,
          topic: stream,
          partition: result.ShardId,
          sequence: result.SequenceNumber,
        });
      }
      if (retry.length === 0) return;
      if (throttled) this.#options.onThrottled?.();
      await this.#pause(attempt, retry);
      pending = retry.filter((entry) => !entry.send.settled);
    }
  }

  /** Waits out a backoff, no longer than the earliest deadline among the records. */
  async #pause(attempt: number, entries: readonly Entry[]): Promise<void> {
    const deadline = Math.min(...entries.map((entry) => entry.send.deadline));
    const wait = Math.min(backoffDelay(attempt, { initialMs: 50, maxMs: 2_000 }), Math.max(0, deadline - Date.now()));
    if (wait > 0) await sleep(wait);
  }

  /** Rejects the sends whose deadline passed; returns the records of the others. */
  #expire(stream: string, entries: readonly Entry[], now: number): Entry[] {
    const left: Entry[] = [];
    for (const entry of entries) {
      if (entry.send.deadline > now) {
        left.push(entry);
        continue;
      }
      entry.send.fail(this.#timeoutError(stream));
    }
    return left;
  }

  /** Sends still queued or in flight. */
  get pending(): number {
    let count = 0;
    for (const sender of this.#senders.values()) count += sender.inFlight;
    return count;
  }

  /** Refuses new sends and waits for those in progress (each bounded by its deadline). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#senders.values()].map((sender) => sender.idle()));
  }
}

/** UTF-8 length of a short string without encoding it. */
function encodedLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
