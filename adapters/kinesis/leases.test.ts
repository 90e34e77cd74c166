import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Lease,
  type LeaseStore,
  type NewLease,
  type ReleaseOptions,
  SHARD_END,
  TRIM_HORIZON,
} from './lease-store.js';
import { isWorkable, LeaseManager, type LostReason, planTakes } from './leases.js';
import type { ShardInfo } from './topology.js';

/** A lease table in memory with DynamoDB's conditional semantics. */
class MemoryLeaseStore implements LeaseStore {
  readonly items = new Map<string, Lease>();
  failing = false;
  #check(): void {
    if (this.failing) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  }
  async list() {
    this.#check();
    return [...this.items.values()];
  }
  async get(key: string) {
    this.#check();
    return this.items.get(key);
  }
  async create(lease: NewLease) {
    this.#check();
    if (this.items.has(lease.leaseKey)) return false;
    this.items.set(lease.leaseKey, {
      leaseKey: lease.leaseKey,
      leaseOwner: undefined,
      leaseCounter: 0,
      checkpoint: lease.checkpoint,
      checkpointSubSequenceNumber: 0,
      ownerSwitchesSinceCheckpoint: 0,
      parentShardIds: lease.parentShardIds,
      pendingOwner: undefined,
      startTimestamp: lease.startTimestamp,
    });
    return true;
  }
  #current(lease: Lease, owner?: string): Lease | undefined {
    const current = this.items.get(lease.leaseKey);
    if (current === undefined || current.leaseCounter !== lease.leaseCounter) return undefined;
    if (owner !== undefined && current.leaseOwner !== owner) return undefined;
    return current;
  }
  #put(lease: Lease): Lease {
    this.items.set(lease.leaseKey, lease);
    return lease;
  }
  async renew(lease: Lease, owner: string) {
    this.#check();
    const current = this.#current(lease, owner);
    return current && this.#put({ ...current, leaseCounter: current.leaseCounter + 1 });
  }
  async take(lease: Lease, owner: string) {
    this.#check();
    const current = this.#current(lease);
    if (current === undefined || current.leaseOwner !== lease.leaseOwner) return undefined;
    return this.#put({
      ...current,
      leaseOwner: owner,
      leaseCounter: current.leaseCounter + 1,
      pendingOwner: undefined,
      ownerSwitchesSinceCheckpoint: current.ownerSwitchesSinceCheckpoint + (current.leaseOwner === owner ? 0 : 1),
    });
  }
  async checkpoint(lease: Lease, owner: string, checkpoint: string) {
    this.#check();
    const current = this.#current(lease, owner);
    return (
      current &&
      this.#put({ ...current, checkpoint, ownerSwitchesSinceCheckpoint: 0, leaseCounter: current.leaseCounter + 1 })
    );
  }
  async requestHandoff(lease: Lease, to: string) {
    this.#check();
    const current = this.items.get(lease.leaseKey);
    if (
      current === undefined ||
      current.leaseOwner !== lease.leaseOwner ||
      current.pendingOwner !== undefined ||
      current.checkpoint === SHARD_END
    )
      return false;
    this.#put({ ...current, pendingOwner: to });
    return true;
  }
  async deleteEnded(key: string) {
    this.#check();
    if (this.items.get(key)?.checkpoint === SHARD_END) this.items.delete(key);
  }
  async release(lease: Lease, owner: string, options: ReleaseOptions = {}) {
    this.#check();
    const current = this.#current(lease, owner);
    if (current === undefined) return false;
    this.#put({
      ...current,
      leaseCounter: current.leaseCounter + 1,
      checkpoint: options.checkpoint ?? current.checkpoint,
      leaseOwner: options.checkpoint === SHARD_END ? undefined : options.to,
      pendingOwner: undefined,
    });
    return true;
  }
}

const lease = (key: string, fields: Partial<Lease> = {}): Lease => ({
  leaseKey: key,
  leaseOwner: undefined,
  leaseCounter: 1,
  checkpoint: TRIM_HORIZON,
  checkpointSubSequenceNumber: 0,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: [],
  pendingOwner: undefined,
  startTimestamp: undefined,
  ...fields,
});

const none = new Set<string>();

describe('planTakes', () => {
  const noneExpired = () => false;

  it('takes every free lease when alone', () => {
    const leases = ['a', 'b', 'c', 'd'].map((key) => lease(key));
    const plan = planTakes({ leases, me: 'm1', expired: noneExpired, held: none, pending: none });
    expect(plan.target).toBe(4);
    expect(plan.take.map((l) => l.leaseKey).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('asks the most loaded member for its surplus when nothing is free', () => {
    const leases = ['a', 'b', 'c', 'd'].map((key) => lease(key, { leaseOwner: 'm1' }));
    const plan = planTakes({ leases, me: 'm2', expired: noneExpired, held: none, pending: none });
    expect(plan.target).toBe(2);
    expect(plan.take).toEqual([]);
    expect(plan.steal).toHaveLength(2);
  });

  it('does not trade leases back and forth at an even split', () => {
    const leases = [
      lease('a', { leaseOwner: 'm1' }),
      lease('b', { leaseOwner: 'm1' }),
      lease('c', { leaseOwner: 'm2' }),
      lease('d', { leaseOwner: 'm3' }),
    ];
    // m3 holds 1 of a share of 2: short by one, and m1 is at its share: no steal.
    const plan = planTakes({ leases, me: 'm3', expired: noneExpired, held: new Set(['d']), pending: none });
    expect(plan.target).toBe(2);
    expect(plan.steal).toEqual([]);
    // A new member short by two takes one from a member at its share.
    const joiner = planTakes({ leases, me: 'm4', expired: noneExpired, held: none, pending: none });
    expect(joiner.target).toBe(1);
    expect(joiner.steal).toHaveLength(1);
    expect(joiner.steal[0]?.leaseOwner).toBe('m1');
  });

  it('takes expired leases before stealing, and counts a pending handoff for its taker', () => {
    const leases = [
      lease('a', { leaseOwner: 'dead' }),
      lease('b', { leaseOwner: 'dead' }),
      lease('c', { leaseOwner: 'm1', pendingOwner: 'm2' }),
      lease('d', { leaseOwner: 'm1' }),
    ];
    const plan = planTakes({
      leases,
      me: 'm1',
      expired: (l) => l.leaseOwner === 'dead',
      held: new Set(['c', 'd']),
      pending: none,
    });
    // Members seen: m2 (pending c) and m1: share 2; m1 holds d (c counts for m2): takes one expired lease.
    expect(plan.target).toBe(2);
    expect(plan.take).toHaveLength(1);
    expect(plan.steal).toEqual([]);
  });

  it('takes up leases given to it, and leaves children until their parents end', () => {
    const leases = [
      lease('parent', { leaseOwner: 'm1', checkpoint: '100' }),
      lease('child-1', { parentShardIds: ['parent'] }),
      lease('gift', { leaseOwner: 'me' }),
    ];
    const plan = planTakes({ leases, me: 'me', expired: noneExpired, held: none, pending: none });
    expect(plan.take.map((l) => l.leaseKey)).toEqual(['gift']);
    const byKey = new Map(leases.map((l) => [l.leaseKey, l]));
    expect(isWorkable(leases[1] as Lease, byKey)).toBe(false);
    byKey.set('parent', lease('parent', { checkpoint: SHARD_END }));
    expect(isWorkable(leases[1] as Lease, byKey)).toBe(true);
    expect(isWorkable(lease('orphan', { parentShardIds: ['trimmed'] }), byKey)).toBe(true);
  });
});

interface Member {
  manager: LeaseManager;
  held: Set<string>;
  lost: Array<{ key: string; reason: LostReason }>;
  handoffs: string[];
  errors: unknown[];
}

describe('LeaseManager', () => {
  const managers: LeaseManager[] = [];
  afterEach(() => {
    for (const manager of managers.splice(0)) manager.stop();
  });

  let shards: ShardInfo[] = [];
  function member(store: MemoryLeaseStore, name: string, failoverTimeMs = 300, autoHandOff = true): Member {
    const state: Member = {
      manager: undefined as unknown as LeaseManager,
      held: new Set(),
      lost: [],
      handoffs: [],
      errors: [],
    };
    state.manager = new LeaseManager({
      store,
      workerId: name,
      failoverTimeMs,
      listShards: async () => shards,
      initialPosition: () => ({ checkpoint: TRIM_HORIZON }),
      shardSyncIntervalMs: 100,
      events: {
        acquired: (l) => state.held.add(l.leaseKey),
        lost: (key, reason) => {
          state.held.delete(key);
          state.lost.push({ key, reason });
        },
        handoffRequested: (key) => {
          state.handoffs.push(key);
          if (autoHandOff) {
            void state.manager.handOver(key, '42').then(() => state.held.delete(key));
          }
        },
        error: (error) => state.errors.push(error),
        recovered: () => undefined,
      },
    });
    managers.push(state.manager);
    return state;
  }

  const four = (): ShardInfo[] => ['s0', 's1', 's2', 's3'].map((shardId) => ({ shardId, parents: [], closed: false }));

  it('creates a lease per shard, takes them all alone, then gives two to a second member cleanly', async () => {
    shards = four();
    const store = new MemoryLeaseStore();
    const one = member(store, 'one');
    await one.manager.start();
    expect([...one.held].sort()).toEqual(['s0', 's1', 's2', 's3']);
    expect([...store.items.values()].every((l) => l.leaseOwner === 'one' && l.checkpoint === TRIM_HORIZON)).toBe(true);
    const two = member(store, 'two');
    await two.manager.start();
    expect(two.held.size).toBe(2);
    expect(one.held.size).toBe(2);
    expect(one.handoffs).toHaveLength(2);
    expect(one.lost).toEqual([]);
    for (const key of two.held) {
      const item = store.items.get(key);
      expect(item?.leaseOwner).toBe('two');
      // The final checkpoint was written in the same update.
      expect(item?.checkpoint).toBe('42');
      expect(item?.pendingOwner).toBeUndefined();
    }
  });

  it('takes the leases of a member that stopped renewing after the failover time, not before', async () => {
    shards = four();
    const store = new MemoryLeaseStore();
    const one = member(store, 'one');
    await one.manager.start();
    const two = member(store, 'two');
    await two.manager.start();
    expect(two.held.size).toBe(2);
    const started = Date.now();
    one.manager.stop(); // crashes: no renewals, no release
    while (two.held.size < 4 && Date.now() - started < 3_000) await sleep(20);
    expect(two.held.size).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(store.items.get([...one.held][0] as string)?.ownerSwitchesSinceCheckpoint).toBeGreaterThan(0);
  });

  it('reports a lease taken meanwhile as lost at its next renewal', async () => {
    shards = four().slice(0, 1);
    const store = new MemoryLeaseStore();
    const one = member(store, 'one', 60_000);
    await one.manager.start();
    const item = store.items.get('s0') as Lease;
    store.items.set('s0', { ...item, leaseOwner: 'thief', leaseCounter: item.leaseCounter + 5 });
    await one.manager.renewAll();
    expect(one.lost).toEqual([{ key: 's0', reason: 'taken' }]);
    expect(await one.manager.checkpoint('s0', '7')).toBe(false);
  });

  it('gives up a lease it could not renew before others may take it, then takes it back', async () => {
    shards = four().slice(0, 1);
    const store = new MemoryLeaseStore();
    const one = member(store, 'one', 300);
    await one.manager.start();
    store.failing = true;
    const started = Date.now();
    while (one.lost.length === 0 && Date.now() - started < 2_000) await sleep(10);
    expect(one.lost).toEqual([{ key: 's0', reason: 'not-renewed' }]);
    expect(Date.now() - started).toBeLessThan(300);
    expect(one.errors.length).toBeGreaterThan(0);
    store.failing = false;
    while (!one.held.has('s0') && Date.now() - started < 3_000) await sleep(10);
    expect(one.held.has('s0')).toBe(true);
  });

  it('reads children only after their parent is checkpointed SHARD_END', async () => {
    shards = [{ shardId: 'p', parents: [], closed: false }];
    const store = new MemoryLeaseStore();
    const one = member(store, 'one', 60_000);
    await one.manager.start();
    expect([...one.held]).toEqual(['p']);
    // The shard is split: the parent closes, two children appear.
    shards = [
      { shardId: 'p', parents: [], closed: true },
      { shardId: 'c1', parents: ['p'], closed: false },
      { shardId: 'c2', parents: ['p'], closed: false },
    ];
    await one.manager.syncShards();
    await one.manager.takeRound();
    expect(store.items.get('c1')).toMatchObject({
      checkpoint: TRIM_HORIZON,
      parentShardIds: ['p'],
      leaseOwner: undefined,
    });
    expect([...one.held]).toEqual(['p']);
    one.held.delete('p');
    await one.manager.shardEnded('p');
    const started = Date.now();
    while (one.held.size < 2 && Date.now() - started < 2_000) await sleep(10);
    expect([...one.held].sort()).toEqual(['c1', 'c2']);
    expect(store.items.get('p')).toMatchObject({ checkpoint: SHARD_END, leaseOwner: undefined });
    // Once the stream no longer lists the parent (trimmed), its lease goes; the children stay workable.
    shards = shards.filter((shard) => shard.shardId !== 'p');
    await one.manager.syncShards();
    expect(store.items.has('p')).toBe(false);
    expect([...store.items.keys()].sort()).toEqual(['c1', 'c2']);
  });

  it('releases with a final checkpoint, so another member starts right there', async () => {
    shards = four().slice(0, 2);
    const store = new MemoryLeaseStore();
    const one = member(store, 'one', 60_000);
    await one.manager.start();
    one.manager.stop();
    expect(await one.manager.release('s0', '99')).toBe(true);
    expect(store.items.get('s0')).toMatchObject({ checkpoint: '99', leaseOwner: undefined });
    const two = member(store, 'two', 60_000);
    await two.manager.start();
    expect(two.held.has('s0')).toBe(true);
    expect(two.held.has('s1')).toBe(false);
  });
});
