/**
 * Consuming: one kafkajs consumer per subscription, `eachBatch` handing every message to the
 * consumer core (which runs keys concurrently), offsets committed per partition only below the
 * lowest unsettled message, and rebalances handled so that no work of a partition that moved is
 * committed and, as long as handlers keep finishing, no key runs on two members at once.
 *
 * How a batch is consumed: messages are handed to the core one by one while it is not paused (and
 * fewer than `prefetch` are unsettled); the last one handed out is resolved in kafkajs, so the next
 * fetch starts after it. Then the batch waits while its messages keep settling, heartbeating
 * (kafkajs rejoins a group only between batches): a rebalance reported by a heartbeat here stops
 * the handing out, lets what is out finish (up to drainTimeoutMs), commits it, and only then lets
 * kafkajs rejoin. A batch whose messages stop settling for BATCH_LINGER_MS (a message in retry
 * backoff, a slow handler) returns anyway, so that other partitions keep flowing; such a message
 * stays tracked and is committed when it settles. On every GROUP_JOIN everything handed out
 * before it becomes stale: eager rebalancing revokes every partition, and a commit for a
 * partition no longer owned would be accepted (kafkajs commits with the current generation,
 * tulios/kafkajs#1046), so stale acks are ignored.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import type { Delivery, SubscribeOptions, Subscription } from '../../src/adapter.js';
import { BrokerError, errorText } from '../../src/errors.js';
import type { Headers } from '../../src/message.js';
import { backoffDelay } from '../shared/backoff.js';
import { OffsetTracker, type TrackedPosition } from '../shared/offset-tracker.js';
import { isMemberGoneError, isRebalanceError, toBrokerError } from './errors.js';

/** What `message.raw` is on Kafka: the record as kafkajs decoded it, plus where it came from. */
export interface KafkaRawMessage {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset (a decimal string: offsets can exceed 2^53). */
  readonly offset: string;
  readonly key: Buffer | null;
  /** Null for a tombstone (delivered to handlers as an empty payload). */
  readonly value: Buffer | null;
  /** Headers as kafkajs decoded them: Buffers, and arrays where a name repeats. */
  readonly headers: Readonly<Record<string, Buffer | string | ReadonlyArray<Buffer | string> | undefined>>;
  /** Milliseconds since the epoch, as kafkajs gives it (a string). */
  readonly timestamp: string;
}

/** What a subscription needs from the adapter. */
export interface SubscriberDeps {
  /** A new kafkajs consumer in the subscription's group (its own client, so its logs are its own). */
  createConsumer(restartOnFailure: (error: Error) => Promise<boolean>): Consumer;
  /** Makes sure the topic exists (creating it if allowed) and returns its partition count. */
  ensureTopic(topic: string): Promise<number>;
  /** Partitions the group has no committed offset on, with their end offsets. */
  uncommittedEnds(group: string, topic: string): Promise<Map<number, string>>;
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** How often acknowledged progress is committed (default 500 ms). */
  commitIntervalMs?: number;
  /** How long a rebalance waits for handed-out messages to finish before rejoining (default 30 s). */
  drainTimeoutMs?: number;
  /** How long a consumer may show no sign of life before it is restarted (default rebalance + session timeout). */
  stallTimeoutMs?: number;
}

/** Health of one subscription. */
export interface SubscriptionHealth {
  readonly ok: boolean;
  readonly detail: string;
}

const EMPTY = Buffer.alloc(0);
/** How long close() waits for its last commit. */
const FINAL_COMMIT_MS = 10_000;
const NO_HEADERS: Headers = Object.freeze({}) as Headers;

/** Converts kafkajs headers to polybus's string headers: UTF-8, the last value of a repeated name, nulls dropped. */
export function toStringHeaders(headers: IHeaders | undefined): Headers {
  if (headers === undefined) return NO_HEADERS;
  let out: Headers | undefined;
  for (const name in headers) {
    let value = headers[name];
    if (Array.isArray(value)) value = value[value.length - 1];
    if (value === undefined || value === null) continue;
    out ??= {};
    out[name] = typeof value === 'string' ? value : (value as Buffer).toString('utf8');
  }
  return out ?? NO_HEADERS;
}

/** One owner period of the subscription's partitions: from one GROUP_JOIN to the next. */
class Lease {
  active = true;
  /** A rebalance is under way: hand out nothing more, let what is out finish. */
  revoking = false;
  /** Handed out in this lease and not settled. */
  unsettled = 0;
  drained: Promise<void> | undefined;
  readonly partitions = new Map<number, PartitionState>();

  constructor(partitions: readonly number[]) {
    for (const partition of partitions) {
      this.partitions.set(partition, { tracker: new OffsetTracker(), committed: undefined });
    }
  }
}

interface PartitionState {
  readonly tracker: OffsetTracker;
  /** What was last committed in this lease. */
  committed: string | undefined;
}

/** The messages one eachBatch call handed out and has yet to see settled. */
interface BatchWait {
  outstanding: number;
  /** When one of them last settled (or the last was handed out). */
  lastSettle: number;
}

/**
 * How long a batch waits for its messages with none of them settling before it lets kafkajs fetch
 * on: a message in retry backoff, or a slow handler, must not hold up every other partition.
 */
const BATCH_LINGER_MS = 200;
/** How long a pause lasts before kafkajs stops fetching too. */
const FETCH_PAUSE_AFTER_MS = 100;

class KafkaDelivery implements Delivery {
  readonly topic: string;
  readonly attempt = 1;
  readonly #partition: number;
  readonly #message: KafkaMessage;
  readonly #owner: KafkaSubscription;
  readonly lease: Lease;
  readonly state: PartitionState;
  readonly handle: TrackedPosition;
  readonly batch: BatchWait;
  #key: string | undefined | null = null;
  #headers: Headers | undefined;
  #settled = false;

  constructor(
    owner: KafkaSubscription,
    lease: Lease,
    state: PartitionState,
    handle: TrackedPosition,
    batch: BatchWait,
    topic: string,
    partition: number,
    message: KafkaMessage,
  ) {
    this.#owner = owner;
    this.lease = lease;
    this.state = state;
    this.handle = handle;
    this.batch = batch;
    this.topic = topic;
    this.#partition = partition;
    this.#message = message;
  }

  /** Stable across redeliveries: the record's partition and offset. */
  get id(): string {
    return `${this.#partition}-${this.#message.offset}`;
  }
  get key(): string | undefined {
    if (this.#key === null) this.#key = this.#message.key === null ? undefined : this.#message.key.toString('utf8');
    return this.#key;
  }
  get value(): Uint8Array {
    return this.#message.value ?? EMPTY;
  }
  get headers(): Headers {
    this.#headers ??= toStringHeaders(this.#message.headers);
    return this.#headers;
  }
  get timestamp(): number {
    return Number(this.#message.timestamp);
  }
  get raw(): KafkaRawMessage {
    const message = this.#message;
    return {
      topic: this.topic,
      partition: this.#partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers: message.headers ?? {},
      timestamp: message.timestamp,
    };
  }
  /** True once this member no longer owns the partition generation it came from: settling it does nothing. */
  get stale(): boolean {
    return !this.lease.active;
  }

  ack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.settle(this, true);
  }

  /** Settles without committing past it: whoever reads the partition next reads it again. */
  nack(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#owner.settle(this, false);
  }
}

type State = 'joining' | 'running' | 'restarting' | 'closed';

/** A subscription of one group to one topic. */
export class KafkaSubscription implements Subscription {
  readonly #options: SubscribeOptions;
  readonly #deps: SubscriberDeps;
  readonly #commitIntervalMs: number;
  readonly #drainTimeoutMs: number;
  readonly #stallTimeoutMs: number;
  readonly #lowWater: number;
  #consumer: Consumer | undefined;
  #listeners: Array<() => void> = [];
  #lease: Lease | undefined;
  #paused = false;
  /** Whether kafkajs's fetching is paused too (only once a pause lasts: see pause()). */
  #fetchPaused = false;
  #fetchPauseTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #state: State = 'joining';
  #lastError: string | undefined;
  #lastActivity = Date.now();
  #lastHeartbeat = 0;
  #joins = 0;
  #restarting = false;
  #watchdog: NodeJS.Timeout | undefined;
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  #commit: EachBatchPayload['commitOffsetsIfNecessary'] | undefined;
  readonly #waiters = new Set<() => void>();
  #joined: { resolve(): void; reject(error: Error): void } | undefined;
  #partitionCount = 1;

  constructor(options: SubscribeOptions, deps: SubscriberDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#commitIntervalMs = deps.commitIntervalMs ?? 500;
    this.#drainTimeoutMs = deps.drainTimeoutMs ?? 30_000;
    this.#stallTimeoutMs = deps.stallTimeoutMs ?? deps.rebalanceTimeoutMs + deps.sessionTimeoutMs;
    this.#lowWater = Math.max(0, options.prefetch >> 1);
  }

  /** Joins the group; resolves once this member has its partitions. */
  async start(): Promise<void> {
    const { topic, group, from } = this.#options;
    this.#partitionCount = await this.#deps.ensureTopic(topic);
    const ends = from === 'latest' ? await this.#deps.uncommittedEnds(group, topic) : undefined;
    const joined = new Promise<void>((resolve, reject) => {
      this.#joined = { resolve, reject };
    });
    const limitMs = this.#deps.rebalanceTimeoutMs + this.#deps.sessionTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BrokerError(
              'kafka',
              'subscribe',
              new Error(`group "${group}" did not assign partitions of "${topic}" within ${limitMs} ms`),
              'The group is rebalancing slowly or the coordinator is unreachable; retry run(), and check that every member of the group is healthy.',
            ),
          ),
        limitMs,
      );
    });
    try {
      await this.#launch();
      await Promise.race([joined, timeout]);
      if (ends !== undefined && ends.size > 0) await Promise.race([this.#pinLatest(ends), timeout]);
    } catch (error) {
      await this.close().catch(() => {});
      throw toBrokerError('subscribe', error);
    } finally {
      clearTimeout(timer);
      this.#joined = undefined;
    }
    this.#watchdog = setInterval(() => this.#checkLiveness(), Math.min(5_000, this.#stallTimeoutMs / 2));
    this.#watchdog.unref();
  }

  /**
   * A new group starting at `latest`: commits the end offsets it had before joining on the
   * partitions it got that nobody committed yet, so that every message sent after subscribe()
   * resolves is delivered (kafkajs would look the end up at its first fetch, a little later).
   */
  async #pinLatest(ends: Map<number, string>): Promise<void> {
    const lease = this.#lease;
    const consumer = this.#consumer;
    if (lease === undefined || consumer === undefined) return;
    const mine = [...ends.keys()].filter((partition) => lease.partitions.has(partition));
    if (mine.length === 0) return;
    const still = await this.#deps.uncommittedEnds(this.#options.group, this.#options.topic);
    const topic = this.#options.topic;
    const pins = mine
      .filter((partition) => still.has(partition) && lease.partitions.get(partition)?.tracker.lastTracked === undefined)
      .map((partition) => ({ topic, partition, offset: ends.get(partition) as string }));
    if (pins.length === 0 || !lease.active) return;
    await consumer.commitOffsets(pins);
  }

  /** Creates, connects and runs a kafkajs consumer. */
  async #launch(): Promise<void> {
    const consumer = this.#deps.createConsumer(async () => this.#joins > 0 && !this.#closing);
    this.#consumer = consumer;
    this.#touch();
    const on = consumer.events;
    const mine = (): boolean => this.#consumer === consumer;
    this.#listeners.push(
      consumer.on(on.GROUP_JOIN, (event) => {
        if (mine()) this.#onJoin(consumer, event.payload.memberAssignment);
      }),
      consumer.on(on.CRASH, (event) => {
        if (mine()) this.#onCrash(event.payload.error, event.payload.restart);
      }),
      consumer.on(on.REBALANCING, () => {
        if (mine()) this.#onRebalancing();
      }),
      consumer.on(on.FETCH_START, () => mine() && this.#touch()),
      consumer.on(on.HEARTBEAT, () => mine() && this.#touch()),
      consumer.on(on.COMMIT_OFFSETS, () => mine() && this.#touch()),
    );
    await consumer.connect();
    await consumer.subscribe({ topics: [this.#options.topic], fromBeginning: this.#options.from === 'earliest' });
    const concurrency = Math.max(1, Math.min(this.#partitionCount, this.#options.prefetch, 64));
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: (payload) => this.#eachBatch(consumer, payload),
    });
  }

  #onJoin(consumer: Consumer, assignment: Record<string, number[]>): void {
    this.#deactivate();
    this.#joins++;
    this.#lease = new Lease(assignment[this.#options.topic] ?? []);
    this.#state = 'running';
    this.#lastError = undefined;
    this.#touch();
    if (this.#fetchPaused) this.#kafkaPause(consumer, true);
    this.#joined?.resolve();
  }

  #onCrash(error: Error, restart: boolean): void {
    this.#deactivate();
    if (this.#closing) return;
    if (this.#joins === 0) {
      // Never joined: subscribe() fails with this error; kafkajs does not restart (restartOnFailure says no).
      this.#joined?.reject(toBrokerError('subscribe', error));
      return;
    }
    this.#state = 'restarting';
    this.#noteError(error);
    this.#report(
      toBrokerError(
        'consume',
        error,
        restart
          ? 'kafkajs stopped the consumer and restarts it; messages not yet committed will be redelivered.'
          : 'kafkajs stopped the consumer for good; polybus restarts it with backoff. Messages not yet committed will be redelivered.',
      ),
    );
    if (!restart) this.#restart();
  }

  #onRebalancing(): void {
    // kafkajs noticed the rebalance outside eachBatch (nothing is out then, but acks may be
    // uncommitted): commit now, while the group still accepts this generation's commits.
    const lease = this.#lease;
    if (lease?.active) void this.#commitNow(lease);
  }

  async #eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    if (consumer !== this.#consumer) return;
    this.#commit = payload.commitOffsetsIfNecessary;
    this.#touch();
    const lease = this.#lease;
    const { batch } = payload;
    const state = lease?.partitions.get(batch.partition);
    if (lease === undefined || state === undefined || batch.topic !== this.#options.topic) return;
    if (!this.#canHandOut(lease, payload)) return;
    const prefetch = this.#options.prefetch;
    const onDelivery = this.#options.onDelivery;
    const wait: BatchWait = { outstanding: 0, lastSettle: 0 };
    const messages = batch.messages;
    let handedAll = true;
    const full = (): boolean => this.#paused || lease.unsettled >= prefetch;
    // The last offset handed out: resolved in kafkajs (so the next fetch starts after it) once,
    // when the loop ends, not per message (kafkajs parses offsets into Longs on every call).
    let handedOut: string | undefined;
    for (let i = 0; i < messages.length; i++) {
      if (full()) {
        // Re-checked right after each wait, in this same synchronous step: other batches running
        // concurrently wake up too, and only the check just before handing out is reliable.
        while (full() && this.#canHandOut(lease, payload)) await this.#waitWhile(lease, payload, full);
        if (full() || !this.#canHandOut(lease, payload)) {
          handedAll = false;
          break;
        }
      } else if (!lease.active || lease.revoking || this.#closing) {
        // Nothing awaited since the last full check: only these can have changed (synchronously).
        handedAll = false;
        break;
      }
      const message = messages[i] as KafkaMessage;
      if (state.tracker.seen(message.offset)) continue;
      const handle = state.tracker.track(message.offset);
      const delivery = new KafkaDelivery(this, lease, state, handle, wait, batch.topic, batch.partition, message);
      lease.unsettled++;
      wait.outstanding++;
      handedOut = message.offset;
      onDelivery(delivery);
    }
    if (handedAll && lease.active) {
      // Records past the last message (transaction markers) need no processing.
      const last = batch.lastOffset();
      state.tracker.advanceTo((BigInt(last) + 1n).toString());
      payload.resolveOffset(last);
    } else if (handedOut !== undefined && lease.active) {
      payload.resolveOffset(handedOut);
    }
    // Wait for what this batch handed out while it makes progress: kafkajs rejoins a group only
    // between batches, so a rebalance noticed here is drained before this member leaves its
    // partitions. Messages still unsettled after BATCH_LINGER_MS without progress stay tracked.
    wait.lastSettle = Date.now();
    await this.#waitWhile(
      lease,
      payload,
      () => wait.outstanding > 0 && Date.now() - wait.lastSettle < BATCH_LINGER_MS,
      BATCH_LINGER_MS,
    );
  }

  #canHandOut(lease: Lease, payload: EachBatchPayload): boolean {
    return lease.active && !lease.revoking && !this.#closing && payload.isRunning() && !payload.isStale();
  }

  /** Waits while `condition` holds, heartbeating; returns early if the lease ends or the consumer stops. */
  async #waitWhile(
    lease: Lease,
    payload: EachBatchPayload,
    condition: () => boolean,
    napMs = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const tick = Math.min(1_000, this.#deps.heartbeatIntervalMs);
    while (condition()) {
      if (!lease.active || this.#closing || !payload.isRunning()) return;
      await this.#nap(Math.min(tick, napMs));
      this.#touch();
      if (Date.now() - this.#lastHeartbeat < tick) continue;
      this.#lastHeartbeat = Date.now();
      try {
        await payload.heartbeat();
      } catch (error) {
        if (isRebalanceError(error)) {
          await this.#drain(lease);
          throw error;
        }
        if (isMemberGoneError(error)) {
          // Already out of the group: others may own these partitions now. Nothing to commit.
          this.#deactivate(lease);
          throw error;
        }
        // Connection trouble: keep waiting; kafkajs reconnects once this batch returns.
        this.#noteError(error);
      }
    }
  }

  /** Resolves on the next wake-up (a settle, resume, close, lease change) or after `ms`. */
  #nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.#waiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** A rebalance is under way: stop handing out, let what is out finish (bounded), commit it. */
  #drain(lease: Lease): Promise<void> {
    lease.drained ??= (async () => {
      lease.revoking = true;
      const deadline = Date.now() + this.#drainTimeoutMs;
      while (lease.unsettled > 0 && lease.active && !this.#closing && Date.now() < deadline) {
        await this.#nap(Math.min(200, Math.max(1, deadline - Date.now())));
      }
      await this.#commitNow(lease);
    })();
    return lease.drained;
  }

  /** Called by a delivery's ack (ok) or nack. */
  settle(delivery: KafkaDelivery, ok: boolean): void {
    const lease = delivery.lease;
    const batch = delivery.batch;
    lease.unsettled--;
    batch.outstanding--;
    batch.lastSettle = Date.now();
    if (batch.outstanding === 0 || lease.unsettled === this.#lowWater || lease.unsettled === 0) this.#wake();
    // A stale delivery: this member no longer owns that partition generation. Never commit for it.
    if (!lease.active) return;
    if (!ok) {
      delivery.state.tracker.hold(delivery.handle);
      return;
    }
    if (delivery.state.tracker.ack(delivery.handle)) this.#scheduleCommit();
  }

  #scheduleCommit(): void {
    if (this.#commitTimer !== undefined) return;
    this.#commitTimer = setTimeout(() => {
      this.#commitTimer = undefined;
      const lease = this.#lease;
      if (lease?.active) void this.#commitNow(lease);
    }, this.#commitIntervalMs);
    this.#commitTimer.unref();
  }

  /** Commits each partition's progress in this lease; one commit request at a time. */
  async #commitNow(lease: Lease): Promise<void> {
    while (this.#committing !== undefined) await this.#committing;
    // From here to the commit call nothing awaits: the lease check and the generation kafkajs
    // commits with belong to the same moment (a GROUP_JOIN cannot slip in between).
    const commit = this.#commit;
    if (commit === undefined || !lease.active) return;
    const partitions: { partition: number; offset: string }[] = [];
    for (const [partition, state] of lease.partitions) {
      const offset = state.tracker.nextOffset();
      if (offset !== undefined && offset !== state.committed) partitions.push({ partition, offset });
    }
    if (partitions.length === 0) return;
    const committing = commit({ topics: [{ topic: this.#options.topic, partitions }] }).then(
      () => {
        for (const { partition, offset } of partitions) {
          const state = lease.partitions.get(partition);
          if (state !== undefined) state.committed = offset;
        }
      },
      (error: unknown) => {
        if (isRebalanceError(error) || isMemberGoneError(error)) return;
        this.#noteError(error);
        if (lease.active && !this.#closing) this.#scheduleCommit();
      },
    );
    this.#committing = committing.finally(() => {
      this.#committing = undefined;
    });
    await this.#committing;
  }

  #deactivate(lease: Lease | undefined = this.#lease): void {
    if (lease === undefined || !lease.active) return;
    lease.active = false;
    if (lease === this.#lease) this.#lease = undefined;
    this.#wake();
  }

  #touch(): void {
    this.#lastActivity = Date.now();
  }

  #checkLiveness(): void {
    if (this.#closing || this.#restarting) return;
    const silentMs = Date.now() - this.#lastActivity;
    if (silentMs < this.#stallTimeoutMs) return;
    this.#report(
      new BrokerError(
        'kafka',
        'consume',
        new Error(`the kafkajs consumer of group "${this.#options.group}" showed no activity for ${silentMs} ms`),
        'polybus restarts it; messages not yet committed will be redelivered (kafkajs can stop silently, tulios/kafkajs#659).',
      ),
    );
    this.#restart();
  }

  /** Replaces the kafkajs consumer, with backoff, until one runs or the subscription closes. */
  #restart(): void {
    if (this.#restarting || this.#closing) return;
    this.#restarting = true;
    this.#state = 'restarting';
    this.#deactivate();
    const old = this.#consumer;
    this.#consumer = undefined;
    void (async () => {
      if (old !== undefined) {
        await Promise.race([old.disconnect().catch(() => {}), sleep(10_000, undefined, { ref: false })]);
      }
      for (let attempt = 1; !this.#closing; attempt++) {
        await sleep(backoffDelay(attempt, { initialMs: 1_000, maxMs: 30_000 }), undefined, { ref: false });
        if (this.#closing) break;
        try {
          await this.#launch();
          break;
        } catch (error) {
          this.#noteError(error);
          const failed = this.#consumer;
          this.#consumer = undefined;
          await failed?.disconnect().catch(() => {});
        }
      }
      this.#restarting = false;
      this.#touch();
    })();
  }

  #noteError(error: unknown): void {
    this.#lastError = errorText(error);
  }

  #report(error: BrokerError): void {
    this.#lastError = error.message;
    try {
      this.#options.onError(error);
    } catch {
      // The consumer core reports; a throwing reporter must not break consumption.
    }
  }

  #kafkaPause(consumer: Consumer | undefined, pause: boolean): void {
    try {
      if (pause) consumer?.pause([{ topic: this.#options.topic }]);
      else consumer?.resume([{ topic: this.#options.topic }]);
    } catch {
      // Not running yet: the pause is applied again on GROUP_JOIN.
    }
  }

  /**
   * Stops handing out messages at once. The core's flow control pauses and resumes every
   * prefetch/2 messages, and pausing kafkajs's fetches each time cost 40 % of consume throughput
   * (bench/kafka.ts): fetching stops only when a pause lasts FETCH_PAUSE_AFTER_MS.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#fetchPauseTimer ??= setTimeout(() => {
      this.#fetchPauseTimer = undefined;
      if (!this.#paused || this.#fetchPaused) return;
      this.#fetchPaused = true;
      this.#kafkaPause(this.#consumer, true);
    }, FETCH_PAUSE_AFTER_MS);
  }

  resume(): void {
    if (!this.#paused || this.#closing) return;
    this.#paused = false;
    if (this.#fetchPaused) {
      this.#fetchPaused = false;
      this.#kafkaPause(this.#consumer, false);
    }
    this.#wake();
  }

  /** Where this subscription stands, for health(). */
  health(): SubscriptionHealth {
    const { topic, group } = this.#options;
    const where = `${group}/${topic}`;
    if (this.#state === 'running') {
      const owned = this.#lease ? [...this.#lease.partitions.keys()].join(',') : '';
      return { ok: true, detail: `${where}: running (partitions ${owned || 'none'})` };
    }
    const why = this.#lastError ? `: ${this.#lastError}` : '';
    return { ok: false, detail: `${where}: ${this.#state}${why}` };
  }

  /** Stops fetching, commits what was acknowledged, leaves the group. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#fetchPauseTimer);
    this.#fetchPauseTimer = undefined;
    this.#state = 'closed';
    clearInterval(this.#watchdog);
    clearTimeout(this.#commitTimer);
    this.#wake();
    const lease = this.#lease;
    // The last commit happens while still a member: kafkajs ignores commits after stop(). Bounded:
    // with the broker down it would otherwise wait for kafkajs's request timeout.
    if (lease?.active) {
      await Promise.race([this.#commitNow(lease).catch(() => {}), sleep(FINAL_COMMIT_MS, undefined, { ref: false })]);
    }
    this.#deactivate();
    const consumer = this.#consumer;
    this.#consumer = undefined;
    try {
      await consumer?.disconnect();
    } finally {
      for (const off of this.#listeners) off();
      this.#listeners = [];
    }
  }
}
