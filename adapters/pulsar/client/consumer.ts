/**
 * Consumers. A {@link Consumer} merges one {@link PartitionConsumer} per partition into one
 * queue. Each partition consumer subscribes, grants FLOW permits as the application takes
 * messages (so at most about `receiverQueueSize` wait unprocessed), checks every message's
 * CRC32C, decompresses and unpacks batches, groups acknowledgements, turns negative
 * acknowledgements into REDELIVER_UNACKNOWLEDGED_MESSAGES after their delay, and re-subscribes
 * by itself after a reconnect or a broker-side close.
 */
import { decodeBatch, fromKeyValues } from './batch.js';
import {
  AckType,
  type CommandActiveConsumerChange,
  type CommandCloseConsumer,
  type CommandMessage,
  CommandType,
  InitialPosition,
  KeySharedMode,
  type MessageIdData,
  SubType,
} from './commands.js';
import { decompress } from './compression.js';
import type { Connection, ConsumerHandler } from './connection.js';
import type { ClientContext } from './context.js';
import {
  PulsarChecksumError,
  PulsarClientError,
  PulsarClosedError,
  PulsarConfigError,
  PulsarServerError,
  PulsarTimeoutError,
} from './errors.js';
import { encodeCommand, type Frame, parsePayload } from './frame.js';
import { type Message, MessageId } from './message.js';
import { Backoff, partitionTopicName } from './topic.js';

/** Subscription types. */
export type SubscriptionType = 'Exclusive' | 'Shared' | 'Failover' | 'Key_Shared';

/** Options of {@link PulsarClient.subscribe}. */
export interface ConsumerOptions {
  /** `topic`, `tenant/namespace/topic` or a full name. */
  topic: string;
  /** The subscription name. */
  subscription: string;
  /** Default `Exclusive` (as in the Java client). */
  subscriptionType?: SubscriptionType;
  /** Where a new subscription starts: `latest` (default) or `earliest`. */
  initialPosition?: 'earliest' | 'latest';
  /**
   * Messages the broker may push ahead of the application, per partition (default 1000). Permits
   * are returned as the application takes messages with `receive`.
   */
  receiverQueueSize?: number;
  /** A consumer name (shown in stats; decides the active consumer of a Failover subscription). */
  consumerName?: string;
  /** Default delay before a negatively acknowledged message is redelivered (default 60 s). */
  negativeAckRedeliveryDelayMs?: number;
  /** Acknowledgements are grouped for this long before they are sent (default 10 ms; 0 = at once). */
  ackGroupingMs?: number;
  /** Key_Shared: let the broker deliver a key's messages out of order on consumer changes (default false). */
  keySharedAllowOutOfOrder?: boolean;
  /** Priority for Shared subscriptions (lower = preferred). */
  priorityLevel?: number;
  /** Default true; false = a non-durable cursor that disappears with the consumer. */
  durable?: boolean;
  /** Read the compacted view of the topic. */
  readCompacted?: boolean;
  /** Failover: called when this consumer becomes (or stops being) the active one. */
  onActiveChange?: (active: boolean, partition: number) => void;
  /** Called when the topic (partition) was terminated and every message delivered. */
  onEndOfTopic?: (partition: number) => void;
}

const SUB_TYPES: Record<SubscriptionType, number> = {
  Exclusive: SubType.Exclusive,
  Shared: SubType.Shared,
  Failover: SubType.Failover,
  Key_Shared: SubType.Key_Shared,
};

/** Tracks which messages of one batch entry are still unacknowledged. */
class BatchTracker {
  private remaining: boolean[];
  left: number;

  constructor(readonly size: number) {
    this.remaining = new Array<boolean>(size).fill(true);
    this.left = size;
  }

  isPending(index: number): boolean {
    return this.remaining[index] === true;
  }

  /** Marks one index acknowledged; true when the whole entry is. */
  ack(index: number): boolean {
    if (this.remaining[index]) {
      this.remaining[index] = false;
      this.left--;
    }
    return this.left === 0;
  }
}

/** A received message plus what the consumer needs to acknowledge it. */
class ReceivedMessage implements Message {
  constructor(
    readonly topic: string,
    readonly messageId: MessageId,
    readonly payload: Buffer,
    readonly key: string | undefined,
    readonly orderingKey: Buffer | undefined,
    readonly properties: Readonly<Record<string, string>>,
    readonly publishTime: number,
    readonly eventTime: number | undefined,
    readonly redeliveryCount: number,
    readonly producerName: string,
    readonly sequenceId: number,
    /** @internal */ readonly owner: PartitionConsumer,
    /** @internal */ readonly generation: number,
    /** @internal */ readonly tracker: BatchTracker | undefined,
  ) {}
}

type State = 'connecting' | 'ready' | 'closing' | 'closed' | 'failed';

/** Where a partition consumer hands its messages. @internal */
interface Sink {
  push(message: ReceivedMessage): void;
  /** Drops queued messages of `owner` older than `generation`; returns how many. */
  discard(owner: PartitionConsumer, generation: number): number;
  failed(error: Error): void;
}

/** Another consumer holds the subscription (Exclusive) or name: final on first subscribe, transient after a reconnect. */
function isBusy(error: Error): boolean {
  return error instanceof PulsarServerError && error.code === 'ConsumerBusy';
}

const ENTRY_KEY = (ledger: number, entry: number) => `${ledger}:${entry}`;

/** A consumer of one topic or one partition. @internal */
export class PartitionConsumer implements ConsumerHandler {
  readonly consumerId: number;
  private state: State = 'connecting';
  private connection: Connection | undefined;
  /** Bumped on every (re)subscribe and redeliver-all: older queued messages are dropped. */
  private generation = 0;
  private epoch = 0;
  private permitsToReturn = 0;
  private readonly queueSize: number;
  private readonly trackers = new Map<string, BatchTracker>();
  private pendingAcks: MessageIdData[] = [];
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly nacks = new Map<number, MessageIdData[]>();
  private nackTimers = new Set<NodeJS.Timeout>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff();
  /** False until the first successful attach: a busy name is then an error, not a wait. */
  private attachedOnce = false;
  private attachWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private ignoreUntilResubscribe = false;
  /** Set for Failover: whether this consumer is the active one. */
  active: boolean | undefined;
  endOfTopic = false;
  /** Messages dropped because their checksum or format was bad. */
  corruptMessages = 0;

  constructor(
    private readonly ctx: ClientContext,
    readonly topic: string,
    readonly partition: number,
    private readonly options: ConsumerOptions,
    private readonly sink: Sink,
  ) {
    this.consumerId = ctx.newConsumerId();
    this.queueSize = options.receiverQueueSize ?? 1000;
  }

  private get shared(): boolean {
    const type = this.options.subscriptionType ?? 'Exclusive';
    return type === 'Shared' || type === 'Key_Shared';
  }

  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.attachWaiters.push({ resolve, reject }));
    const timer = setTimeout(() => {
      if (this.state === 'connecting') this.fail(new PulsarTimeoutError(`subscribing to ${this.topic} timed out`));
    }, this.ctx.operationTimeoutMs);
    void this.attach();
    return ready.finally(() => clearTimeout(timer));
  }

  private async attach(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.state !== 'connecting') return;
    try {
      const { logical, physical } = await this.ctx.lookup.lookup(this.topic);
      const connection = await this.ctx.pool.get(logical, physical);
      if (this.state !== 'connecting') return;
      // Messages queued from the previous subscription will be redelivered: drop them.
      this.generation++;
      const dropped = this.sink.discard(this, this.generation);
      this.permitsToReturn = 0;
      connection.addConsumer(this.consumerId, this);
      const options = this.options;
      await connection.request((requestId) => ({
        type: CommandType.SUBSCRIBE,
        subscribe: {
          topic: this.topic,
          subscription: options.subscription,
          subType: SUB_TYPES[options.subscriptionType ?? 'Exclusive'],
          consumerId: this.consumerId,
          requestId,
          consumerName: options.consumerName,
          priorityLevel: options.priorityLevel,
          durable: options.durable ?? true,
          readCompacted: options.readCompacted,
          initialPosition: options.initialPosition === 'earliest' ? InitialPosition.Earliest : InitialPosition.Latest,
          keySharedMeta:
            options.subscriptionType === 'Key_Shared'
              ? {
                  keySharedMode: KeySharedMode.AUTO_SPLIT,
                  allowOutOfOrderDelivery: options.keySharedAllowOutOfOrder ?? false,
                }
              : undefined,
          consumerEpoch: this.epoch,
        },
      }));
      if (this.state !== 'connecting') {
        connection.removeConsumer(this.consumerId);
        return;
      }
      this.connection = connection;
      this.state = 'ready';
      this.ignoreUntilResubscribe = false;
      this.backoff.reset();
      this.attachedOnce = true;
      this.ctx.logger.debug?.(
        `consumer ${this.consumerId} subscribed to ${this.topic} on ${connection.name} (${dropped} queued dropped)`,
      );
      this.sendFlow(this.queueSize);
      this.flushAcks();
      for (const waiter of this.attachWaiters) waiter.resolve();
      this.attachWaiters = [];
    } catch (error) {
      this.connection?.removeConsumer(this.consumerId);
      this.connection = undefined;
      if (this.state !== 'connecting') return;
      const err = error as Error;
      if ((err instanceof PulsarClientError && !err.retryable) || (!this.attachedOnce && isBusy(err))) {
        this.fail(err);
        return;
      }
      this.scheduleReconnect(`subscribe failed: ${err.message}`);
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.reconnectTimer || this.state !== 'connecting' || this.ctx.closed) return;
    const delay = this.backoff.next();
    this.ctx.logger.info?.(`consumer on ${this.topic}: ${reason}; re-subscribing in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => void this.attach(), delay);
  }

  private detach(reason: string): void {
    if (this.state !== 'ready') return;
    this.connection?.removeConsumer(this.consumerId);
    this.connection = undefined;
    this.state = 'connecting';
    this.scheduleReconnect(reason);
  }

  private fail(error: Error): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'failed';
    this.ctx.logger.error?.(`consumer on ${this.topic} failed: ${error.message}`);
    for (const waiter of this.attachWaiters) waiter.reject(error);
    this.attachWaiters = [];
    this.clearTimers();
    this.connection?.removeConsumer(this.consumerId);
    this.sink.failed(error);
  }

  // ------------------------------------------------------------ handler

  onConnectionClosed(): void {
    this.connection = undefined;
    if (this.state === 'ready') this.detach('connection lost');
  }

  onClosedByBroker(_command: CommandCloseConsumer): void {
    if (this.state === 'ready') this.detach('closed by the broker (topic unloaded, moved or seeked)');
  }

  onActiveChange(command: CommandActiveConsumerChange): void {
    this.active = command.isActive ?? false;
    this.options.onActiveChange?.(this.active, this.partition);
  }

  onReachedEndOfTopic(): void {
    this.endOfTopic = true;
    this.options.onEndOfTopic?.(this.partition);
  }

  onMessage(command: CommandMessage, frame: Frame): void {
    if (this.state !== 'ready' || this.ignoreUntilResubscribe) return;
    if (command.consumerEpoch !== undefined && command.consumerEpoch < this.epoch) {
      // Sent before a redeliver-all: the broker sends it again.
      this.returnPermits(1);
      return;
    }
    const id = command.messageId;
    let parsed: ReturnType<typeof parsePayload>;
    try {
      parsed = parsePayload(frame.buffer, frame.payloadOffset);
    } catch (error) {
      this.discardCorrupt(id, error as Error);
      return;
    }
    const { metadata } = parsed;
    const batched = metadata.numMessagesInBatch !== undefined;
    const count = batched ? (metadata.numMessagesInBatch as number) : 1;
    if (metadata.encryptionKeys && metadata.encryptionKeys.length > 0) {
      this.discardCorrupt(id, new PulsarConfigError('encrypted messages are not supported'), count);
      return;
    }
    if (metadata.markerType !== undefined && metadata.markerType !== 0) {
      // Replication/transaction markers are not application messages.
      this.queueAck({ ledgerId: id.ledgerId, entryId: id.entryId });
      this.returnPermits(count);
      return;
    }
    let payload: Buffer;
    try {
      payload = decompress(
        metadata.compression ?? 0,
        parsed.payload,
        metadata.uncompressedSize ?? parsed.payload.length,
      );
    } catch (error) {
      this.discardCorrupt(id, error as Error, count);
      return;
    }
    const redeliveryCount = command.redeliveryCount ?? 0;
    const properties = fromKeyValues(metadata.properties);
    if (!batched) {
      this.sink.push(
        new ReceivedMessage(
          this.topic,
          new MessageId(id.ledgerId, id.entryId, this.partition, -1, 0),
          payload,
          metadata.partitionKey,
          metadata.orderingKey ? Buffer.from(metadata.orderingKey) : undefined,
          properties,
          metadata.publishTime,
          metadata.eventTime,
          redeliveryCount,
          metadata.producerName,
          metadata.sequenceId,
          this,
          this.generation,
          undefined,
        ),
      );
      return;
    }
    let entries: ReturnType<typeof decodeBatch>;
    try {
      entries = decodeBatch(payload, count);
    } catch (error) {
      this.discardCorrupt(id, error as Error, count);
      return;
    }
    const entryKey = ENTRY_KEY(id.ledgerId, id.entryId);
    let tracker = this.trackers.get(entryKey);
    if (!tracker || tracker.size !== count) {
      tracker = new BatchTracker(count);
      this.trackers.set(entryKey, tracker);
    }
    let skipped = 0;
    entries.forEach((entry, index) => {
      const t = tracker as BatchTracker;
      const m = entry.metadata;
      if (!t.isPending(index) || m.compactedOut) {
        // Already acknowledged before a redelivery of the whole entry, or compacted away.
        if (m.compactedOut && t.ack(index)) this.entryDone(entryKey, id);
        skipped++;
        return;
      }
      this.sink.push(
        new ReceivedMessage(
          this.topic,
          new MessageId(id.ledgerId, id.entryId, this.partition, index, count),
          entry.payload,
          m.partitionKey,
          m.orderingKey ? Buffer.from(m.orderingKey) : undefined,
          fromKeyValues(m.properties),
          metadata.publishTime,
          m.eventTime ?? metadata.eventTime,
          redeliveryCount,
          metadata.producerName,
          m.sequenceId ?? metadata.sequenceId + index,
          this,
          this.generation,
          t,
        ),
      );
    });
    if (skipped > 0) this.returnPermits(skipped);
  }

  private discardCorrupt(id: MessageIdData, error: Error, count = 1): void {
    this.corruptMessages++;
    const what = error instanceof PulsarChecksumError ? 'checksum mismatch' : error.message;
    this.ctx.logger.error?.(`consumer on ${this.topic}: message ${id.ledgerId}:${id.entryId} dropped: ${what}`);
    // As the Java client does: acknowledge the corrupt entry so it does not block the subscription.
    this.queueAck({ ledgerId: id.ledgerId, entryId: id.entryId });
    this.returnPermits(count);
  }

  // ------------------------------------------------------------ flow control

  /** Called when the application took one of this consumer's messages. */
  taken(message: ReceivedMessage): void {
    if (message.generation !== this.generation) return;
    this.returnPermits(1);
  }

  private returnPermits(count: number): void {
    this.permitsToReturn += count;
    if (this.permitsToReturn >= Math.max(1, Math.floor(this.queueSize / 2))) {
      const permits = this.permitsToReturn;
      this.permitsToReturn = 0;
      this.sendFlow(permits);
    }
  }

  private sendFlow(permits: number): void {
    if (this.state !== 'ready' || !this.connection || permits <= 0) return;
    try {
      this.connection.write(
        encodeCommand({
          type: CommandType.FLOW,
          flow: { consumerId: this.consumerId, messagePermits: permits },
        }),
      );
    } catch {
      // connection lost: permits are granted afresh after re-subscribing
    }
  }

  // ------------------------------------------------------------ acknowledgements

  acknowledge(message: ReceivedMessage): void {
    const id = message.messageId;
    if (message.tracker) {
      if (!message.tracker.ack(id.batchIndex)) return;
      this.entryDone(ENTRY_KEY(id.ledgerId, id.entryId), { ledgerId: id.ledgerId, entryId: id.entryId });
      return;
    }
    this.queueAck({ ledgerId: id.ledgerId, entryId: id.entryId });
  }

  private entryDone(entryKey: string, id: MessageIdData): void {
    this.trackers.delete(entryKey);
    this.queueAck({ ledgerId: id.ledgerId, entryId: id.entryId });
  }

  private queueAck(id: MessageIdData): void {
    this.pendingAcks.push(id);
    const grouping = this.options.ackGroupingMs ?? 10;
    if (grouping <= 0 || this.pendingAcks.length >= 1000) {
      this.flushAcks();
      return;
    }
    if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        this.flushAcks();
      }, grouping);
    }
  }

  /** Sends grouped acknowledgements now (kept for after a reconnect when disconnected). */
  flushAcks(): void {
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    if (this.pendingAcks.length === 0 || this.state !== 'ready' || !this.connection) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    try {
      this.connection.write(
        encodeCommand({
          type: CommandType.ACK,
          ack: { consumerId: this.consumerId, ackType: AckType.Individual, messageId: ids },
        }),
      );
    } catch {
      this.pendingAcks = ids.concat(this.pendingAcks);
    }
  }

  /** Asks for redelivery of a message after `delayMs`. */
  negativeAcknowledge(message: ReceivedMessage, delayMs: number): void {
    const id = message.messageId;
    const due = Date.now() + Math.max(0, delayMs);
    // Group by 100 ms buckets so that many nacks make few commands.
    const bucket = Math.ceil(due / 100) * 100;
    let ids = this.nacks.get(bucket);
    if (!ids) {
      ids = [];
      this.nacks.set(bucket, ids);
      const timer = setTimeout(
        () => {
          this.nackTimers.delete(timer);
          const list = this.nacks.get(bucket) ?? [];
          this.nacks.delete(bucket);
          this.redeliver(list);
        },
        Math.max(0, bucket - Date.now()),
      );
      this.nackTimers.add(timer);
    }
    if (!ids.some((other) => other.ledgerId === id.ledgerId && other.entryId === id.entryId)) {
      ids.push({ ledgerId: id.ledgerId, entryId: id.entryId });
    }
  }

  private redeliver(ids: MessageIdData[]): void {
    if (ids.length === 0 || this.state !== 'ready' || !this.connection) {
      // Not connected: everything unacknowledged is redelivered after re-subscribing anyway.
      return;
    }
    try {
      if (this.shared) {
        for (let i = 0; i < ids.length; i += 1000) {
          this.connection.write(
            encodeCommand({
              type: CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES,
              redeliverUnacknowledgedMessages: { consumerId: this.consumerId, messageIds: ids.slice(i, i + 1000) },
            }),
          );
        }
      } else {
        // Exclusive and Failover can only rewind to the first unacknowledged message.
        this.epoch++;
        this.generation++;
        const dropped = this.sink.discard(this, this.generation);
        this.connection.write(
          encodeCommand({
            type: CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES,
            redeliverUnacknowledgedMessages: { consumerId: this.consumerId, consumerEpoch: this.epoch },
          }),
        );
        this.returnPermits(dropped);
      }
    } catch {
      // connection lost meanwhile: redelivered after re-subscribing
    }
  }

  // ------------------------------------------------------------ seek, close

  /** Moves the subscription to a message id or a publish time (epoch ms). */
  async seek(target: MessageId | number): Promise<void> {
    const connection = this.connection;
    if (this.state !== 'ready' || !connection)
      throw new PulsarClosedError(`consumer on ${this.topic} is not connected`);
    await connection.request((requestId) => ({
      type: CommandType.SEEK,
      seek:
        typeof target === 'number'
          ? { consumerId: this.consumerId, requestId, messagePublishTime: target }
          : {
              consumerId: this.consumerId,
              requestId,
              messageId: { ledgerId: target.ledgerId, entryId: target.entryId },
            },
    }));
    // The broker now closes this consumer; until we re-subscribe, drop what arrives from the old position.
    this.ignoreUntilResubscribe = true;
    this.trackers.clear();
    this.generation++;
    this.sink.discard(this, this.generation);
  }

  async unsubscribe(): Promise<void> {
    const connection = this.connection;
    if (this.state !== 'ready' || !connection)
      throw new PulsarClosedError(`consumer on ${this.topic} is not connected`);
    await connection.request((requestId) => ({
      type: CommandType.UNSUBSCRIBE,
      unsubscribe: { consumerId: this.consumerId, requestId },
    }));
    this.state = 'closed';
    this.clearTimers();
    connection.removeConsumer(this.consumerId);
  }

  private clearTimers(): void {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.ackTimer);
    this.reconnectTimer = this.ackTimer = undefined;
    for (const timer of this.nackTimers) clearTimeout(timer);
    this.nackTimers.clear();
    this.nacks.clear();
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.flushAcks();
    const connection = this.connection;
    const wasReady = this.state === 'ready';
    this.state = 'closing';
    this.clearTimers();
    if (wasReady && connection && !connection.closed) {
      try {
        await connection.request((requestId) => ({
          type: CommandType.CLOSE_CONSUMER,
          closeConsumer: { consumerId: this.consumerId, requestId },
        }));
      } catch {
        // closing anyway
      }
    }
    this.state = 'closed';
    connection?.removeConsumer(this.consumerId);
    this.connection = undefined;
    const error = new PulsarClosedError(`consumer on ${this.topic} is closed`);
    for (const waiter of this.attachWaiters) waiter.reject(error);
    this.attachWaiters = [];
  }
}

interface Waiter {
  resolve(message: Message): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** A consumer of a topic (every partition of a partitioned topic). */
export class Consumer implements Sink {
  private queue: ReceivedMessage[] = [];
  private head = 0;
  private waiters: Waiter[] = [];
  private closed = false;
  private failure: Error | undefined;
  private partitions: PartitionConsumer[] = [];
  private untrack: () => void = () => {};

  /** @internal */
  constructor(
    /** The full topic name. */
    readonly topic: string,
    readonly subscription: string,
    private readonly nackDelayMs: number,
  ) {}

  /** @internal */
  static async create(ctx: ClientContext, topic: string, options: ConsumerOptions): Promise<Consumer> {
    const queue = options.receiverQueueSize ?? 1000;
    if (!Number.isInteger(queue) || queue < 1)
      throw new PulsarConfigError('receiverQueueSize must be a positive integer');
    if (!options.subscription) throw new PulsarConfigError('subscription is required');
    if (options.subscriptionType && !(options.subscriptionType in SUB_TYPES)) {
      throw new PulsarConfigError(`unknown subscription type ${options.subscriptionType}`);
    }
    const consumer = new Consumer(topic, options.subscription, options.negativeAckRedeliveryDelayMs ?? 60_000);
    const count = await ctx.lookup.partitions(topic);
    consumer.partitions =
      count > 0
        ? Array.from(
            { length: count },
            (_, i) => new PartitionConsumer(ctx, partitionTopicName(topic, i), i, options, consumer),
          )
        : [new PartitionConsumer(ctx, topic, -1, options, consumer)];
    try {
      await Promise.all(consumer.partitions.map((p) => p.start()));
    } catch (error) {
      await consumer.close();
      throw error;
    }
    consumer.untrack = ctx.track(consumer);
    return consumer;
  }

  /** Number of partitions (0 for a non-partitioned topic). */
  get partitionCount(): number {
    return this.partitions[0]?.partition === -1 ? 0 : this.partitions.length;
  }

  /** Messages received from the broker and not yet taken by `receive`. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** For Failover subscriptions: whether this consumer is active on any partition. */
  get active(): boolean {
    return this.partitions.some((p) => p.active === true);
  }

  /** Messages dropped because of a bad checksum or an unreadable format. */
  get corruptMessages(): number {
    return this.partitions.reduce((n, p) => n + p.corruptMessages, 0);
  }

  /** @internal */
  push(message: ReceivedMessage): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      message.owner.taken(message);
      waiter.resolve(message);
      return;
    }
    this.queue.push(message);
  }

  /** @internal */
  discard(owner: PartitionConsumer, generation: number): number {
    const before = this.queued;
    const kept = this.queue.slice(this.head).filter((m) => m.owner !== owner || m.generation >= generation);
    this.queue = kept;
    this.head = 0;
    return before - kept.length;
  }

  /** @internal */
  failed(error: Error): void {
    this.failure = error;
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /**
   * The next message; waits for one (up to `timeoutMs` when given, then rejects with
   * {@link PulsarTimeoutError}). Taking a message returns a flow permit to the broker.
   */
  receive(timeoutMs?: number): Promise<Message> {
    if (this.closed) return Promise.reject(new PulsarClosedError(`consumer on ${this.topic} is closed`));
    if (this.head < this.queue.length) {
      const message = this.queue[this.head] as ReceivedMessage;
      this.queue[this.head] = undefined as unknown as ReceivedMessage;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      message.owner.taken(message);
      return Promise.resolve(message);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Message>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(new PulsarTimeoutError(`no message within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /** Iterates messages until the consumer is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof PulsarClosedError) return;
        throw error;
      }
    }
  }

  private own(message: Message): ReceivedMessage {
    if (!(message instanceof ReceivedMessage) || !this.partitions.includes(message.owner)) {
      throw new PulsarConfigError('the message was not received by this consumer');
    }
    return message;
  }

  /**
   * Acknowledges one message (individually). A message of a batch entry is acknowledged to the
   * broker once every message of the entry is. Acknowledgements are grouped (`ackGroupingMs`).
   */
  acknowledge(message: Message): void {
    const own = this.own(message);
    own.owner.acknowledge(own);
  }

  /**
   * Asks for the message to be delivered again after `delayMs` (default: the consumer's
   * `negativeAckRedeliveryDelayMs`). On Shared and Key_Shared subscriptions only that message
   * (its batch entry) comes back, with `redeliveryCount` + 1; on Exclusive and Failover every
   * unacknowledged message is redelivered.
   */
  negativeAcknowledge(message: Message, delayMs = this.nackDelayMs): void {
    const own = this.own(message);
    own.owner.negativeAcknowledge(own, delayMs);
  }

  /** Sends grouped acknowledgements now. */
  flushAcknowledgements(): void {
    for (const p of this.partitions) p.flushAcks();
  }

  /** Moves the subscription (every partition) to a message id or a publish time in epoch ms. */
  async seek(target: MessageId | number): Promise<void> {
    if (typeof target === 'number') {
      await Promise.all(this.partitions.map((p) => p.seek(target)));
      return;
    }
    const p = this.partitions.find((c) => c.partition === target.partition) ?? this.partitions[0];
    await p?.seek(target);
  }

  /** Deletes the subscription (no other consumer may be attached). */
  async unsubscribe(): Promise<void> {
    await Promise.all(this.partitions.map((p) => p.unsubscribe()));
    await this.close();
  }

  /** Sends pending acknowledgements, detaches and rejects waiting `receive` calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    await Promise.all(this.partitions.map((p) => p.close()));
    this.queue = [];
    this.head = 0;
    const error = new PulsarClosedError(`consumer on ${this.topic} is closed`);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
