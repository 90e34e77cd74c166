import type { Delivery, StartFrom, SubscribeOptions, Subscription, TransportRecord } from '../../src/adapter.js';
import type { Headers, Receipt } from '../../src/message.js';

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

/**
 * Messages coming back (nacked, handed back on close, released behind their key), kept in log
 * order so that whatever order they come back in, they go out again oldest first.
 */
class Redeliveries {
  #items: Redelivery[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  add(item: Redelivery): void {
    const items = this.#items;
    const offset = item.record.offset;
    if (items.length === this.#head || (items[items.length - 1] as Redelivery).record.offset < offset) {
      items.push(item);
      return;
    }
    let low = this.#head;
    let high = items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((items[middle] as Redelivery).record.offset < offset) low = middle + 1;
      else high = middle;
    }
    items.splice(low, 0, item);
  }

  shift(): Redelivery | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return item;
  }
}

/** What `message.raw` is on memory://. */
export interface MemoryRawMessage {
  readonly topic: string;
  readonly offset: number;
  readonly group: string;
}

class MemoryDelivery implements Delivery {
  readonly record: StoredRecord;
  readonly attempt: number;
  readonly member: Member;
  settled = false;
  /** Links in the member's list of unsettled deliveries (a Set costs a hash per message). */
  previous: MemoryDelivery | undefined = undefined;
  next: MemoryDelivery | undefined = undefined;

  constructor(record: StoredRecord, attempt: number, member: Member) {
    this.record = record;
    this.attempt = attempt;
    this.member = member;
  }

  get id(): string {
    return this.record.id;
  }
  get topic(): string {
    return this.record.topic;
  }
  get key(): string | undefined {
    return this.record.key;
  }
  get value(): Uint8Array {
    return this.record.value;
  }
  get headers(): Headers {
    return this.record.headers;
  }
  get timestamp(): number {
    return this.record.timestamp;
  }

  get raw(): MemoryRawMessage {
    return { topic: this.topic, offset: this.record.offset, group: this.member.group.name };
  }

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.member.group.settle(this, false, 0, 0);
  }

  nack(delayMs = 0, attempt = this.attempt): void {
    if (this.settled) return;
    this.settled = true;
    this.member.group.settle(this, true, delayMs, Math.max(attempt, this.attempt));
  }
}

/** One subscriber in a group. */
class Member implements Subscription {
  readonly group: Group;
  readonly onDelivery: (delivery: Delivery) => void;
  /** Unsettled deliveries, oldest first (intrusive doubly linked list). */
  #first: MemoryDelivery | undefined = undefined;
  #last: MemoryDelivery | undefined = undefined;
  paused = false;
  closed = false;

  constructor(group: Group, onDelivery: (delivery: Delivery) => void) {
    this.group = group;
    this.onDelivery = onDelivery;
  }

  hold(delivery: MemoryDelivery): void {
    delivery.previous = this.#last;
    if (this.#last === undefined) this.#first = delivery;
    else this.#last.next = delivery;
    this.#last = delivery;
  }

  release(delivery: MemoryDelivery): void {
    const { previous, next } = delivery;
    if (previous === undefined) this.#first = next;
    else previous.next = next;
    if (next === undefined) this.#last = previous;
    else next.previous = previous;
    delivery.previous = undefined;
    delivery.next = undefined;
  }

  /** Removes and returns every unsettled delivery, oldest first. */
  releaseAll(): MemoryDelivery[] {
    const held: MemoryDelivery[] = [];
    for (let delivery = this.#first; delivery !== undefined; delivery = delivery.next) held.push(delivery);
    this.#first = undefined;
    this.#last = undefined;
    return held;
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

/** A nacked message waiting out its delay before it is redelivered. */
interface Parked {
  readonly again: Redelivery;
  readonly key: string | undefined;
  /** The key's owner entry, counted up while the message is parked. */
  readonly hold: KeyOwner | undefined;
  readonly member: Member;
  timer: NodeJS.Timeout;
}

/** Which member holds a key's messages, and how many it holds unsettled. */
interface KeyOwner {
  member: Member;
  count: number;
  /** Redeliveries of this key waiting out a nack delay: new messages of the key wait behind them. */
  parked: number;
}

/**
 * A consumer group on one topic: a cursor into the log, the messages handed back for
 * redelivery, and an owner per key: while a member holds unsettled messages of a key, the rest
 * of that key goes to it too (its consumer runs them one at a time, in order), never to a peer.
 * That keeps per-key order across members, like a Kafka partition or Pulsar Key_Shared.
 */
class Group {
  readonly name: string;
  readonly topic: Topic;
  cursor: number;
  readonly members: Member[] = [];
  readonly #ready = new Redeliveries();
  readonly #owners = new Map<string, KeyOwner>();
  /** Messages of a key whose owner was paused when they came up; released when the owner lets go. */
  readonly #blocked = new Map<string, Redeliveries>();
  /** Nacked messages waiting out their delay, with the member that nacked them. */
  readonly #parked = new Set<Parked>();
  #nextMember = 0;
  #takenAttempt = 1;
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
    // Its nacked messages come back now rather than after their delay: released later, they
    // would let a peer handle the later messages of their key first.
    for (const parked of this.#parked) {
      if (parked.member !== member) continue;
      clearTimeout(parked.timer);
      this.#unpark(parked);
    }
    for (const [key, owner] of this.#owners) {
      if (owner.member === member) this.#release(key);
    }
    // Whatever it still held goes back in front, in its original order, to a peer or whoever joins next.
    for (const delivery of member.releaseAll()) {
      delivery.settled = true;
      this.#ready.add({ record: delivery.record, attempt: delivery.attempt + 1 });
    }
    this.schedule();
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#pumpNow);
  }

  pump(): void {
    while (this.#anyMemberReady()) {
      const record = this.#takeNext();
      if (record === undefined) break;
      const attempt = this.#takenAttempt;
      const redelivered = attempt > 1;
      const key = record.key;
      let member: Member;
      if (key === undefined) {
        member = this.#pickMember();
      } else {
        const owner = this.#owners.get(key);
        if (owner === undefined) {
          member = this.#pickMember();
          this.#owners.set(key, { member, count: 1, parked: 0 });
        } else if (!owner.member.paused && (redelivered || (owner.parked === 0 && !this.#blocked.has(key)))) {
          member = owner.member;
          owner.count++;
        } else {
          this.#block(key, record, attempt);
          continue;
        }
      }
      const delivery = new MemoryDelivery(record, attempt, member);
      member.hold(delivery);
      member.onDelivery(delivery);
    }
    this.topic.trim();
  }

  #anyMemberReady(): boolean {
    const members = this.members;
    for (let i = 0; i < members.length; i++) if (!(members[i] as Member).paused) return true;
    return false;
  }

  /** Round-robin over members that are not paused; call only after #anyMemberReady(). */
  #pickMember(): Member {
    const members = this.members;
    const count = members.length;
    for (let i = 0; i < count; i++) {
      const member = members[(this.#nextMember + i) % count] as Member;
      if (!member.paused) {
        this.#nextMember = (this.#nextMember + i + 1) % count;
        return member;
      }
    }
    return members[0] as Member;
  }

  /** The next record to hand out: redeliveries first, then the log. Its attempt goes in #takenAttempt. */
  #takeNext(): StoredRecord | undefined {
    const redelivery = this.#ready.shift();
    if (redelivery !== undefined) {
      this.#takenAttempt = redelivery.attempt;
      return redelivery.record;
    }
    if (this.cursor >= this.topic.end) return undefined;
    this.#takenAttempt = 1;
    return this.topic.at(this.cursor++);
  }

  #block(key: string, record: StoredRecord, attempt: number): void {
    let waiting = this.#blocked.get(key);
    if (waiting === undefined) {
      waiting = new Redeliveries();
      this.#blocked.set(key, waiting);
    }
    waiting.add({ record, attempt });
  }

  /** `attempt`: handler calls so far; the redelivery carries attempt + 1. */
  settle(delivery: MemoryDelivery, redeliver: boolean, delayMs: number, attempt: number): void {
    delivery.member.release(delivery);
    const key = delivery.key;
    if (redeliver) {
      const again: Redelivery = { record: delivery.record, attempt: attempt + 1 };
      if (delayMs > 0) {
        // Hold the key meanwhile, so no later message of it overtakes the one coming back.
        const hold = key === undefined ? undefined : this.#owners.get(key);
        if (hold) {
          hold.count++;
          hold.parked++;
        }
        const parked: Parked = {
          again,
          key,
          hold,
          member: delivery.member,
          timer: setTimeout(() => this.#unpark(parked), delayMs),
        };
        parked.timer.unref();
        this.#parked.add(parked);
      } else {
        this.#ready.add(again);
      }
    }
    if (key !== undefined) this.#letGo(key);
    this.schedule();
  }

  #unpark(parked: Parked): void {
    if (!this.#parked.delete(parked)) return;
    this.#ready.add(parked.again);
    if (parked.hold) parked.hold.parked--;
    if (parked.key !== undefined) this.#letGo(parked.key);
    this.schedule();
  }

  #letGo(key: string): void {
    const owner = this.#owners.get(key);
    if (owner !== undefined && --owner.count <= 0) this.#release(key);
  }

  /** The key is free: messages that waited for it go back to the front, in order. */
  #release(key: string): void {
    this.#owners.delete(key);
    const waiting = this.#blocked.get(key);
    if (waiting === undefined) return;
    this.#blocked.delete(key);
    for (let item = waiting.shift(); item !== undefined; item = waiting.shift()) this.#ready.add(item);
  }

  dispose(): void {
    for (const parked of this.#parked) clearTimeout(parked.timer);
    this.#parked.clear();
  }
}

/**
 * A topic's log. Offsets are absolute; once every group has read past the oldest messages and
 * the log holds more than `retention` messages, the read prefix is dropped (like Kafka's
 * retention), which bounds memory under sustained load.
 */
class Topic {
  readonly name: string;
  readonly groups = new Map<string, Group>();
  readonly #retention: number;
  #log: StoredRecord[] = [];
  #base = 0;

  constructor(name: string, retention: number) {
    this.name = name;
    this.#retention = retention;
  }

  /** Offset the next appended message gets. */
  get end(): number {
    return this.#base + this.#log.length;
  }

  /** Oldest offset still stored. */
  get start(): number {
    return this.#base;
  }

  at(offset: number): StoredRecord {
    return this.#log[offset - this.#base] as StoredRecord;
  }

  append(record: StoredRecord): void {
    this.#log.push(record);
  }

  trim(): void {
    const log = this.#log;
    if (log.length <= this.#retention) return;
    let keepFrom = this.end - this.#retention;
    for (const group of this.groups.values()) if (group.cursor < keepFrom) keepFrom = group.cursor;
    const drop = keepFrom - this.#base;
    // Drop in steps at least as large as what is kept, so slicing costs O(1) per message.
    if (drop < this.#retention || drop < 1024) return;
    this.#log = log.slice(drop);
    this.#base = keepFrom;
  }
}

/** An in-process broker: topics with append-only logs and consumer groups. Shared by name. */
export class MemoryBroker {
  readonly name: string;
  readonly #topics = new Map<string, Topic>();
  readonly #retention: number;
  #nextId = 0;

  constructor(name: string, retention: number) {
    this.name = name;
    this.#retention = retention;
  }

  #topic(name: string): Topic {
    let topic = this.#topics.get(name);
    if (topic === undefined) {
      topic = new Topic(name, this.#retention);
      this.#topics.set(name, topic);
    }
    return topic;
  }

  publish(topicName: string, records: readonly TransportRecord[]): Receipt[] {
    const topic = this.#topic(topicName);
    const receipts: Receipt[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TransportRecord;
      const offset = topic.end;
      const id = String(++this.#nextId);
      let headers = EMPTY_HEADERS;
      for (const _ in record.headers) {
        headers = { ...record.headers };
        break;
      }
      topic.append({
        id,
        topic: topicName,
        offset,
        key: record.key,
        // A copy: the sender may reuse its buffer once send() resolved.
        value: record.value.slice(),
        headers,
        timestamp: record.timestamp,
      });
      receipts[i] = { id, topic: topicName, sequence: String(offset) };
    }
    for (const group of topic.groups.values()) group.schedule();
    return receipts;
  }

  subscribe(options: Pick<SubscribeOptions, 'topic' | 'group' | 'onDelivery'> & { from: StartFrom }): Subscription {
    const topic = this.#topic(options.topic);
    let group = topic.groups.get(options.group);
    if (group === undefined) {
      group = new Group(topic, options.group, options.from === 'earliest' ? topic.start : topic.end);
      topic.groups.set(options.group, group);
    }
    return group.join(options.onDelivery);
  }

  /** Messages ever published per topic (for tests and debugging). */
  topicSizes(): Record<string, number> {
    const sizes: Record<string, number> = {};
    for (const [name, topic] of this.#topics) sizes[name] = topic.end;
    return sizes;
  }

  dispose(): void {
    for (const topic of this.#topics.values()) for (const group of topic.groups.values()) group.dispose();
    this.#topics.clear();
  }
}
