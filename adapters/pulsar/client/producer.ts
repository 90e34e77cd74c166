/**
 * Producers. A {@link Producer} routes messages to one {@link PartitionProducer} per partition
 * (key → partition as the Java client does; round robin without a key). Each partition producer
 * numbers its sends, batches per key, keeps every send until its receipt, re-attaches after a
 * reconnect or topic unload and resends what was pending, in order, with the same sequence ids.
 */
import { type BatchingOptions, encodeBatch, KeyedBatcher, toKeyValues } from './batch.js';
import { type CommandCloseProducer, type CommandSendError, type CommandSendReceipt, CommandType } from './commands.js';
import { type CompressionName, compress, compressionType } from './compression.js';
import type { Connection, ProducerHandler } from './connection.js';
import type { ClientContext } from './context.js';
import {
  PulsarClientError,
  PulsarClosedError,
  PulsarConfigError,
  PulsarMessageTooLargeError,
  PulsarServerError,
  PulsarTimeoutError,
  PulsarTopicTerminatedError,
  serverError,
} from './errors.js';
import { encodeSendFrame } from './frame.js';
import { partitionForKey } from './hash.js';
import { MessageId, type OutgoingMessage } from './message.js';
import { Backoff, partitionTopicName } from './topic.js';

/** Options of {@link PulsarClient.createProducer}. */
export interface ProducerOptions {
  /** `topic`, `tenant/namespace/topic` or `persistent://tenant/namespace/topic`. */
  topic: string;
  /** A fixed producer name (must be unique on the topic); the broker picks one when absent. */
  producerName?: string;
  /**
   * Batching (default on: at most 1000 messages, 128 KiB, 10 ms per batch). A batch never mixes
   * keys. `false` sends every message as its own entry.
   */
  batching?: boolean | BatchingOptions;
  /** Payload compression (default none). ZSTD encoding needs Node.js 22.15+. */
  compression?: CompressionName;
  /** A send fails with {@link PulsarTimeoutError} when not confirmed within this (default 30 s; 0 = never). */
  sendTimeoutMs?: number;
  /** Most unconfirmed messages; `send` waits for room beyond that (default 10,000). */
  maxPendingMessages?: number;
  /** Producer metadata shown in the broker's stats. */
  properties?: Record<string, string>;
}

interface Callback {
  resolve(id: MessageId): void;
  reject(error: Error): void;
}

interface BatchItem {
  message: OutgoingMessage;
  sequenceId: number;
  callback: Callback;
}

/** One SEND: a single message or a batch, kept until its receipt. */
interface PendingSend {
  sequenceId: number;
  highestSequenceId: number;
  /** Messages in the entry (1 when not batched). */
  count: number;
  batched: boolean;
  key: string | undefined;
  orderingKey: Uint8Array | undefined;
  properties: Record<string, string> | undefined;
  eventTime: number | undefined;
  payload: Buffer;
  uncompressedSize: number;
  callbacks: Callback[];
  deadline: number;
  /** The encoded frame, built once the producer name is known. */
  frame?: Buffer;
}

type State = 'connecting' | 'ready' | 'closing' | 'closed' | 'failed';

/** A first-in first-out queue with O(1) push and shift (an array with a moving head). @internal */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/** A producer on one topic or one partition of a partitioned topic. @internal */
export class PartitionProducer implements ProducerHandler {
  readonly producerId: number;
  private state: State = 'connecting';
  private connection: Connection | undefined;
  private producerName: string | undefined;
  private epoch = 0;
  private nextSequenceId = 0;
  private readonly pending = new Fifo<PendingSend>();
  /** Messages in `pending` (batches count all their messages). */
  private pendingMessages = 0;
  private readonly sendTimeoutMs: number;
  private readonly batcher: KeyedBatcher<BatchItem> | undefined;
  private readonly batchDelayMs: number;
  private batchTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff();
  /** False until the first successful attach: a busy name is then an error, not a wait. */
  private attachedOnce = false;
  private readonly compression: number;
  private failure: Error | undefined;
  private attachWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly ctx: ClientContext,
    readonly topic: string,
    readonly partition: number,
    private readonly options: ProducerOptions,
  ) {
    this.producerId = ctx.newProducerId();
    this.producerName = options.producerName;
    this.compression = compressionType(options.compression ?? 'none');
    this.sendTimeoutMs = options.sendTimeoutMs ?? 30_000;
    const batching = options.batching ?? true;
    if (batching !== false) {
      const limits = batching === true ? {} : batching;
      this.batcher = new KeyedBatcher<BatchItem>(limits.maxMessages ?? 1000, limits.maxBytes ?? 128 * 1024);
      this.batchDelayMs = limits.maxDelayMs ?? 10;
    } else {
      this.batchDelayMs = 0;
    }
  }

  /** The name the broker knows this producer by (after the first attach). */
  get name(): string | undefined {
    return this.producerName;
  }

  /** Messages sent or batched and not yet confirmed. */
  get pendingCount(): number {
    return (this.batcher?.size ?? 0) + this.pendingMessages;
  }

  /** Attaches for the first time; rejects if that fails for good or takes longer than the operation timeout. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.attachWaiters.push({ resolve, reject }));
    const timer = setTimeout(() => {
      if (this.state === 'connecting') {
        this.fail(new PulsarTimeoutError(`creating the producer on ${this.topic} timed out`));
      }
    }, this.ctx.operationTimeoutMs);
    this.attach();
    return ready.finally(() => clearTimeout(timer));
  }

  private async attach(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.state !== 'connecting') return;
    try {
      const { logical, physical } = await this.ctx.lookup.lookup(this.topic);
      const connection = await this.ctx.pool.get(logical, physical);
      if (this.state !== 'connecting') return;
      connection.addProducer(this.producerId, this);
      const answer = await connection.request((requestId) => ({
        type: CommandType.PRODUCER,
        producer: {
          topic: this.topic,
          producerId: this.producerId,
          requestId,
          producerName: this.producerName,
          userProvidedProducerName: this.options.producerName !== undefined,
          epoch: this.epoch,
          metadata: toKeyValues(this.options.properties),
        },
      }));
      const success = answer.producerSuccess;
      if (!success) throw new PulsarClientError('PRODUCER answered without PRODUCER_SUCCESS', true);
      if (this.state !== 'connecting') {
        connection.removeProducer(this.producerId);
        return;
      }
      if (this.producerName !== undefined && this.producerName !== success.producerName) {
        // A new name invalidates frames built with the old one.
        for (const op of this.pending) op.frame = undefined;
      }
      this.producerName = success.producerName;
      if (this.epoch === 0 && this.pending.length === 0) {
        const last = success.lastSequenceId ?? -1;
        if (last >= this.nextSequenceId) this.nextSequenceId = last + 1;
      }
      this.connection = connection;
      this.state = 'ready';
      this.backoff.reset();
      this.attachedOnce = true;
      this.ctx.logger.debug?.(`producer ${this.producerName} attached to ${this.topic} on ${connection.name}`);
      // Resend what was pending, in order, with the same sequence ids.
      for (const op of this.pending) this.writeOp(op);
      this.armSendTimeout();
      for (const waiter of this.attachWaiters) waiter.resolve();
      this.attachWaiters = [];
      if (this.batcher && this.batcher.size > 0) this.scheduleBatch();
    } catch (error) {
      this.connection?.removeProducer(this.producerId);
      this.connection = undefined;
      if (this.state !== 'connecting') return;
      const err = error as Error;
      const retryable = !(err instanceof PulsarClientError) || err.retryable;
      // A name already in use is final on the first attach, transient after a reconnect (the old one lingers).
      const busy = err instanceof PulsarServerError && err.code === 'ProducerBusy';
      if (!retryable || (busy && !this.attachedOnce)) {
        this.fail(err);
        return;
      }
      this.scheduleReconnect(`attach failed: ${err.message}`);
    }
  }

  private scheduleReconnect(reason: string): void {
    if (this.reconnectTimer || this.state !== 'connecting' || this.ctx.closed) return;
    const delay = this.backoff.next();
    this.ctx.logger.info?.(`producer on ${this.topic}: ${reason}; re-attaching in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => void this.attach(), delay);
  }

  private detach(reason: string): void {
    if (this.state !== 'ready') return;
    this.connection?.removeProducer(this.producerId);
    this.connection = undefined;
    this.state = 'connecting';
    this.epoch++;
    this.scheduleReconnect(reason);
  }

  // ------------------------------------------------------------ handler

  onConnectionClosed(): void {
    this.connection = undefined;
    if (this.state === 'ready') this.detach('connection lost');
  }

  onClosedByBroker(_command: CommandCloseProducer): void {
    if (this.state === 'ready') this.detach('closed by the broker (topic unloaded or moved)');
  }

  onReceipt(receipt: CommandSendReceipt): void {
    const op = this.pending.peek();
    if (!op) return;
    if (receipt.sequenceId < op.sequenceId) return; // a duplicate receipt for something already confirmed
    if (receipt.sequenceId > op.sequenceId) {
      // Receipts must come in order; anything else means we lost track: resend from the head.
      this.ctx.logger.warn?.(
        `producer on ${this.topic}: receipt for ${receipt.sequenceId} while expecting ${op.sequenceId}; re-attaching`,
      );
      this.detach('out-of-order receipt');
      return;
    }
    this.pending.shift();
    this.pendingMessages -= op.count;
    const id = receipt.messageId;
    const ledger = id?.ledgerId ?? -1;
    const entry = id?.entryId ?? -1;
    if (op.batched) {
      const callbacks = op.callbacks;
      for (let i = 0; i < callbacks.length; i++) {
        (callbacks[i] as Callback).resolve(new MessageId(ledger, entry, this.partition, i, op.count));
      }
    } else {
      op.callbacks[0]?.resolve(new MessageId(ledger, entry, this.partition, -1, 0));
    }
    if (this.pending.length === 0) this.notifyIdle();
  }

  onSendError(error: CommandSendError): void {
    const err = serverError(error.error, error.message);
    if (err.code === 'TopicTerminatedError') {
      this.fail(new PulsarTopicTerminatedError(this.topic));
      return;
    }
    // The Java client's answer to a send error: reconnect and resend (checksum errors included).
    this.ctx.logger.warn?.(`producer on ${this.topic}: send error ${err.message}; re-attaching`);
    this.detach(`send error ${err.code}`);
  }

  // ------------------------------------------------------------ sending

  /** Queues one message; resolves with its id once the broker confirms it. */
  send(message: OutgoingMessage): Promise<MessageId> {
    return new Promise<MessageId>((resolve, reject) => this.sendWith(message, { resolve, reject }));
  }

  /**
   * Queues one message; `callback` hears of its id once the broker confirms it, or of the error
   * (synchronously when the message is refused at once).
   */
  sendWith(message: OutgoingMessage, callback: Callback): void {
    if (this.state === 'closing' || this.state === 'closed') {
      callback.reject(new PulsarClosedError(`producer on ${this.topic} is closed`));
      return;
    }
    if (this.state === 'failed') {
      callback.reject(this.failure as Error);
      return;
    }
    try {
      const payload = Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(message.payload);
      const max = this.connection?.maxMessageSize ?? 5 * 1024 * 1024;
      if (payload.length > max) {
        callback.reject(new PulsarMessageTooLargeError(payload.length, max));
        return;
      }
      const sequenceId = this.nextSequenceId++;
      if (this.batcher) {
        const msg: OutgoingMessage = { ...message, payload };
        if (this.batcher.wouldOverflow(payload.length)) this.flushBatch();
        if (this.batcher.add({ message: msg, sequenceId, callback })) this.flushBatch();
        else this.scheduleBatch();
        return;
      }
      this.enqueue({
        sequenceId,
        highestSequenceId: sequenceId,
        count: 1,
        batched: false,
        key: message.key,
        orderingKey: message.orderingKey,
        properties: message.properties,
        eventTime: message.eventTime,
        payload: compress(this.compression, payload),
        uncompressedSize: payload.length,
        callbacks: [callback],
        deadline: this.deadline(),
      });
    } catch (error) {
      callback.reject(error as Error);
    }
  }

  private deadline(): number {
    const timeout = this.sendTimeoutMs;
    return timeout > 0 ? Date.now() + timeout : Number.POSITIVE_INFINITY;
  }

  private scheduleBatch(): void {
    if (this.batchTimer || this.state !== 'ready') return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = undefined;
      this.flushBatch();
    }, this.batchDelayMs);
  }

  /** Turns whatever is batched into SENDs now. */
  flushBatch(): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
    }
    if (!this.batcher || this.batcher.size === 0) return;
    for (const items of this.batcher.drain()) {
      const first = items[0] as BatchItem;
      const last = items[items.length - 1] as BatchItem;
      let raw: Buffer;
      let payload: Buffer;
      try {
        raw = encodeBatch(items);
        payload = compress(this.compression, raw);
      } catch (error) {
        for (const item of items) item.callback.reject(error as Error);
        continue;
      }
      this.enqueue({
        sequenceId: first.sequenceId,
        highestSequenceId: last.sequenceId,
        count: items.length,
        batched: true,
        key: first.message.key,
        orderingKey: first.message.orderingKey,
        properties: undefined,
        eventTime: undefined,
        payload,
        uncompressedSize: raw.length,
        callbacks: items.map((item) => item.callback),
        deadline: this.deadline(),
      });
    }
  }

  private enqueue(op: PendingSend): void {
    this.pending.push(op);
    this.pendingMessages += op.count;
    if (this.state === 'ready') this.writeOp(op);
    this.armSendTimeout();
  }

  private writeOp(op: PendingSend): void {
    const connection = this.connection;
    if (!connection || this.producerName === undefined) return;
    if (!op.frame) {
      op.frame = encodeSendFrame(
        {
          producerId: this.producerId,
          sequenceId: op.sequenceId,
          numMessages: op.batched ? op.count : undefined,
          highestSequenceId: op.batched && op.count > 1 ? op.highestSequenceId : undefined,
        },
        {
          producerName: this.producerName,
          sequenceId: op.sequenceId,
          publishTime: Date.now(),
          properties: toKeyValues(op.properties),
          partitionKey: op.key,
          orderingKey: op.orderingKey,
          eventTime: op.eventTime,
          compression: this.compression !== 0 ? this.compression : undefined,
          uncompressedSize: this.compression !== 0 ? op.uncompressedSize : undefined,
          numMessagesInBatch: op.batched ? op.count : undefined,
          highestSequenceId: op.batched && op.count > 1 ? op.highestSequenceId : undefined,
        },
        op.payload,
      );
    }
    try {
      connection.write(op.frame);
    } catch {
      // The connection just closed: the op stays pending and is resent after re-attaching.
    }
  }

  // ------------------------------------------------------------ timeouts, waiting, closing

  private armSendTimeout(): void {
    if (this.timeoutTimer || this.pending.length === 0) return;
    const head = this.pending.peek() as PendingSend;
    if (head.deadline === Number.POSITIVE_INFINITY) return;
    this.timeoutTimer = setTimeout(
      () => {
        this.timeoutTimer = undefined;
        this.expire();
      },
      Math.max(0, head.deadline - Date.now()) + 1,
    );
  }

  private expire(): void {
    const now = Date.now();
    while (this.pending.length > 0 && (this.pending.peek() as PendingSend).deadline <= now) {
      const op = this.pending.shift() as PendingSend;
      this.pendingMessages -= op.count;
      const error = new PulsarTimeoutError(`send to ${this.topic} not confirmed within ${this.sendTimeoutMs} ms`);
      for (const cb of op.callbacks) cb.reject(error);
    }
    if (this.pending.length === 0) this.notifyIdle();
    this.armSendTimeout();
  }

  /** Resolves once everything sent so far is confirmed (or failed). */
  async flush(): Promise<void> {
    this.flushBatch();
    if (this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private fail(error: Error): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'failed';
    this.failure = error;
    this.ctx.logger.error?.(`producer on ${this.topic} failed: ${error.message}`);
    this.teardown(error);
  }

  private teardown(error: Error): void {
    clearTimeout(this.batchTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.timeoutTimer);
    this.batchTimer = this.reconnectTimer = this.timeoutTimer = undefined;
    if (this.batcher) for (const items of this.batcher.drain()) for (const item of items) item.callback.reject(error);
    this.pendingMessages = 0;
    for (const op of this.pending.drain()) for (const cb of op.callbacks) cb.reject(error);
    for (const waiter of this.attachWaiters) waiter.reject(error);
    this.attachWaiters = [];
    this.notifyIdle();
    this.connection?.removeProducer(this.producerId);
  }

  /** Waits for pending sends (bounded by their timeouts), then detaches from the broker. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.state === 'ready') {
      await this.flush();
    } else {
      this.flushBatch();
    }
    const connection = this.connection;
    this.state = 'closing';
    if (connection && !connection.closed) {
      try {
        await connection.request((requestId) => ({
          type: CommandType.CLOSE_PRODUCER,
          closeProducer: { producerId: this.producerId, requestId },
        }));
      } catch {
        // closing anyway
      }
    }
    this.state = 'closed';
    this.teardown(new PulsarClosedError(`producer on ${this.topic} is closed`));
    this.connection = undefined;
  }
}

/**
 * A producer on a topic: partitioned topics get one partition producer each, with keyed
 * messages routed like the Java client (`JavaStringHash(key) % partitions`) and others in
 * round robin.
 */
export class Producer {
  private roundRobin = 0;
  private closed = false;
  /** Sends waiting for room, oldest first. */
  private readonly waiting = new Fifo<Waiter>();
  /** Messages handed to the partition producers and not yet confirmed or failed. */
  private inFlight = 0;
  /** Sends accepted so far, and how many of them were handed to the partition producers. */
  private accepted = 0;
  private dispatched = 0;
  /** True while {@link Producer.release} hands out room (a send failing at once must not recurse). */
  private releasing = false;
  private readonly maxPending: number;
  private untrack: () => void = () => {};

  /** @internal */
  constructor(
    /** The full topic name. */
    readonly topic: string,
    private readonly partitions: PartitionProducer[],
    readonly partitioned: boolean,
    maxPendingMessages: number,
  ) {
    this.maxPending = maxPendingMessages;
  }

  /** @internal */
  static async create(ctx: ClientContext, topic: string, options: ProducerOptions): Promise<Producer> {
    const max = options.maxPendingMessages ?? 10_000;
    if (!Number.isInteger(max) || max < 1) throw new PulsarConfigError('maxPendingMessages must be a positive integer');
    const count = await ctx.lookup.partitions(topic);
    const children =
      count > 0
        ? Array.from(
            { length: count },
            (_, i) =>
              new PartitionProducer(ctx, partitionTopicName(topic, i), i, {
                ...options,
                producerName: options.producerName ? `${options.producerName}-${i}` : undefined,
              }),
          )
        : [new PartitionProducer(ctx, topic, -1, options)];
    const producer = new Producer(topic, children, count > 0, max);
    try {
      await Promise.all(children.map((child) => child.start()));
    } catch (error) {
      await Promise.allSettled(children.map((child) => child.close()));
      throw error;
    }
    producer.untrack = ctx.track(producer);
    return producer;
  }

  /** Number of partitions (0 for a non-partitioned topic). */
  get partitionCount(): number {
    return this.partitioned ? this.partitions.length : 0;
  }

  /** The broker-assigned producer name (of the first partition). */
  get name(): string | undefined {
    return this.partitions[0]?.name;
  }

  /** The partition a message goes to (-1 for a non-partitioned topic). */
  partitionFor(message: OutgoingMessage): number {
    if (!this.partitioned) return -1;
    if (message.key !== undefined) return partitionForKey(message.key, this.partitions.length);
    const index = this.roundRobin % this.partitions.length;
    this.roundRobin = (this.roundRobin + 1) % 0x7fffffff;
    return index;
  }

  /** Messages sent and not yet confirmed (at most `maxPendingMessages`). */
  get pendingCount(): number {
    return this.inFlight;
  }

  /** Sends waiting for room. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Sends a message; resolves with its id once the broker has stored it. While
   * `maxPendingMessages` are unconfirmed, the send waits for room behind earlier waiting sends
   * (first come, first served: each confirmation lets the oldest one go). Rejects with a typed
   * error (timeout, closed, terminated, too large).
   */
  send(message: OutgoingMessage): Promise<MessageId> {
    if (this.closed) return Promise.reject(new PulsarClosedError(`producer on ${this.topic} is closed`));
    if (message.key !== undefined && typeof message.key !== 'string') {
      return Promise.reject(new PulsarConfigError('key must be a string'));
    }
    return new Promise<MessageId>((resolve, reject) => {
      this.accepted++;
      if (this.inFlight < this.maxPending && this.waiting.length === 0) this.dispatch(message, resolve, reject);
      else this.waiting.push({ message, resolve, reject });
    });
  }

  /** Hands a message to its partition producer, taking one unit of room until it settles. */
  private dispatch(message: OutgoingMessage, resolve: (id: MessageId) => void, reject: (error: Error) => void): void {
    this.inFlight++;
    this.dispatched++;
    const index = this.partitionFor(message);
    const child = this.partitions[Math.max(0, index)] as PartitionProducer;
    child.sendWith(message, new Settle(this, resolve, reject));
  }

  /** A send settled: its room goes to the oldest waiting send, if any. O(1) per settled send. @internal */
  release(): void {
    this.inFlight--;
    if (this.releasing || this.waiting.length === 0) return;
    this.releasing = true;
    try {
      while (this.inFlight < this.maxPending && this.waiting.length > 0) {
        const next = this.waiting.shift() as Waiter;
        this.dispatch(next.message, next.resolve, next.reject);
      }
    } finally {
      this.releasing = false;
    }
  }

  /** Sends what is batched now and resolves when every send so far is confirmed. */
  async flush(): Promise<void> {
    // Sends still waiting for room go out as room frees: flush until the last of them is handed over.
    const target = this.accepted;
    while (this.dispatched < target && !this.closed && this.waiting.length > 0) {
      await Promise.all(this.partitions.map((child) => child.flush()));
    }
    await Promise.all(this.partitions.map((child) => child.flush()));
  }

  /** Waits for pending sends (bounded by the send timeout), then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.untrack();
    // Sends still waiting for room are never sent.
    const error = new PulsarClosedError(`producer on ${this.topic} is closed`);
    for (const waiter of this.waiting.drain()) waiter.reject(error);
    await Promise.all(this.partitions.map((child) => child.close()));
  }
}

interface Waiter {
  message: OutgoingMessage;
  resolve(id: MessageId): void;
  reject(error: Error): void;
}

/** Settles a send's promise and gives its room back to the producer. */
class Settle implements Callback {
  constructor(
    private readonly producer: Producer,
    private readonly onResolve: (id: MessageId) => void,
    private readonly onReject: (error: Error) => void,
  ) {}

  resolve(id: MessageId): void {
    this.producer.release();
    this.onResolve(id);
  }

  reject(error: Error): void {
    this.producer.release();
    this.onReject(error);
  }
}
