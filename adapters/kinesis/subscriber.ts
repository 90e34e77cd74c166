/**
 * A subscription of one group to one stream: a {@link LeaseManager} deciding which shards this
 * member reads, one {@link ShardReader} per lease held, and the glue: a lease lost stops its reader
 * (its deliveries become stale), a handoff asked for drains the reader before the lease moves,
 * an ended shard is checkpointed `SHARD_END` so its children can be read, and close() writes the
 * final checkpoints and releases every lease.
 */
import { hostname } from 'node:os';
import type { Delivery, SubscribeOptions, Subscription } from '../../src/adapter.js';
import { BrokerError, errorText } from '../../src/errors.js';
import { withDeadline } from '../shared/backoff.js';
import type { KinesisApi } from './clients.js';
import { isThrottling, toBrokerError } from './errors.js';
import { AT_TIMESTAMP, type Lease, type LeaseStore, SHARD_END, TRIM_HORIZON } from './lease-store.js';
import { type LeaseEvents, LeaseManager, type LostReason } from './leases.js';
import { type ReaderHost, ShardReader } from './shard-reader.js';
import type { ShardInfo } from './topology.js';

/** A new group starting at "latest" starts this long before subscribe(), for clocks that differ a little. */
export const LATEST_CLOCK_ALLOWANCE_MS = 1_000;

/**
 * close() waits this long at most for the final checkpoints and lease releases (DynamoDB may be
 * unreachable); leases not released by then expire and are taken over after `failoverTimeMs`.
 */
export const RELEASE_TIMEOUT_MS = 5_000;

/** What a subscription needs. */
export interface SubscriptionDeps {
  kinesis: KinesisApi;
  store: LeaseStore;
  /** The lease table's name, for messages. */
  table: string;
  listShards(): Promise<ShardInfo[]>;
  streamCreatedAt: number | undefined;
  failoverTimeMs: number;
  pollIntervalMs: number;
  checkpointIntervalMs: number;
  /** Called when the subscription has closed. */
  onClosed(subscription: KinesisSubscription): void;
}

/** Health of one subscription. */
export interface SubscriptionHealth {
  readonly ok: boolean;
  readonly detail: string;
}

let workers = 0;

/** A unique member id: host, process, and a counter and random part (one per subscription). */
function workerId(): string {
  workers++;
  return `${hostname()}:${process.pid}:${workers}:${Math.random().toString(36).slice(2, 8)}`;
}

/** One member of a consumer group on one stream. */
export class KinesisSubscription implements Subscription, ReaderHost {
  readonly stream: string;
  readonly group: string;
  readonly pollIntervalMs: number;
  readonly checkpointIntervalMs: number;
  readonly streamCreatedAt: number | undefined;
  readonly #options: SubscribeOptions;
  readonly #deps: SubscriptionDeps;
  readonly #manager: LeaseManager;
  readonly #readers = new Map<string, ShardReader>();
  /**
   * Progress on leases given up only because they could not be renewed: if one comes back
   * untouched (the next counter), reading resumes from here rather than the last checkpoint.
   */
  readonly #resumable = new Map<string, { lastDone: string; counter: number }>();
  /** Problems being reported: each is reported once until it clears. */
  readonly #failing = new Map<string, string>();
  #paused = false;
  #closing = false;
  #closed: Promise<void> | undefined;
  #throttled = 0;
  #lost = 0;
  #lastProblem: string | undefined;

  constructor(options: SubscribeOptions, deps: SubscriptionDeps) {
    this.#options = options;
    this.#deps = deps;
    this.stream = options.topic;
    this.group = options.group;
    this.pollIntervalMs = deps.pollIntervalMs;
    this.checkpointIntervalMs = deps.checkpointIntervalMs;
    this.streamCreatedAt = deps.streamCreatedAt;
    const from = options.from;
    const events: LeaseEvents = {
      acquired: (lease) => this.#acquired(lease),
      lost: (key, reason, owner, counter) => this.#lostLease(key, reason, owner, counter),
      handoffRequested: (key) => void this.#handOff(key),
      error: (error, operation) => this.#problem(`leases:${operation}`, error, operation, 'DynamoDB'),
      recovered: (operation) => this.#failing.delete(`leases:${operation}`),
    };
    this.#manager = new LeaseManager({
      store: deps.store,
      workerId: workerId(),
      failoverTimeMs: deps.failoverTimeMs,
      listShards: deps.listShards,
      initialPosition: () =>
        from === 'earliest'
          ? { checkpoint: TRIM_HORIZON }
          : { checkpoint: AT_TIMESTAMP, startTimestamp: Date.now() - LATEST_CLOCK_ALLOWANCE_MS },
      events,
    });
  }

  /** This member's id in the lease table (`leaseOwner`). */
  get workerId(): string {
    return this.#manager.workerId;
  }

  /** Shards whose leases this member holds now. */
  get shards(): string[] {
    return [...this.#readers.keys()].sort();
  }

  get paused(): boolean {
    return this.#paused;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Takes this member's share of the shards (waiting, bounded, for leases asked of other members). */
  async start(): Promise<void> {
    try {
      await this.#manager.start();
    } catch (error) {
      this.#manager.stop();
      await this.#releaseBounded();
      throw toBrokerError(
        error,
        `subscribe group ${this.group} to ${this.stream} (lease table ${this.#deps.table})`,
        'DynamoDB',
      );
    }
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (this.#closing) return;
    this.#paused = false;
    for (const reader of this.#readers.values()) reader.resume();
  }

  deliver(delivery: Delivery): void {
    this.#options.onDelivery(delivery);
  }

  checkpoint(shardId: string, sequenceNumber: string): Promise<boolean> {
    return this.#manager.checkpoint(shardId, sequenceNumber);
  }

  shardEnded(shardId: string): void {
    const reader = this.#readers.get(shardId);
    if (reader === undefined) return;
    const attempt = (tries: number): void => {
      if (this.#closing || this.#readers.get(shardId) !== reader) return;
      this.#manager.shardEnded(shardId).then(
        () => {
          this.#failing.delete(`end:${shardId}`);
          reader.stop();
          if (this.#readers.get(shardId) === reader) this.#readers.delete(shardId);
        },
        (error: unknown) => {
          this.#problem(`end:${shardId}`, error, `checkpoint the end of ${shardId}`, 'DynamoDB');
          // Its children wait for this checkpoint: keep trying while the lease is held.
          setTimeout(() => attempt(tries + 1), Math.min(10_000, 250 * 2 ** Math.min(tries, 6)));
        },
      );
    };
    attempt(0);
  }

  failed(shardId: string, error: unknown, operation: string, kind: 'read' | 'checkpoint'): void {
    if (isThrottling(error)) this.#throttled++;
    const service = kind === 'read' ? 'Kinesis' : 'DynamoDB';
    this.#problem(`${kind}:${shardId}`, error, `${operation} ${shardId} of ${this.stream}`, service);
  }

  succeeded(shardId: string, kind: 'read' | 'checkpoint'): void {
    this.#failing.delete(`${kind}:${shardId}`);
  }

  #acquired(lease: Lease): void {
    if (this.#closing) return;
    this.#readers.get(lease.leaseKey)?.stop();
    const progress = this.#resumable.get(lease.leaseKey);
    this.#resumable.delete(lease.leaseKey);
    // Back untouched after a renewal outage: what this member did meanwhile still counts.
    const resumeAfter =
      progress !== undefined && lease.leaseCounter === progress.counter + 1 && lease.checkpoint !== SHARD_END
        ? progress.lastDone
        : undefined;
    const reader = new ShardReader(this, this.#deps.kinesis, lease, resumeAfter);
    this.#readers.set(lease.leaseKey, reader);
    reader.start();
  }

  /** Problems reported about one shard are over once this member no longer reads it. */
  #forgetProblems(shardId: string): void {
    for (const kind of ['read', 'checkpoint', 'end', 'handoff']) this.#failing.delete(`${kind}:${shardId}`);
  }

  #lostLease(key: string, reason: LostReason, owner: string | undefined, counter: number): void {
    this.#forgetProblems(key);
    const reader = this.#readers.get(key);
    const lastDone = reader?.lastDone;
    if (reason === 'not-renewed' && lastDone !== undefined) this.#resumable.set(key, { lastDone, counter });
    else this.#resumable.delete(key);
    reader?.stop();
    this.#readers.delete(key);
    if (this.#closing) return;
    this.#lost++;
    const why =
      reason === 'taken'
        ? `it was taken by ${owner === undefined ? 'another member' : `member ${owner}`}`
        : `it could not be renewed within ${this.#deps.failoverTimeMs} ms (failoverTimeMs)`;
    this.#lastProblem = `lost the lease of ${key}: ${why}`;
    this.#options.onError(
      new BrokerError(
        'kinesis',
        `hold the lease of ${key} (group ${this.group}, stream ${this.stream})`,
        new Error(`lost the lease of ${key}: ${why}`),
        'Its messages not yet done are redelivered by the member that holds it now; this member takes leases again when it can. If it happens often, raise failoverTimeMs or check that DynamoDB is reachable.',
        true,
      ),
    );
  }

  async #handOff(key: string): Promise<void> {
    const reader = this.#readers.get(key);
    let checkpoint: string | undefined;
    if (reader !== undefined) checkpoint = await reader.drain(Math.floor(this.#deps.failoverTimeMs / 2));
    try {
      await this.#manager.handOver(key, checkpoint);
    } catch (error) {
      this.#problem(`handoff:${key}`, error, `hand over the lease of ${key}`, 'DynamoDB');
    }
    if (reader !== undefined) {
      reader.stop();
      if (this.#readers.get(key) === reader) this.#readers.delete(key);
    }
    if (!this.#manager.heldKeys.includes(key)) this.#forgetProblems(key);
  }

  /** Reports a problem once, until it clears. */
  #problem(key: string, error: unknown, operation: string, service: 'Kinesis' | 'DynamoDB'): void {
    const text = errorText(error);
    this.#lastProblem = `${operation}: ${text}`;
    if (this.#failing.has(key) || this.#closing) return;
    this.#failing.set(key, text);
    this.#options.onError(toBrokerError(error, `${operation} (group ${this.group})`, service));
  }

  /** Whether the subscription works: it can read its shards and reach its lease table. */
  health(): SubscriptionHealth {
    const failing = [...this.#failing.entries()];
    const ok = failing.length === 0 && this.#manager.healthy;
    const parts = [`group ${this.group}: ${this.#readers.size} shard(s) leased`];
    if (this.#throttled > 0) parts.push(`throttled ${this.#throttled} time(s)`);
    if (this.#lost > 0) parts.push(`${this.#lost} lease(s) lost`);
    if (failing.length > 0) parts.push(`failing: ${failing.map(([, text]) => text).join('; ')}`);
    else if (this.#lastProblem !== undefined) parts.push(`last problem: ${this.#lastProblem}`);
    return { ok, detail: parts.join(', ') };
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#paused = true;
    this.#manager.stop();
    await this.#releaseBounded();
    this.#deps.onClosed(this);
  }

  /** {@link releaseAll}, waiting {@link RELEASE_TIMEOUT_MS} at most (then reported; readers stopped). */
  async #releaseBounded(): Promise<void> {
    try {
      await withDeadline(this.#releaseAll(), Date.now() + RELEASE_TIMEOUT_MS, () => {
        const held = this.#manager.heldKeys.length;
        return new BrokerError(
          'kinesis',
          `release the leases of group ${this.group} on ${this.stream}`,
          new Error(`the lease table ${this.#deps.table} did not answer within ${RELEASE_TIMEOUT_MS} ms`),
          `The ${held} lease(s) not released expire and are taken over by other members after failoverTimeMs (${this.#deps.failoverTimeMs} ms); their work after the last checkpoint is redelivered. Check that DynamoDB is reachable.`,
          true,
        );
      });
    } catch (error) {
      for (const reader of this.#readers.values()) reader.stop();
      this.#readers.clear();
      this.#options.onError(error instanceof Error ? error : new Error(errorText(error)));
    }
  }

  /** Final checkpoints, then every lease released (to a member that asked for it, or to nobody). */
  async #releaseAll(): Promise<void> {
    const readers = new Map(this.#readers);
    for (const reader of readers.values()) reader.halt();
    const keys = new Set([...readers.keys(), ...this.#manager.heldKeys]);
    await Promise.all(
      [...keys].map(async (key) => {
        const reader = readers.get(key);
        try {
          await this.#manager.release(key, reader?.finalCheckpoint());
        } catch (error) {
          this.#options.onError(toBrokerError(error, `release the lease of ${key} (group ${this.group})`, 'DynamoDB'));
        }
        reader?.stop();
      }),
    );
    this.#readers.clear();
  }
}
