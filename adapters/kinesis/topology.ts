/**
 * What the adapter creates on first use: streams (with `shards` shards) and lease tables (hash key
 * `leaseKey`, on-demand capacity), each only when `autoCreate` is on, and waits until they are
 * ACTIVE. Also lists a stream's shards (every page), for the shard sync of consumer groups.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Shard } from '@aws-sdk/client-kinesis';
import { ClosedError, InvalidConfigError } from '../../src/errors.js';
import { backoffDelay, retrying } from '../shared/backoff.js';
import { TopicNotFoundError } from '../shared/errors.js';
import type { DynamoApi, KinesisApi } from './clients.js';
import { awsErrorName, isNotFound, isRetryableAwsError, LeaseTableNotFoundError, toBrokerError } from './errors.js';

/**
 * Waits `ms`, or less when `signal` aborts (then throws the ClosedError of `operation`): a retry
 * loop must not outlive close().
 */
async function pause(ms: number, signal: AbortSignal, operation: string): Promise<void> {
  if (!signal.aborted) await sleep(ms, undefined, { signal }).catch(() => undefined);
  if (signal.aborted) throw new ClosedError('connection', operation, 'kinesis');
}

/** How long a new stream or table may take to become ACTIVE (AWS: usually under a minute). */
const ACTIVE_TIMEOUT_MS = 180_000;
const STREAM_NAME = /^[\w.-]{1,128}$/;

/** One shard as the shard sync needs it. */
export interface ShardInfo {
  readonly shardId: string;
  /** Parents (one after a split, two after a merge), if the stream still lists them. */
  readonly parents: readonly string[];
  /** Closed by a reshard: it has an ending sequence number and children. */
  readonly closed: boolean;
}

/** Result of {@link KinesisTopology.ensureStream}. */
export interface StreamState {
  /** This process created the stream. */
  readonly created: boolean;
  /** When the stream was created (ms since the epoch), if Kinesis said. */
  readonly createdAt: number | undefined;
}

/** Streams and lease tables: checks, creation, shard lists. */
export class KinesisTopology {
  readonly #kinesis: KinesisApi;
  readonly #autoCreate: boolean;
  readonly #shards: number;
  readonly #streams = new Map<string, Promise<StreamState>>();
  /** The last error of a stream lookup still retrying, per stream (for the subscribe deadline's error). */
  readonly #failures = new Map<string, unknown>();
  readonly #stopped = new AbortController();

  constructor(kinesis: KinesisApi, options: { autoCreate: boolean; shards: number }) {
    this.#kinesis = kinesis;
    this.#autoCreate = options.autoCreate;
    this.#shards = options.shards;
  }

  /**
   * Makes sure a stream exists and is ACTIVE, creating it when allowed. Cached per stream; a failure
   * is not cached.
   * @throws {InvalidConfigError} for a name Kinesis does not accept.
   * @throws {TopicNotFoundError} when it is missing and autoCreate is off.
   */
  ensureStream(stream: string, operation: string): Promise<StreamState> {
    let pending = this.#streams.get(stream);
    if (pending === undefined) {
      pending = this.#ensureStream(stream, operation);
      this.#streams.set(stream, pending);
      pending.catch(() => this.#streams.delete(stream));
    }
    return pending;
  }

  /** Forgets that a stream was seen (it was deleted meanwhile). */
  forget(stream: string): void {
    this.#streams.delete(stream);
  }

  /** The last error of a lookup of this stream that is still retrying, if any. */
  lastFailure(stream: string): unknown {
    return this.#failures.get(stream);
  }

  /** Ends every retry loop: lookups in progress reject with a ClosedError. */
  stop(): void {
    this.#stopped.abort();
  }

  async #ensureStream(stream: string, operation: string): Promise<StreamState> {
    checkStreamName(stream, operation);
    try {
      return await this.#lookUpStream(stream, operation);
    } finally {
      this.#failures.delete(stream);
    }
  }

  async #lookUpStream(stream: string, operation: string): Promise<StreamState> {
    let created = false;
    const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
    const signal = this.#stopped.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new ClosedError('connection', operation, 'kinesis');
      let status: string | undefined;
      let createdAt: number | undefined;
      try {
        const summary = await this.#kinesis.describeStreamSummary(stream);
        status = summary.StreamDescriptionSummary?.StreamStatus;
        createdAt = summary.StreamDescriptionSummary?.StreamCreationTimestamp?.getTime();
      } catch (error) {
        if (!isNotFound(error)) {
          if (signal.aborted) throw new ClosedError('connection', operation, 'kinesis');
          if (!isRetryableAwsError(error) || Date.now() > deadline)
            throw toBrokerError(error, `${operation}: describe stream ${stream}`);
          this.#failures.set(stream, error);
          await pause(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal, operation);
          continue;
        }
        if (!this.#autoCreate) {
          throw new TopicNotFoundError(
            'kinesis',
            stream,
            operation,
            `Create the stream (aws kinesis create-stream --stream-name ${stream} --shard-count ${this.#shards}), or set autoCreate=true.`,
          );
        }
        try {
          await this.#kinesis.createStream({ StreamName: stream, ShardCount: this.#shards });
          created = true;
        } catch (createError) {
          // Someone else is creating it: wait for it like for our own.
          if (awsErrorName(createError) !== 'ResourceInUseException') {
            if (signal.aborted) throw new ClosedError('connection', operation, 'kinesis');
            if (!isRetryableAwsError(createError) || Date.now() > deadline) {
              throw toBrokerError(createError, `${operation}: create stream ${stream} with ${this.#shards} shard(s)`);
            }
            this.#failures.set(stream, createError);
            await pause(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal, operation);
          }
        }
        continue;
      }
      if (status === 'ACTIVE' || status === 'UPDATING') return { created, createdAt };
      if (Date.now() > deadline) {
        throw toBrokerError(
          Object.assign(new Error(`stream ${stream} is ${status} after ${ACTIVE_TIMEOUT_MS / 1000} s`), {
            name: 'TimeoutError',
          }),
          operation,
        );
      }
      await pause(Math.min(1_000, 50 * attempt), signal, operation);
    }
  }

  /** Every shard of a stream, open and closed (as far as the stream still lists them). */
  async listShards(stream: string): Promise<ShardInfo[]> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const page = await retrying(
        () => this.#kinesis.listShards(token === undefined ? { StreamName: stream } : { NextToken: token }),
        {
          isRetryable: isRetryableAwsError,
          attempts: 6,
          initialMs: 200,
          maxMs: 3_000,
          signal: this.#stopped.signal,
        },
      ).catch((error: unknown) => {
        throw toBrokerError(error, `list shards of ${stream}`);
      });
      shards.push(...(page.Shards ?? []));
      token = page.NextToken;
    } while (token !== undefined);
    return shards.flatMap((shard) => {
      if (shard.ShardId === undefined) return [];
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
        (parent): parent is string => typeof parent === 'string' && parent.length > 0,
      );
      return [
        {
          shardId: shard.ShardId,
          parents,
          closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
        },
      ];
    });
  }
}

/** Lease tables: check and create (once per table and process). */
export class LeaseTables {
  readonly #dynamo: DynamoApi;
  readonly #autoCreate: boolean;
  readonly #tables = new Map<string, Promise<void>>();
  /** The last error of a table check still retrying, per table (for the subscribe deadline's error). */
  readonly #failures = new Map<string, unknown>();
  readonly #stopped = new AbortController();

  constructor(dynamo: DynamoApi, autoCreate: boolean) {
    this.#dynamo = dynamo;
    this.#autoCreate = autoCreate;
  }

  /** The last error of a check of this table that is still retrying, if any. */
  lastFailure(table: string): unknown {
    return this.#failures.get(table);
  }

  /** Ends every retry loop: checks in progress reject with a ClosedError. */
  stop(): void {
    this.#stopped.abort();
  }

  /**
   * Makes sure a lease table exists and is ACTIVE, creating it (hash key `leaseKey`, on-demand
   * capacity) when allowed.
   * @throws {LeaseTableNotFoundError} when it is missing and autoCreate is off.
   */
  ensure(table: string): Promise<void> {
    let pending = this.#tables.get(table);
    if (pending === undefined) {
      pending = this.#ensure(table);
      this.#tables.set(table, pending);
      pending.catch(() => this.#tables.delete(table));
    }
    return pending;
  }

  async #ensure(table: string): Promise<void> {
    try {
      await this.#check(table);
    } finally {
      this.#failures.delete(table);
    }
  }

  async #check(table: string): Promise<void> {
    const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
    const signal = this.#stopped.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw new ClosedError('connection', 'subscribe', 'kinesis');
      let status: string | undefined;
      try {
        const description = await this.#dynamo.describeTable(table);
        status = description.Table?.TableStatus;
        const key = description.Table?.KeySchema?.find((part) => part.KeyType === 'HASH')?.AttributeName;
        if (key !== undefined && key !== 'leaseKey') {
          throw new InvalidConfigError(`the table "${table}" has the hash key "${key}", not "leaseKey"`, {
            broker: 'kinesis',
            operation: 'subscribe',
            hint: 'It is not a lease table: set the option leaseTable to another name.',
          });
        }
      } catch (error) {
        if (error instanceof InvalidConfigError) throw error;
        if (!isNotFound(error)) {
          if (signal.aborted) throw new ClosedError('connection', 'subscribe', 'kinesis');
          if (!isRetryableAwsError(error) || Date.now() > deadline)
            throw toBrokerError(error, `describe lease table ${table}`, 'DynamoDB');
          this.#failures.set(table, error);
          await pause(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal, 'subscribe');
          continue;
        }
        if (!this.#autoCreate) throw new LeaseTableNotFoundError(table);
        try {
          await this.#dynamo.createTable({
            TableName: table,
            AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
            BillingMode: 'PAY_PER_REQUEST',
          });
        } catch (createError) {
          if (awsErrorName(createError) !== 'ResourceInUseException') {
            if (signal.aborted) throw new ClosedError('connection', 'subscribe', 'kinesis');
            if (!isRetryableAwsError(createError) || Date.now() > deadline) {
              throw toBrokerError(createError, `create lease table ${table}`, 'DynamoDB');
            }
            this.#failures.set(table, createError);
            await pause(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal, 'subscribe');
          }
        }
        continue;
      }
      if (status === 'ACTIVE' || status === 'UPDATING') return;
      if (Date.now() > deadline) {
        throw toBrokerError(
          Object.assign(new Error(`lease table ${table} is ${status} after ${ACTIVE_TIMEOUT_MS / 1000} s`), {
            name: 'TimeoutError',
          }),
          'subscribe',
          'DynamoDB',
        );
      }
      await pause(Math.min(1_000, 50 * attempt), signal, 'subscribe');
    }
  }
}

/** @throws {InvalidConfigError} for a stream name Kinesis does not accept. */
export function checkStreamName(stream: string, operation: string): void {
  if (!STREAM_NAME.test(stream)) {
    const shown = stream.length > 60 ? `${stream.slice(0, 60)}…` : stream;
    throw new InvalidConfigError(`"${shown}" is not a Kinesis stream name (1-128 of A-Z a-z 0-9 _ . -)`, {
      broker: 'kinesis',
      operation,
      hint: 'Use a topic name of letters, digits, "_", "." and "-".',
    });
  }
}
