/**
 * The lease manager of one member of a consumer group on one stream: which shards it reads.
 *
 * The KCL's scheme, on the {@link LeaseStore}:
 * - every third of `failoverTimeMs` the member renews its leases (bumps their counters);
 * - every half of it, it reads the table: a lease whose counter has not moved for
 *   `failoverTimeMs` (measured on this member's clock, from when it first saw that counter) has
 *   expired, an unowned lease is free; the member takes free and expired leases up to its share
 *   (the workable leases divided by the members it sees, rounded up), and, when there are none and
 *   another member holds more than its share, asks that member for one (`pendingOwner`);
 * - the member asked finishes what it handed out (up to half the failover time), checkpoints and
 *   gives the lease to the asker in one conditional write, so a rebalance redelivers nothing that
 *   was done; a member that does not hand over in twice the failover time loses the lease anyway;
 * - a shard is workable once every parent it has in the table is at `SHARD_END`: a split or
 *   merge never lets a child be read before its parents are finished;
 * - on close, each lease gets its final checkpoint and is released in the same write;
 * - the lease of a finished shard is deleted once the stream no longer lists the shard.
 *
 * Any conditional write that fails means the lease is lost (someone took it): the reader stops and
 * what it handed out becomes stale. A lease not renewed for half the failover time (DynamoDB
 * unreachable) is given up too, before anyone else may take it; once DynamoDB answers again, the
 * member takes its leases back (they still name it as owner) and reads on from the checkpoints.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AT_TIMESTAMP, type Lease, type LeaseStore, type NewLease, SHARD_END, TRIM_HORIZON } from './lease-store.js';
import type { ShardInfo } from './topology.js';

/** Why a lease was lost. */
export type LostReason = 'taken' | 'not-renewed';

/** What the lease manager tells its subscription. */
export interface LeaseEvents {
  /** The member now holds this lease: start reading its shard from the lease's checkpoint. */
  acquired(lease: Lease): void;
  /**
   * The lease is gone: stop reading; what was handed out is stale. `counter` is the lease's counter
   * as this member last wrote it: if the member takes the lease back with the very next counter,
   * nobody else wrote it meanwhile.
   */
  lost(leaseKey: string, reason: LostReason, newOwner: string | undefined, counter: number): void;
  /** Another member asked for the lease: finish, then call {@link LeaseManager.handOver}. */
  handoffRequested(leaseKey: string, to: string): void;
  /** A background step failed (it is retried on the next tick). */
  error(error: unknown, operation: string): void;
  /** A background step worked (a failure reported for the same operation is over). */
  recovered(operation: string): void;
}

/** How a lease manager is set up. */
export interface LeaseManagerOptions {
  store: LeaseStore;
  /** This member's id: unique per subscription. */
  workerId: string;
  failoverTimeMs: number;
  /** The stream's shards, for the shard sync. */
  listShards(): Promise<ShardInfo[]>;
  /** Where a new group starts on the shards open when it is created. */
  initialPosition(): { checkpoint: string; startTimestamp?: number };
  events: LeaseEvents;
  /** Clock (tests replace it). */
  now?: () => number;
  /** Shard sync interval (default 60 s; also after every shard end). */
  shardSyncIntervalMs?: number;
  /** Random source for picking leases (tests make it deterministic). */
  random?: () => number;
}

/** Where a lease stands from one member's point of view. */
interface Observation {
  counter: number;
  owner: string | undefined;
  since: number;
}

/** A lease this member holds. */
interface Held {
  lease: Lease;
  lastRenewedAt: number;
  /** Writes to the lease, one at a time (a renewal and a checkpoint must not race on the counter). */
  writes: Promise<unknown>;
  handoffTo: string | undefined;
  released: boolean;
}

/** A lease this member asked for, waiting for its owner to hand it over. */
interface Pending {
  readonly since: number;
}

/** Result of {@link planTakes}. */
export interface TakePlan {
  /** Free or expired leases to take, or leases already given to this member. */
  take: Lease[];
  /** Leases to ask their owners for. */
  steal: Lease[];
  /** This member's share. */
  target: number;
}

/** What {@link planTakes} needs to know. */
export interface PlanInput {
  leases: readonly Lease[];
  me: string;
  /** Whether a lease (not held by this member) has expired. */
  expired(lease: Lease): boolean;
  /** Leases this member holds now. */
  held: ReadonlySet<string>;
  /** Leases this member asked for and is waiting for. */
  pending: ReadonlySet<string>;
  random?: () => number;
}

/**
 * Whether a lease can be worked on: not finished, and every parent it has in the table finished.
 * Parents missing from the table predate the group (or were trimmed): they do not hold it back.
 */
export function isWorkable(lease: Lease, byKey: ReadonlyMap<string, Lease>): boolean {
  if (lease.checkpoint === SHARD_END) return false;
  for (const parent of lease.parentShardIds) {
    const parentLease = byKey.get(parent);
    if (parentLease !== undefined && parentLease.checkpoint !== SHARD_END) return false;
  }
  return true;
}

/**
 * Decides which leases to take and which to ask for, KCL-style: the share is the workable leases
 * divided by the members seen (owners of live leases, plus this one), rounded up; free and expired
 * leases are taken first; only when there are none is a lease asked from the most loaded member,
 * and only if it holds more than the share (or as much as the share while this member is short by
 * more than one), so that members never trade leases back and forth.
 */
export function planTakes(input: PlanInput): TakePlan {
  const random = input.random ?? Math.random;
  const byKey = new Map(input.leases.map((lease) => [lease.leaseKey, lease]));
  const workable = input.leases.filter((lease) => isWorkable(lease, byKey));
  const counts = new Map<string, Lease[]>();
  const available: Lease[] = [];
  const take: Lease[] = [];
  let mine = 0;
  for (const lease of workable) {
    if (input.held.has(lease.leaseKey)) {
      // Being handed to a member that asked for it: that member's, for the count.
      const taker = lease.pendingOwner;
      if (taker === undefined || taker === input.me) {
        mine++;
        continue;
      }
      let owned = counts.get(taker);
      if (owned === undefined) {
        owned = [];
        counts.set(taker, owned);
      }
      owned.push(lease);
      continue;
    }
    if (lease.leaseOwner === input.me) {
      // Given to this member (a handoff it asked for), or left over: take it up.
      take.push(lease);
      mine++;
      continue;
    }
    if (lease.leaseOwner === undefined || input.expired(lease)) {
      available.push(lease);
      continue;
    }
    const owner = lease.pendingOwner ?? lease.leaseOwner;
    if (owner === input.me || input.pending.has(lease.leaseKey)) {
      mine++;
      continue;
    }
    let owned = counts.get(owner);
    if (owned === undefined) {
      owned = [];
      counts.set(owner, owned);
    }
    owned.push(lease);
  }
  const workers = counts.size + 1;
  const target = workable.length === 0 ? 0 : Math.ceil(workable.length / workers);
  let needed = target - mine;
  const steal: Lease[] = [];
  if (needed <= 0) return { take, steal, target };
  shuffle(available, random);
  while (needed > 0 && available.length > 0) {
    take.push(available.shift() as Lease);
    needed--;
  }
  if (needed <= 0 || take.length > 0) return { take, steal, target };
  // Nothing free: ask the most loaded member, if it has more than its share.
  let most: Lease[] | undefined;
  for (const owned of counts.values()) {
    if (most === undefined || owned.length > most.length || (owned.length === most.length && random() < 0.5)) {
      most = owned;
    }
  }
  if (most === undefined) return { take, steal, target };
  let count = most.length - target;
  if (count <= 0 && most.length === target && needed > 1) count = 1;
  count = Math.min(count, needed);
  const candidates = most.filter((lease) => lease.pendingOwner === undefined);
  shuffle(candidates, random);
  steal.push(...candidates.slice(0, Math.max(0, count)));
  return { take, steal, target };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

/** The leases of one member of one group on one stream. */
export class LeaseManager {
  readonly #store: LeaseStore;
  readonly #me: string;
  readonly #failoverMs: number;
  readonly #events: LeaseEvents;
  readonly #options: LeaseManagerOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #held = new Map<string, Held>();
  readonly #pending = new Map<string, Pending>();
  readonly #seen = new Map<string, Observation>();
  #timers: NodeJS.Timeout[] = [];
  #pendingTimer: NodeJS.Timeout | undefined;
  #taking: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #lastSync = 0;
  #stopped = false;
  /** Whether the last look at the table worked. */
  #lastTakeOk = true;

  constructor(options: LeaseManagerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#me = options.workerId;
    this.#failoverMs = options.failoverTimeMs;
    this.#events = options.events;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** This member's id. */
  get workerId(): string {
    return this.#me;
  }

  /** Shard ids of the leases held now. */
  get heldKeys(): string[] {
    return [...this.#held.keys()];
  }

  /** Whether the last look at the table worked. */
  get healthy(): boolean {
    return this.#lastTakeOk;
  }

  /**
   * Creates the leases of shards nobody tracks yet, takes this member's share, and waits (up to
   * the failover time) for the leases it asked other members for. Then keeps renewing, taking
   * and balancing in the background until {@link stop}.
   */
  async start(): Promise<void> {
    await this.#syncShards();
    await this.#takeRound();
    const deadline = this.#now() + this.#failoverMs;
    while (this.#pending.size > 0 && this.#now() < deadline && !this.#stopped) {
      await sleep(100);
      await this.#checkPending();
    }
    // Stopped meanwhile (close(), or the subscribe deadline passed): no background work.
    if (this.#stopped) return;
    const renewMs = Math.max(100, Math.floor(this.#failoverMs / 3));
    const takeMs = Math.max(100, Math.floor(this.#failoverMs / 2));
    const syncMs = this.#options.shardSyncIntervalMs ?? 60_000;
    this.#timers.push(
      setInterval(() => void this.renewAll(), renewMs),
      setInterval(() => void this.takeRound(), takeMs),
      setInterval(() => void this.syncShards(), syncMs),
    );
  }

  /**
   * Creates leases for shards that need one: for a new group (an empty table), every open shard
   * at the group's start position (and, from TRIM_HORIZON, the closed ones too); later, every
   * shard whose parent is in the table (the children of a split or merge), from TRIM_HORIZON.
   */
  syncShards(): Promise<void> {
    if (this.#syncing !== undefined) return this.#syncing;
    this.#syncing = this.#syncShards()
      .then(
        () => this.#events.recovered('sync shards with the lease table'),
        (error: unknown) => this.#events.error(error, 'sync shards with the lease table'),
      )
      .finally(() => {
        this.#syncing = undefined;
      });
    return this.#syncing;
  }

  async #syncShards(): Promise<void> {
    const [shards, leases] = await Promise.all([this.#options.listShards(), this.#store.list()]);
    this.#lastSync = this.#now();
    const known = new Set(leases.map((lease) => lease.leaseKey));
    // A finished shard the stream no longer lists (trimmed after its retention) needs no lease:
    // its children treat a parent missing from the table as finished.
    const listedNow = new Set(shards.map((shard) => shard.shardId));
    const gone = leases.filter(
      (lease) =>
        lease.checkpoint === SHARD_END &&
        !listedNow.has(lease.leaseKey) &&
        // Only once its children have leases (created from it, from TRIM_HORIZON).
        shards.every((shard) => !shard.parents.includes(lease.leaseKey) || known.has(shard.shardId)),
    );
    await Promise.all(gone.map((lease) => this.#store.deleteEnded(lease.leaseKey)));
    const newGroup = leases.length === 0;
    const start = this.#options.initialPosition();
    const fromStart = start.checkpoint === TRIM_HORIZON;
    const creates: NewLease[] = [];
    // Parents first, so that a child finds its parents among the leases planned.
    for (const shard of orderParentsFirst(shards)) {
      if (known.has(shard.shardId)) continue;
      const trackedParents = shard.parents.filter((parent) => known.has(parent));
      let position: { checkpoint: string; startTimestamp?: number };
      let parents: string[];
      if (trackedParents.length > 0) {
        // A child of a shard the group reads (a split or merge), or of one created just before.
        position = { checkpoint: TRIM_HORIZON };
        parents = trackedParents;
      } else if (newGroup && fromStart) {
        // A new group from the start: every listed shard (closed ones too), children after parents.
        position = start;
        parents = [];
      } else if (!shard.closed) {
        // A new group from now on, or an open shard with no tracked parent (a peer creating the
        // leases of a new group right now): the group's start position.
        position = start;
        parents = [];
      } else {
        // A closed shard that predates the group: nothing to read there.
        continue;
      }
      creates.push({
        leaseKey: shard.shardId,
        checkpoint: position.checkpoint,
        parentShardIds: parents,
        startTimestamp: position.checkpoint === AT_TIMESTAMP ? position.startTimestamp : undefined,
      });
      known.add(shard.shardId);
    }
    // In waves, parents before children: a member reading the table must never find a child
    // without the parent that holds it back.
    let wave = creates;
    while (wave.length > 0) {
      const pending = new Set(wave.map((lease) => lease.leaseKey));
      const ready = wave.filter((lease) => !lease.parentShardIds.some((parent) => pending.has(parent)));
      await Promise.all(ready.map((lease) => this.#store.create(lease)));
      wave = wave.filter((lease) => !ready.includes(lease));
    }
  }

  /** One look at the table: take free, expired and given leases, ask for one where fair. */
  takeRound(): Promise<void> {
    if (this.#taking !== undefined) return this.#taking;
    this.#taking = this.#takeRound()
      .then(
        () => {
          this.#lastTakeOk = true;
          this.#events.recovered('read the lease table');
        },
        (error: unknown) => {
          this.#lastTakeOk = false;
          this.#events.error(error, 'read the lease table');
        },
      )
      .finally(() => {
        this.#taking = undefined;
      });
    return this.#taking;
  }

  async #takeRound(): Promise<void> {
    if (this.#stopped) return;
    const leases = await this.#store.list();
    const now = this.#now();
    const present = new Set<string>();
    for (const lease of leases) {
      present.add(lease.leaseKey);
      const seen = this.#seen.get(lease.leaseKey);
      if (seen === undefined || seen.counter !== lease.leaseCounter || seen.owner !== lease.leaseOwner) {
        this.#seen.set(lease.leaseKey, { counter: lease.leaseCounter, owner: lease.leaseOwner, since: now });
      }
    }
    for (const key of this.#seen.keys()) if (!present.has(key)) this.#seen.delete(key);
    // A handoff this member asked for that nobody will complete: the owner went away or refused.
    for (const [key, pending] of this.#pending) {
      const lease = leases.find((candidate) => candidate.leaseKey === key);
      if (lease === undefined || (lease.pendingOwner !== this.#me && lease.leaseOwner !== this.#me)) {
        this.#pending.delete(key);
      } else if (now - pending.since > 2 * this.#failoverMs && lease.leaseOwner !== this.#me) {
        // The owner did not hand over in time: take it (its next write fails and it stops).
        this.#pending.delete(key);
        await this.#take(lease);
      }
    }
    const plan = planTakes({
      leases,
      me: this.#me,
      expired: (lease) => this.#expired(lease, now),
      held: new Set(this.#held.keys()),
      pending: new Set(this.#pending.keys()),
      random: this.#random,
    });
    await Promise.all(plan.take.map((lease) => this.#take(lease)));
    for (const lease of plan.steal) {
      if (this.#stopped) return;
      if (await this.#store.requestHandoff(lease, this.#me)) {
        this.#pending.set(lease.leaseKey, { since: now });
      }
    }
    if (this.#pending.size > 0) this.#watchPending();
  }

  #expired(lease: Lease, now: number): boolean {
    if (lease.leaseOwner === undefined) return true;
    const seen = this.#seen.get(lease.leaseKey);
    return seen !== undefined && now - seen.since >= this.#failoverMs;
  }

  async #take(lease: Lease): Promise<void> {
    if (this.#held.has(lease.leaseKey) || this.#stopped) return;
    const taken = await this.#store.take(lease, this.#me);
    this.#pending.delete(lease.leaseKey);
    if (taken === undefined) return;
    if (this.#stopped) {
      // Closed meanwhile: give it back at once.
      await this.#store.release(taken, this.#me).catch(() => undefined);
      return;
    }
    this.#held.set(lease.leaseKey, {
      lease: taken,
      lastRenewedAt: this.#now(),
      writes: Promise.resolve(),
      handoffTo: undefined,
      released: false,
    });
    this.#events.acquired(taken);
  }

  /** Polls the leases this member asked for until their owners hand them over. */
  #watchPending(): void {
    if (this.#pendingTimer !== undefined || this.#stopped) return;
    this.#pendingTimer = setTimeout(async () => {
      this.#pendingTimer = undefined;
      await this.#checkPending().catch((error: unknown) => this.#events.error(error, 'check a lease handoff'));
      if (this.#pending.size > 0) this.#watchPending();
    }, 200);
  }

  async #checkPending(): Promise<void> {
    for (const key of [...this.#pending.keys()]) {
      const lease = await this.#store.get(key);
      if (lease === undefined) {
        this.#pending.delete(key);
      } else if (lease.leaseOwner === this.#me || lease.leaseOwner === undefined) {
        if (isWorkable(lease, new Map())) await this.#take(lease);
        else this.#pending.delete(key);
      } else if (lease.pendingOwner !== this.#me) {
        this.#pending.delete(key);
      }
    }
  }

  /**
   * Renews every lease held; gives up those that were taken, and those not renewed for half the
   * failover time (renewals run every third of it, so two failed in a row): well before another
   * member may see the lease expire, whatever a hanging request does.
   */
  async renewAll(): Promise<void> {
    const now = this.#now();
    const renewals: Promise<void>[] = [];
    for (const [key, held] of this.#held) {
      if (now - held.lastRenewedAt >= this.#failoverMs / 2) renewals.push(this.#lose(key, 'not-renewed'));
      else renewals.push(this.#renew(key));
    }
    await Promise.all(renewals);
  }

  #renew(key: string): Promise<void> {
    return this.#write(key, async (held) => {
      // Others measure expiry from when they see the new counter: no earlier than this.
      const started = this.#now();
      try {
        const renewed = await this.#store.renew(held.lease, this.#me);
        if (renewed === undefined) {
          await this.#lose(key, 'taken');
          return;
        }
        held.lease = renewed;
        held.lastRenewedAt = started;
        this.#events.recovered(`renew the lease of ${key}`);
        if (renewed.pendingOwner !== undefined && renewed.pendingOwner !== this.#me && held.handoffTo === undefined) {
          held.handoffTo = renewed.pendingOwner;
          this.#events.handoffRequested(key, renewed.pendingOwner);
        }
      } catch (error) {
        this.#events.error(error, `renew the lease of ${key}`);
      }
    });
  }

  /** Runs one write on a held lease after the ones before it; skipped once the lease is gone. */
  #write(key: string, write: (held: Held) => Promise<void>): Promise<void> {
    const held = this.#held.get(key);
    if (held === undefined) return Promise.resolve();
    const next = held.writes.then(() => (held.released || this.#held.get(key) !== held ? undefined : write(held)));
    held.writes = next.catch(() => undefined);
    return next;
  }

  async #lose(key: string, reason: LostReason): Promise<void> {
    const held = this.#held.get(key);
    if (held === undefined) return;
    held.released = true;
    this.#held.delete(key);
    let owner: string | undefined;
    if (reason === 'taken') owner = (await this.#store.get(key).catch(() => undefined))?.leaseOwner;
    this.#events.lost(key, reason, owner, held.lease.leaseCounter);
  }

  /**
   * Writes a checkpoint (the last sequence number processed). Resolves false when the lease is
   * not held (any more): the checkpoint was not written.
   */
  checkpoint(key: string, checkpoint: string): Promise<boolean> {
    let written = false;
    return this.#write(key, async (held) => {
      const started = this.#now();
      const updated = await this.#store.checkpoint(held.lease, this.#me, checkpoint);
      if (updated === undefined) {
        await this.#lose(key, 'taken');
        return;
      }
      held.lease = updated;
      held.lastRenewedAt = started;
      written = true;
    }).then(() => written);
  }

  /** The shard was read to its end and everything is done: checkpoint SHARD_END and let the lease go. */
  async shardEnded(key: string): Promise<boolean> {
    const done = await this.release(key, SHARD_END);
    // Its children may now be created and become workable.
    void this.syncShards().then(() => this.takeRound());
    return done;
  }

  /**
   * Lets go of a lease: writes the final checkpoint (if given) and hands the lease to the member
   * that asked for it, or leaves it unowned. Resolves false when the lease was not held any more.
   */
  release(key: string, checkpoint?: string): Promise<boolean> {
    let released = false;
    return this.#write(key, async (held) => {
      const to = checkpoint === SHARD_END ? undefined : (held.handoffTo ?? held.lease.pendingOwner);
      released = await this.#store.release(held.lease, this.#me, { checkpoint, to });
      held.released = true;
      this.#held.delete(key);
    }).then(() => released);
  }

  /** Hands a lease to the member that asked for it (after its final checkpoint). */
  handOver(key: string, checkpoint: string | undefined): Promise<boolean> {
    return this.release(key, checkpoint);
  }

  /** Stops taking and renewing; leases still held stay in the table (use {@link release} first). */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    if (this.#pendingTimer !== undefined) clearTimeout(this.#pendingTimer);
    this.#pendingTimer = undefined;
  }

  /** When the shard list was last read. */
  get lastShardSync(): number {
    return this.#lastSync;
  }
}

/** Shards ordered so that every parent comes before its children. */
function orderParentsFirst(shards: readonly ShardInfo[]): ShardInfo[] {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]));
  const ordered: ShardInfo[] = [];
  const visited = new Set<string>();
  const visit = (shard: ShardInfo): void => {
    if (visited.has(shard.shardId)) return;
    visited.add(shard.shardId);
    for (const parent of shard.parents) {
      const parentShard = byId.get(parent);
      if (parentShard !== undefined) visit(parentShard);
    }
    ordered.push(shard);
  };
  for (const shard of shards) visit(shard);
  return ordered;
}
