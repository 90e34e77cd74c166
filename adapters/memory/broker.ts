import type { Delivery, StartFrom, SubscribeOptions, Subscription, TransportRecord } from '../../src/adapter.js';
import type { Headers, Receipt } from '../../src/message.js';
import { Queue } from '../../src/queue.js';

/** A message as the in-memory broker stores it: an entry in a topic's append-only log. */
interface StoredRecord {
  readonly id: string;
  readonly topic: string;
  readonly offset: number;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
}

interface Redelivery {
  readonly record: StoredRecord;
  readonly attempt: number;
}

const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;

/** What `message.raw` is on memory://. */
export interface MemoryRawMessage {
  readonly topic: string;
  readonly offset: number;
  readonly group: string;
}

class MemoryDelivery implements Delivery {
  readonly id: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly value: Uint8Array;
  readonly headers: Headers;
  readonly timestamp: number;
  readonly attempt: number;
  readonly record: StoredRecord;
  readonly member: Member;
  settled = false;

  constructor(record: StoredRecord, attempt: number, member: Member) {
    this.record = record;
    this.id = record.id;
    this.topic = record.topic;
    this.key = record.key;
    this.value = record.value;
    this.headers = record.headers;
    this.timestamp = record.timestamp;
    this.attempt = attempt;
    this.member = member;
  }

  get raw(): MemoryRawMessage {
    return { topic: this.topic, offset: this.record.offset, group: this.member.group.name };
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.member.group.settle(this, false, 0);
  }

  nack(delayMs = 0): void {
    if (this.settled) return;
    this.settled = true;
    this.member.group.settle(this, true, delayMs);
  }
}

/** One subscriber in a group. */
class Member implements Subscription {
  readonly group: Group;
  readonly onDelivery: (delivery: Delivery) => void;
  readonly unsettled = new Set<MemoryDelivery>();
  paused = false;
  closed = false;

  constructor(group: Group, onDelivery: (delivery: Delivery) => void) {
    this.group = group;
    this.onDelivery = onDelivery;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (this.closed) return;
    this.paused = false;
    this.group.schedule();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.group.leave(this);
  }
}

/**
 * A consumer group on one topic: a cursor into the log, the messages handed back for
 * redelivery, and a lock per key so that a key's messages are never out at once (which keeps
 * per-key order across members and redeliveries, like Kafka partitions or Pulsar Key_Shared).
 */
class Group {
  readonly name: string;
  readonly topic: Topic;
  cursor: number;
  readonly members: Member[] = [];
  readonly #ready = new Queue<Redelivery>();
  /** Key → the record allowed out for that key (in flight, scheduled or at the front of ready). */
  readonly #keyOwner = new Map<string, StoredRecord>();
  /** Key → records of that key waiting for the owner to be acked. */
  readonly #blocked = new Map<string, Queue<Redelivery>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #nextMember = 0;
  #scheduled = false;
  readonly #pumpNow = (): void => {
    this.#scheduled = false;
    this.pump();
  };

  constructor(topic: Topic, name: string, cursor: number) {
    this.topic = topic;
    this.name = name;
    this.cursor = cursor;
  }

  join(onDelivery: (delivery: Delivery) => void): Member {
    const member = new Member(this, onDelivery);
    this.members.push(member);
    this.schedule();
    return member;
  }

  leave(member: Member): void {
    const index = this.members.indexOf(member);
    if (index >= 0) this.members.splice(index, 1);
    // Whatever it still held goes back, to a peer now or to whoever joins next.
    for (const delivery of member.unsettled) {
      delivery.settled = true;
      this.#requeue({ record: delivery.record, attempt: delivery.attempt + 1 });
    }
    member.unsettled.clear();
    this.schedule();
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#pumpNow);
  }

  pump(): void {
    const members = this.members;
    for (;;) {
      const member = this.#pickMember(members);
      if (member === undefined) return;
      const next = this.#takeNext();
      if (next === undefined) return;
      const delivery = new MemoryDelivery(next.record, next.attempt, member);
      member.unsettled.add(delivery);
      member.onDelivery(delivery);
    }
  }

  #pickMember(members: Member[]): Member | undefined {
    const count = members.length;
    for (let i = 0; i < count; i++) {
      const member = members[(this.#nextMember + i) % count] as Member;
      if (!member.paused) {
        this.#nextMember = (this.#nextMember + i + 1) % count;
        return member;
      }
    }
    return undefined;
  }

  /** The next record this group may hand out, locking its key. */
  #takeNext(): Redelivery | undefined {
    const log = this.topic.log;
    for (;;) {
      let next = this.#ready.shift();
      if (next === undefined) {
        if (this.cursor >= log.length) return undefined;
        const record = log[this.cursor++] as StoredRecord;
        next = { record, attempt: 1 };
      }
      const key = next.record.key;
      if (key === undefined) return next;
      const owner = this.#keyOwner.get(key);
      if (owner === undefined) {
        this.#keyOwner.set(key, next.record);
        return next;
      }
      if (owner === next.record) return next;
      let waiting = this.#blocked.get(key);
      if (waiting === undefined) {
        waiting = new Queue<Redelivery>();
        this.#blocked.set(key, waiting);
      }
      waiting.push(next);
    }
  }

  settle(delivery: MemoryDelivery, redeliver: boolean, delayMs: number): void {
    delivery.member.unsettled.delete(delivery);
    if (redeliver) {
      const again: Redelivery = { record: delivery.record, attempt: delivery.attempt + 1 };
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#requeue(again);
          this.schedule();
        }, delayMs);
        timer.unref();
        this.#timers.add(timer);
      } else {
        this.#requeue(again);
      }
    } else {
      this.#release(delivery.record);
    }
    this.schedule();
  }

  /** Back to the front; its key stays locked by it so nothing of that key overtakes it. */
  #requeue(redelivery: Redelivery): void {
    this.#ready.unshift(redelivery);
  }

  #release(record: StoredRecord): void {
    const key = record.key;
    if (key === undefined) return;
    const waiting = this.#blocked.get(key);
    const next = waiting?.shift();
    if (next === undefined) {
      this.#keyOwner.delete(key);
      return;
    }
    if (waiting?.length === 0) this.#blocked.delete(key);
    this.#keyOwner.set(key, next.record);
    this.#ready.unshift(next);
  }

  dispose(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

class Topic {
  readonly name: string;
  readonly log: StoredRecord[] = [];
  readonly groups = new Map<string, Group>();

  constructor(name: string) {
    this.name = name;
  }
}

/** An in-process broker: topics with append-only logs and consumer groups. Shared by name. */
export class MemoryBroker {
  readonly name: string;
  readonly #topics = new Map<string, Topic>();
  #nextId = 0;

  constructor(name: string) {
    this.name = name;
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = new Topic(name);
      this.#topics.set(name, topic);
    }
    return topic;
  }

  publish(topicName: string, records: readonly TransportRecord[]): Receipt[] {
    const topic = this.#topic(topicName);
    const receipts: Receipt[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TransportRecord;
      const offset = topic.log.length;
      const id = String(++this.#nextId);
      let headers = EMPTY_HEADERS;
      for (const _ in record.headers) {
        headers = { ...record.headers };
        break;
      }
      topic.log.push({
        id,
        topic: topicName,
        offset,
        key: record.key,
        value: record.value,
        headers,
        timestamp: record.timestamp,
      });
      receipts[i] = { id, topic: topicName, partition: 0, sequence: String(offset) };
    }
    for (const group of topic.groups.values()) group.schedule();
    return receipts;
  }

  subscribe(options: Pick<SubscribeOptions, 'topic' | 'group' | 'onDelivery'> & { from: StartFrom }): Subscription {
    const topic = this.#topic(options.topic);
    let group = topic.groups.get(options.group);
    if (group === undefined) {
      group = new Group(topic, options.group, options.from === 'earliest' ? 0 : topic.log.length);
      topic.groups.set(options.group, group);
    }
    return group.join(options.onDelivery);
  }

  /** Messages stored per topic (for tests and debugging). */
  topicSizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const [name, topic] of this.#topics) sizes[name] = topic.log.length;
    return sizes;
  }

  dispose(): void {
    for (const topic of this.#topics.values()) for (const group of topic.groups.values()) group.dispose();
    this.#topics.clear();
  }
}
