/**
 * Reading one leased shard: `GetRecords` polling within the per-shard limits, deliveries to the
 * consumer core, checkpoints below the lowest unsettled sequence number (the shared offset
 * tracker), and the end of a shard after a reshard.
 *
 * Polling: after a call that returned records (or reported the shard behind), the next call comes
 * {@link MIN_POLL_MS} later (Kinesis allows 5 calls a second per shard); after an empty one,
 * `pollIntervalMs` later. Nothing is fetched while the core is paused or the last batch is not
 * handed out yet. An expired iterator (5 minutes) is renewed after the last record fetched.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { GetRecordsCommandOutput, _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { Delivery } from '../../src/adapter.js';
import type { Headers } from '../../src/message.js';
import { backoffDelay } from '../shared/backoff.js';
import { isDecimal, OffsetTracker, type TrackedPosition } from '../shared/offset-tracker.js';
import type { KinesisApi } from './clients.js';
import { unwrap } from './envelope.js';
import { awsErrorName, isThrottling, isTimeout } from './errors.js';
import { AT_TIMESTAMP, LATEST, type Lease, SHARD_END, TRIM_HORIZON } from './lease-store.js';

/** Shortest time between two GetRecords calls on one shard (5 a second at most). */
export const MIN_POLL_MS = 200;
/** Records asked for per GetRecords call (Kinesis's maximum). */
export const RECORDS_PER_FETCH = 10_000;
/** How long an AT_TIMESTAMP iterator may take before reading from TRIM_HORIZON and skipping older records instead. */
const AT_TIMESTAMP_TIMEOUT_MS = 2_000;
/** A stream younger than this at a group's start is read from TRIM_HORIZON, skipping older records. */
const YOUNG_STREAM_MS = 5 * 60_000;

/** What `message.raw` is on Kinesis: the record as Kinesis returned it, and where it came from. */
export interface KinesisRawMessage {
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** Milliseconds since the epoch: when Kinesis received the record. */
  readonly approximateArrivalTimestamp: number;
  /** The record's data as stored (with the envelope, if it has one). */
  readonly data: Uint8Array;
  /** Whether the data carried the polybus envelope. */
  readonly enveloped: boolean;
}

/** What a shard reader needs from its subscription. */
export interface ReaderHost {
  readonly stream: string;
  /** The core asked to stop deliveries for now. */
  readonly paused: boolean;
  /** The consumer is closing: a nack hands the message back (for the shard's next owner). */
  readonly closing: boolean;
  readonly pollIntervalMs: number;
  readonly checkpointIntervalMs: number;
  /** When the stream was created (ms), if known. */
  readonly streamCreatedAt: number | undefined;
  deliver(delivery: Delivery): void;
  checkpoint(shardId: string, sequenceNumber: string): Promise<boolean>;
  /** Every record of an ended shard is done. */
  shardEnded(shardId: string): void;
  /** A read or checkpoint failed (it is retried). */
  failed(shardId: string, error: unknown, operation: string, kind: 'read' | 'checkpoint'): void;
  /** A read or checkpoint worked (again). */
  succeeded(shardId: string, kind: 'read' | 'checkpoint'): void;
}

/** One owner period of a lease: deliveries of an ended period are stale. */
export interface Epoch {
  active: boolean;
}

const NO_HEADERS: Headers = Object.freeze({}) as Headers;

/** One record handed to the consumer core. */
export class KinesisDelivery implements Delivery {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  readonly attempt: number;
  readonly record: KinesisRecord;
  readonly handle: TrackedPosition;
  readonly #reader: ShardReader;
  readonly #enveloped: boolean;
  #settled = false;

  constructor(reader: ShardReader, record: KinesisRecord, handle: TrackedPosition, attempt: number) {
    this.#reader = reader;
    this.record = record;
    this.handle = handle;
    this.attempt = attempt;
    this.topic = reader.stream;
    this.id = `${reader.shardId}-${handle.position}`;
    const data = record.Data ?? new Uint8Array(0);
    const unwrapped = unwrap(data);
    this.#enveloped = unwrapped.enveloped;
    this.value = unwrapped.payload;
    this.headers = unwrapped.enveloped ? (unwrapped.headers as Headers) : NO_HEADERS;
    this.key = unwrapped.keyless ? undefined : record.PartitionKey;
    this.timestamp = record.ApproximateArrivalTimestamp?.getTime() ?? Date.now();
  }

  get raw(): KinesisRawMessage {
    return {
      stream: this.topic,
      shardId: this.#reader.shardId,
      sequenceNumber: this.handle.position,
      partitionKey: this.record.PartitionKey ?? '',
      approximateArrivalTimestamp: this.timestamp,
      data: this.record.Data ?? new Uint8Array(0),
      enveloped: this.#enveloped,
    };
  }

  /** True once this member no longer holds the shard's lease: settling it then does nothing. */
  get stale(): boolean {
    return !this.#reader.epoch.active;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reader.settle(this, true, 0, this.attempt);
  }

  /** Settles without checkpointing past it: redelivered after `delayMs`, or by the shard's next owner when closing. */
  nack(delayMs = 0, attempt = this.attempt): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reader.settle(this, false, delayMs, attempt);
  }
}

interface Redelivery {
  readonly record: KinesisRecord;
  readonly handle: TrackedPosition;
  readonly attempt: number;
}

type State = 'running' | 'draining' | 'halted' | 'stopped';

/** Reads one shard for as long as its lease is held. */
export class ShardReader {
  readonly shardId: string;
  readonly stream: string;
  readonly epoch: Epoch = { active: true };
  readonly #host: ReaderHost;
  readonly #kinesis: KinesisApi;
  readonly #lease: Lease;
  readonly #tracker = new OffsetTracker();
  #buffer: KinesisRecord[] = [];
  #next = 0;
  #redeliveries: Redelivery[] = [];
  #iterator: string | undefined;
  #lastFetched: string | undefined;
  #resumeAfter: string | undefined;
  /** Skip records that arrived before this (a new group's start, read from TRIM_HORIZON). */
  #minTimestamp: number | undefined;
  #ended = false;
  #state: State = 'running';
  /** Handed to the core and not settled (including nacked ones waiting to be handed out again). */
  #out = 0;
  #failures = 0;
  #readOnce = false;
  #nextPollAt = 0;
  #wake: (() => void) | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #checkpointWrite: Promise<void> | undefined;
  #checkpointAgain = false;
  /** The last checkpoint written. */
  #written: string | undefined;
  #finishing = false;
  readonly #redeliveryTimers = new Set<NodeJS.Timeout>();
  #loop: Promise<void> | undefined;

  /**
   * @param resumeAfter - read after this sequence number instead of the lease's checkpoint (this
   *   member's own progress on a lease it got back untouched); written as the checkpoint at once.
   */
  constructor(host: ReaderHost, kinesis: KinesisApi, lease: Lease, resumeAfter?: string) {
    this.#host = host;
    this.#kinesis = kinesis;
    this.#lease = lease;
    this.shardId = lease.leaseKey;
    this.stream = host.stream;
    if (isDecimal(lease.checkpoint)) this.#written = lease.checkpoint;
    if (resumeAfter !== undefined && isDecimal(resumeAfter) && resumeAfter !== this.#written) {
      this.#lastFetched = resumeAfter;
      this.#resumeAfter = resumeAfter;
    }
  }

  /** Handed out and not settled. */
  get outstanding(): number {
    return this.#out;
  }

  /** The last sequence number done (every one before it done too). */
  get lastDone(): string | undefined {
    return this.#tracker.lastDone;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    const resumeAfter = this.#resumeAfter;
    if (resumeAfter !== undefined) {
      this.#checkpointWrite = this.#host.checkpoint(this.shardId, resumeAfter).then(
        (written) => {
          if (written && this.#written === this.#lease.checkpoint) this.#written = resumeAfter;
          this.#afterCheckpoint();
        },
        (error: unknown) => {
          this.#host.failed(this.shardId, error, 'write a checkpoint', 'checkpoint');
          this.#afterCheckpoint();
        },
      );
    }
    this.#loop = this.#run();
  }

  /** The core resumed: hand out what is waiting and fetch again. */
  resume(): void {
    this.#deliverBacklog();
    this.#wakeUp();
  }

  async #run(): Promise<void> {
    while (this.#state === 'running') {
      if (this.#host.paused || this.#hasBacklog()) {
        await this.#sleepUntilWoken();
        continue;
      }
      if (this.#ended) {
        this.#maybeFinish();
        await this.#sleepUntilWoken();
        continue;
      }
      let operation = 'read the shard';
      try {
        if (this.#iterator === undefined) {
          operation = 'get a shard iterator';
          await this.#openIterator();
          if (this.#iterator === undefined) continue;
        }
        // Never sooner than the shard's rate allows, whatever woke the loop.
        const wait = this.#nextPollAt - Date.now();
        if (wait > 0) {
          await this.#sleepUntilWoken(wait);
          continue;
        }
        operation = 'read the shard';
        const output = await this.#kinesis.getRecords(this.#iterator as string, RECORDS_PER_FETCH);
        if (this.#state !== 'running') break;
        this.#received(output);
        if (this.#failures > 0 || !this.#readOnce) {
          // Also on a new lease's first read: a problem reported by the shard's previous reader is over.
          this.#failures = 0;
          this.#readOnce = true;
          this.#host.succeeded(this.shardId, 'read');
        }
        this.#deliverBacklog();
      } catch (error) {
        if (this.#state !== 'running') break;
        if (awsErrorName(error) === 'ExpiredIteratorException') {
          this.#iterator = undefined;
          continue;
        }
        this.#failures++;
        this.#host.failed(this.shardId, error, operation, 'read');
        const initialMs = isThrottling(error) ? 1_000 : Math.min(this.#host.pollIntervalMs, 500);
        await this.#sleepUntilWoken(backoffDelay(this.#failures, { initialMs, maxMs: 10_000 }));
      }
    }
  }

  #received(output: GetRecordsCommandOutput): void {
    const records = output.Records ?? [];
    this.#iterator = output.NextShardIterator ?? undefined;
    if (this.#iterator === undefined) this.#ended = true;
    const behind = (output.MillisBehindLatest ?? 0) > 0;
    this.#nextPollAt = Date.now() + (records.length > 0 || behind ? MIN_POLL_MS : this.#host.pollIntervalMs);
    if (records.length === 0) return;
    this.#lastFetched = records[records.length - 1]?.SequenceNumber ?? this.#lastFetched;
    const min = this.#minTimestamp;
    const fresh = records.filter((record) => {
      const sequence = record.SequenceNumber;
      if (sequence === undefined || this.#tracker.seen(sequence)) return false;
      if (min !== undefined && (record.ApproximateArrivalTimestamp?.getTime() ?? min) < min) return false;
      return true;
    });
    // From the first record at or after the start, no more filtering is needed.
    if (fresh.length > 0) this.#minTimestamp = undefined;
    this.#buffer = this.#next < this.#buffer.length ? this.#buffer.slice(this.#next).concat(fresh) : fresh;
    this.#next = 0;
  }

  async #openIterator(): Promise<void> {
    const shard = { StreamName: this.stream, ShardId: this.shardId };
    const after = this.#lastFetched ?? (isDecimal(this.#lease.checkpoint) ? this.#lease.checkpoint : undefined);
    let output: { ShardIterator?: string | undefined };
    if (after !== undefined) {
      output = await this.#kinesis.getShardIterator({
        ...shard,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: after,
      });
    } else if (this.#lease.checkpoint === SHARD_END) {
      this.#ended = true;
      return;
    } else if (this.#lease.checkpoint === LATEST) {
      output = await this.#kinesis.getShardIterator({ ...shard, ShardIteratorType: 'LATEST' });
    } else if (this.#lease.checkpoint === AT_TIMESTAMP && this.#lease.startTimestamp !== undefined) {
      output = await this.#atTimestamp(shard, this.#lease.startTimestamp);
    } else {
      output = await this.#kinesis.getShardIterator({ ...shard, ShardIteratorType: TRIM_HORIZON });
    }
    this.#iterator = output.ShardIterator;
    if (this.#iterator === undefined) this.#ended = true;
  }

  /**
   * An iterator at a time. On a young stream, and when AT_TIMESTAMP does not answer in time
   * (kinesalite never answers it on a shard with no record after the time), the shard is read from
   * TRIM_HORIZON and records older than the time are skipped: the same result.
   */
  async #atTimestamp(shard: { StreamName: string; ShardId: string }, start: number) {
    const created = this.#host.streamCreatedAt;
    if (created === undefined || start - created > YOUNG_STREAM_MS) {
      try {
        return await this.#kinesis.getShardIterator(
          { ...shard, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Math.min(start, Date.now())) },
          AT_TIMESTAMP_TIMEOUT_MS,
        );
      } catch (error) {
        if (!isTimeout(error)) throw error;
      }
    }
    this.#minTimestamp = start;
    return this.#kinesis.getShardIterator({ ...shard, ShardIteratorType: TRIM_HORIZON });
  }

  #hasBacklog(): boolean {
    return this.#redeliveries.length > 0 || this.#next < this.#buffer.length;
  }

  /** Hands out redeliveries, then fetched records, while the core takes them. */
  #deliverBacklog(): void {
    while (this.#state === 'running' && !this.#host.paused) {
      const again = this.#redeliveries.shift();
      if (again !== undefined) {
        this.#host.deliver(new KinesisDelivery(this, again.record, again.handle, again.attempt));
        continue;
      }
      if (this.#next >= this.#buffer.length) break;
      const record = this.#buffer[this.#next++] as KinesisRecord;
      const handle = this.#tracker.track(record.SequenceNumber as string);
      this.#out++;
      this.#host.deliver(new KinesisDelivery(this, record, handle, 1));
    }
    if (this.#next >= this.#buffer.length && this.#buffer.length > 0) {
      this.#buffer = [];
      this.#next = 0;
      this.#wakeUp();
    }
  }

  /** Called by a delivery once the core settled it. Stale deliveries change nothing. */
  settle(delivery: KinesisDelivery, acked: boolean, delayMs: number, attempt: number): void {
    if (!this.epoch.active || this.#state === 'stopped') return;
    if (acked) {
      this.#out--;
      if (this.#tracker.ack(delivery.handle)) this.#scheduleCheckpoint();
    } else if (this.#host.closing || this.#state !== 'running') {
      this.#out--;
      this.#tracker.hold(delivery.handle);
    } else {
      // Not closing (a handler met a closed resource): hand it out again after its delay.
      const timer = setTimeout(
        () => {
          this.#redeliveryTimers.delete(timer);
          if (this.#state !== 'running' || !this.epoch.active) {
            this.#out--;
            this.#tracker.hold(delivery.handle);
            this.#wakeUp();
            return;
          }
          this.#redeliveries.push({ record: delivery.record, handle: delivery.handle, attempt: attempt + 1 });
          this.#deliverBacklog();
        },
        Math.max(0, delayMs),
      );
      this.#redeliveryTimers.add(timer);
    }
    // The read loop waits for a resume or an empty backlog, not for settlements.
    if (this.#ended) this.#maybeFinish();
  }

  #scheduleCheckpoint(): void {
    if (this.#checkpointTimer !== undefined || this.#checkpointWrite !== undefined) {
      this.#checkpointAgain = true;
      return;
    }
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = undefined;
      this.#writeCheckpoint();
    }, this.#host.checkpointIntervalMs);
  }

  #writeCheckpoint(): void {
    const value = this.#tracker.lastDone;
    if (value === undefined || value === this.#written || !this.epoch.active || this.#state === 'stopped') return;
    this.#checkpointWrite = this.#host.checkpoint(this.shardId, value).then(
      (written) => {
        if (written) {
          this.#written = value;
          this.#host.succeeded(this.shardId, 'checkpoint');
        }
        this.#afterCheckpoint();
      },
      (error: unknown) => {
        this.#host.failed(this.shardId, error, 'write a checkpoint', 'checkpoint');
        this.#checkpointAgain = true;
        this.#afterCheckpoint();
      },
    );
  }

  #afterCheckpoint(): void {
    this.#checkpointWrite = undefined;
    if (this.#checkpointAgain && this.epoch.active && this.#state !== 'stopped') {
      this.#checkpointAgain = false;
      this.#scheduleCheckpoint();
    }
  }

  /** At the end of a closed shard, once every record is done: tell the host (which checkpoints SHARD_END). */
  #maybeFinish(): void {
    if (this.#finishing || this.#state !== 'running' || !this.#ended) return;
    if (this.#hasBacklog() || this.#out > 0 || this.#tracker.pending > 0) return;
    this.#finishing = true;
    this.#host.shardEnded(this.shardId);
  }

  /** Whether the shard was read to its end and every record is done. */
  get finished(): boolean {
    return this.#finishing;
  }

  /**
   * Stops fetching and handing out for a handoff, waits (up to `timeoutMs`) for what was handed
   * out to settle, and returns the final checkpoint to write (undefined: nothing new since the last).
   */
  async drain(timeoutMs: number): Promise<string | undefined> {
    if (this.#state === 'running') this.#state = 'draining';
    this.#dropBacklog();
    this.#wakeUp();
    const deadline = Date.now() + timeoutMs;
    while (this.#out > 0 && Date.now() < deadline && this.epoch.active) await sleep(20);
    return this.finalCheckpoint();
  }

  /** Stops fetching (the lease is about to be released): deliveries stay valid until {@link stop}. */
  halt(): void {
    if (this.#state === 'running' || this.#state === 'draining') this.#state = 'halted';
    this.#dropBacklog();
    this.#wakeUp();
  }

  /** The checkpoint a release should write: the last done, if newer than the last written. */
  finalCheckpoint(): string | undefined {
    if (this.#checkpointTimer !== undefined) {
      clearTimeout(this.#checkpointTimer);
      this.#checkpointTimer = undefined;
    }
    const value = this.#tracker.lastDone;
    return value === undefined || value === this.#written ? undefined : value;
  }

  /** Ends this owner period: deliveries still out become stale. */
  stop(): void {
    this.#state = 'stopped';
    this.epoch.active = false;
    if (this.#checkpointTimer !== undefined) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = undefined;
    for (const timer of this.#redeliveryTimers) clearTimeout(timer);
    this.#redeliveryTimers.clear();
    this.#buffer = [];
    this.#next = 0;
    this.#redeliveries = [];
    this.#wakeUp();
  }

  /** Fetched records not handed out go (the next owner reads them); redeliveries waiting are handed back. */
  #dropBacklog(): void {
    this.#buffer = [];
    this.#next = 0;
    for (const again of this.#redeliveries) {
      this.#out--;
      this.#tracker.hold(again.handle);
    }
    this.#redeliveries = [];
  }

  #sleepUntilWoken(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      if (ms !== undefined) timer = setTimeout(done, ms);
    });
  }

  #wakeUp(): void {
    this.#wake?.();
  }

  /** Resolves once the read loop has ended (after {@link stop} or {@link halt}). */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }
}
