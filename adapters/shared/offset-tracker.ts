/**
 * Where a consumer may commit in one ordered log (a Kafka partition, a Kinesis shard): just below
 * the lowest message handed out for processing and not yet settled. Messages settle in any order
 * (per-key concurrency); the commit point only moves over a contiguous run of settled messages, so
 * a crash or a rebalance redelivers everything that was not done, and nothing that was.
 *
 * Positions are decimal strings of non-negative integers: kafkajs offsets ("123") or Kinesis
 * sequence numbers (56 digits). They are compared as numbers without converting every one to
 * BigInt: canonical decimal strings order by length, then lexicographically.
 */

const PENDING = 0;
const DONE = 1;
const HELD = 2;

/** One tracked message. Opaque to callers: pass it back to {@link OffsetTracker.ack} / {@link OffsetTracker.hold}. */
export interface TrackedPosition {
  readonly position: string;
}

class Entry implements TrackedPosition {
  readonly position: string;
  state: typeof PENDING | typeof DONE | typeof HELD = PENDING;
  constructor(position: string) {
    this.position = position;
  }
}

const CANONICAL = /^(?:0|[1-9]\d*)$/;

/** Numeric order of two canonical decimal strings: negative, zero or positive. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `value` is a canonical decimal string of a non-negative integer ("0", "42", not "042" or "-1"). */
export function isDecimal(value: string): boolean {
  return CANONICAL.test(value);
}

/**
 * Tracks the messages of one partition or shard in the order they were handed out.
 *
 * - {@link track} each message as it is handed out (positions strictly increasing; gaps are fine:
 *   compaction, transaction markers).
 * - {@link ack} when it is done; {@link hold} when it must be processed again (a nack): the commit
 *   point never passes a held message.
 * - {@link nextOffset} is what Kafka commits (the next position to read); {@link lastDone} is what
 *   Kinesis checkpoints (the last position processed).
 *
 * Every operation is O(1) amortised. A tracker belongs to one owner of the partition: when the
 * partition moves (rebalance, lease lost), drop the tracker and start a new one.
 */
export class OffsetTracker {
  #entries: (Entry | undefined)[] = [];
  #head = 0;
  #last: string | undefined;
  /** Set by {@link advanceTo}: a position past the last tracked one that needs no processing. */
  #end: string | undefined;
  #lastDone: string | undefined;
  #held = 0;

  /**
   * Starts tracking a message handed out for processing.
   * @throws {RangeError} when the position is not a decimal string or not above the last one tracked.
   */
  track(position: string): TrackedPosition {
    // A cheap shape check (the first digit) on this per-message path; increasing order is checked below.
    const first = typeof position === 'string' ? position.charCodeAt(0) : Number.NaN;
    if (!(first >= 49 && first <= 57) && position !== '0') {
      throw new RangeError(`offset tracker: "${String(position)}" is not a non-negative decimal integer`);
    }
    const last = this.#last;
    if (last !== undefined && compareDecimal(position, last) <= 0) {
      throw new RangeError(`offset tracker: position ${position} is not above the last tracked position ${last}`);
    }
    const entry = new Entry(position);
    this.#entries.push(entry);
    this.#last = position;
    return entry;
  }

  /** Whether a position was already tracked (at or below the last tracked one). */
  seen(position: string): boolean {
    return this.#last !== undefined && compareDecimal(position, this.#last) <= 0;
  }

  /**
   * Marks a message done. Returns true when the commit point moved. Acking twice, or acking a
   * held message, changes nothing.
   */
  ack(handle: TrackedPosition): boolean {
    const entry = handle as Entry;
    if (entry.state !== PENDING) return false;
    entry.state = DONE;
    return this.#advance();
  }

  /**
   * Keeps a message unsettled for good (it was handed back: a nack). The commit point stays at
   * it, so whoever reads the partition next reads it again. Idempotent.
   */
  hold(handle: TrackedPosition): void {
    const entry = handle as Entry;
    if (entry.state !== PENDING) return;
    entry.state = HELD;
    this.#held++;
  }

  /**
   * Declares that nothing below `next` (and above the last tracked position) needs processing,
   * e.g. transaction markers at the end of a fetched batch. Never moves backwards.
   */
  advanceTo(next: string): void {
    if (!CANONICAL.test(next)) throw new RangeError(`offset tracker: "${next}" is not a non-negative decimal integer`);
    if (this.#end === undefined || compareDecimal(next, this.#end) > 0) this.#end = next;
  }

  /** Messages tracked and not done: running, waiting, or held. */
  get pending(): number {
    return this.#entries.length - this.#head;
  }

  /** Messages held by {@link hold}. */
  get held(): number {
    return this.#held;
  }

  /** The lowest position not done, if any. */
  get firstPending(): string | undefined {
    return this.#entries[this.#head]?.position;
  }

  /** The highest position such that it and every position tracked before it are done (a Kinesis checkpoint). */
  get lastDone(): string | undefined {
    return this.#lastDone;
  }

  /** The last position tracked. */
  get lastTracked(): string | undefined {
    return this.#last;
  }

  /**
   * The position to commit as "next to read" (Kafka's committed offset): the lowest position
   * not done, or one past the last tracked (or the {@link advanceTo} point, if higher).
   * Undefined when nothing was tracked or advanced.
   */
  nextOffset(): string | undefined {
    const first = this.#entries[this.#head];
    if (first !== undefined) return first.position;
    const afterLast = this.#last === undefined ? undefined : (BigInt(this.#last) + 1n).toString();
    const end = this.#end;
    if (afterLast === undefined) return end;
    if (end === undefined) return afterLast;
    return compareDecimal(end, afterLast) > 0 ? end : afterLast;
  }

  #advance(): boolean {
    const entries = this.#entries;
    let head = this.#head;
    const start = head;
    while (head < entries.length) {
      const entry = entries[head] as Entry;
      if (entry.state !== DONE) break;
      this.#lastDone = entry.position;
      entries[head] = undefined;
      head++;
    }
    if (head === start) return false;
    if (head === entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (head > 1024 && head * 2 > entries.length) {
      this.#entries = entries.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
    return true;
  }
}
