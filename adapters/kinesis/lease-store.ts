/**
 * The lease table: one DynamoDB item per shard, with the attribute names of the Kinesis Client
 * Library (KCL), so that the table reads like a KCL application's:
 *
 * | attribute | type | meaning |
 * |---|---|---|
 * | `leaseKey` | S (hash key) | the shard id |
 * | `leaseOwner` | S | the member holding the lease; absent when nobody does |
 * | `leaseCounter` | N | bumped by every write of the owner (renewal, checkpoint): a lease whose counter stops moving for `failoverTimeMs` has expired |
 * | `checkpoint` | S | the last sequence number processed, or `TRIM_HORIZON`, `LATEST`, `AT_TIMESTAMP` (start of a new group) or `SHARD_END` (the shard was read to its end) |
 * | `checkpointSubSequenceNumber` | N | always 0 (polybus does not aggregate records) |
 * | `ownerSwitchesSinceCheckpoint` | N | how often the lease changed hands since its last checkpoint |
 * | `parentShardId` | SS | the parents (a split has one, a merge two) that must reach `SHARD_END` before this shard is read |
 * | `pendingOwner` | S | polybus: a member asked for this lease; the owner finishes its work, checkpoints and hands it over |
 * | `startTimestamp` | N | polybus: with `checkpoint = AT_TIMESTAMP`, where a new group starts (ms since the epoch) |
 *
 * Every write is conditional on the owner and counter it expects, so two members never both
 * believe they hold a lease: a write that finds the item changed means the lease was lost.
 */
import type { DynamoApi, Item } from './clients.js';
import { isConditionFailed } from './errors.js';

/** Checkpoint sentinels (KCL's spelling). */
export const TRIM_HORIZON = 'TRIM_HORIZON';
export const LATEST = 'LATEST';
export const AT_TIMESTAMP = 'AT_TIMESTAMP';
export const SHARD_END = 'SHARD_END';

/** One lease as read from the table. */
export interface Lease {
  readonly leaseKey: string;
  readonly leaseOwner: string | undefined;
  readonly leaseCounter: number;
  readonly checkpoint: string;
  readonly checkpointSubSequenceNumber: number;
  readonly ownerSwitchesSinceCheckpoint: number;
  readonly parentShardIds: readonly string[];
  readonly pendingOwner: string | undefined;
  readonly startTimestamp: number | undefined;
}

/** A lease to create for a shard nobody tracked yet. */
export interface NewLease {
  readonly leaseKey: string;
  readonly checkpoint: string;
  readonly parentShardIds: readonly string[];
  readonly startTimestamp?: number | undefined;
}

/** Where the owner hands a lease when it lets go of it. */
export interface ReleaseOptions {
  /** Checkpoint to write in the same update (the final one). */
  checkpoint?: string | undefined;
  /** Give the lease to this member (a pending owner) instead of leaving it unowned. */
  to?: string | undefined;
}

/**
 * The operations of a lease table. Conditional writes resolve to the updated lease, or undefined
 * (false) when the condition failed: the lease changed meanwhile. Other failures reject.
 */
export interface LeaseStore {
  /** Every lease (a consistent read). */
  list(): Promise<Lease[]>;
  get(leaseKey: string): Promise<Lease | undefined>;
  /** Creates a lease unless one exists; false when it did. */
  create(lease: NewLease): Promise<boolean>;
  /** Bumps the counter; the owner must still be `owner` and the counter unchanged. */
  renew(lease: Lease, owner: string): Promise<Lease | undefined>;
  /** Takes a lease unowned, expired or already given to `owner`; the counter must be unchanged. */
  take(lease: Lease, owner: string): Promise<Lease | undefined>;
  /** Writes a checkpoint; the owner must still be `owner` and the counter unchanged. */
  checkpoint(lease: Lease, owner: string, checkpoint: string): Promise<Lease | undefined>;
  /** Asks the owner of a lease to hand it to `to`; false when it changed owner or someone asked first. */
  requestHandoff(lease: Lease, to: string): Promise<boolean>;
  /** Lets go of a lease (after a final checkpoint, to a pending owner or to nobody). */
  release(lease: Lease, owner: string, options?: ReleaseOptions): Promise<boolean>;
  /** Deletes the lease of a shard read to its end (only if it still is at `SHARD_END`). */
  deleteEnded(leaseKey: string): Promise<void>;
}

const ZERO = { N: '0' };

function toLease(item: Item): Lease {
  const parents = item.parentShardId?.SS ?? (item.parentShardId?.S === undefined ? [] : [item.parentShardId.S]);
  const started = item.startTimestamp?.N;
  return {
    leaseKey: item.leaseKey?.S ?? '',
    leaseOwner: item.leaseOwner?.S,
    leaseCounter: Number(item.leaseCounter?.N ?? '0'),
    checkpoint: item.checkpoint?.S ?? TRIM_HORIZON,
    checkpointSubSequenceNumber: Number(item.checkpointSubSequenceNumber?.N ?? '0'),
    ownerSwitchesSinceCheckpoint: Number(item.ownerSwitchesSinceCheckpoint?.N ?? '0'),
    parentShardIds: parents,
    pendingOwner: item.pendingOwner?.S,
    startTimestamp: started === undefined ? undefined : Number(started),
  };
}

/** The lease table in DynamoDB. */
export class DynamoLeaseStore implements LeaseStore {
  readonly #dynamo: DynamoApi;
  readonly #table: string;

  constructor(dynamo: DynamoApi, table: string) {
    this.#dynamo = dynamo;
    this.#table = table;
  }

  get table(): string {
    return this.#table;
  }

  async list(): Promise<Lease[]> {
    return (await this.#dynamo.scanAll(this.#table)).map(toLease).filter((lease) => lease.leaseKey !== '');
  }

  async get(leaseKey: string): Promise<Lease | undefined> {
    const item = await this.#dynamo.getItem(this.#table, { leaseKey: { S: leaseKey } });
    return item === undefined ? undefined : toLease(item);
  }

  async create(lease: NewLease): Promise<boolean> {
    const item: Item = {
      leaseKey: { S: lease.leaseKey },
      leaseCounter: ZERO,
      checkpoint: { S: lease.checkpoint },
      checkpointSubSequenceNumber: ZERO,
      ownerSwitchesSinceCheckpoint: ZERO,
    };
    if (lease.parentShardIds.length > 0) item.parentShardId = { SS: [...lease.parentShardIds] };
    if (lease.startTimestamp !== undefined) item.startTimestamp = { N: String(lease.startTimestamp) };
    try {
      await this.#dynamo.putItem({
        TableName: this.#table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(leaseKey)',
      });
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  renew(lease: Lease, owner: string): Promise<Lease | undefined> {
    return this.#update(lease, {
      update: 'SET leaseCounter = :next',
      condition: 'leaseOwner = :owner AND leaseCounter = :counter',
      values: { ':owner': { S: owner } },
    });
  }

  take(lease: Lease, owner: string): Promise<Lease | undefined> {
    const values: Item = { ':me': { S: owner } };
    let condition = 'leaseCounter = :counter AND ';
    if (lease.leaseOwner === undefined) {
      condition += 'attribute_not_exists(leaseOwner)';
    } else {
      condition += 'leaseOwner = :previous';
      values[':previous'] = { S: lease.leaseOwner };
    }
    const switched = lease.leaseOwner !== owner;
    if (switched) {
      values[':one'] = { N: '1' };
      values[':zero'] = ZERO;
    }
    return this.#update(lease, {
      update: `SET leaseOwner = :me, leaseCounter = :next${switched ? ', ownerSwitchesSinceCheckpoint = if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one' : ''} REMOVE pendingOwner`,
      condition,
      values,
    });
  }

  checkpoint(lease: Lease, owner: string, checkpoint: string): Promise<Lease | undefined> {
    return this.#update(lease, {
      update:
        'SET #checkpoint = :checkpoint, checkpointSubSequenceNumber = :zero, ownerSwitchesSinceCheckpoint = :zero, leaseCounter = :next',
      condition: 'leaseOwner = :owner AND leaseCounter = :counter',
      values: { ':owner': { S: owner }, ':checkpoint': { S: checkpoint }, ':zero': ZERO },
      names: { '#checkpoint': 'checkpoint' },
    });
  }

  async requestHandoff(lease: Lease, to: string): Promise<boolean> {
    if (lease.leaseOwner === undefined) return false;
    try {
      await this.#dynamo.updateItem({
        TableName: this.#table,
        Key: { leaseKey: { S: lease.leaseKey } },
        UpdateExpression: 'SET pendingOwner = :to',
        ConditionExpression: 'leaseOwner = :owner AND attribute_not_exists(pendingOwner) AND #checkpoint <> :end',
        ExpressionAttributeNames: { '#checkpoint': 'checkpoint' },
        ExpressionAttributeValues: { ':to': { S: to }, ':owner': { S: lease.leaseOwner }, ':end': { S: SHARD_END } },
      });
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async release(lease: Lease, owner: string, options: ReleaseOptions = {}): Promise<boolean> {
    const values: Item = { ':owner': { S: owner } };
    const sets = ['leaseCounter = :next'];
    const names: Record<string, string> = {};
    if (options.checkpoint !== undefined) {
      sets.push(
        '#checkpoint = :checkpoint',
        'checkpointSubSequenceNumber = :zero',
        'ownerSwitchesSinceCheckpoint = :zero',
      );
      values[':checkpoint'] = { S: options.checkpoint };
      values[':zero'] = ZERO;
      names['#checkpoint'] = 'checkpoint';
    }
    let remove = 'REMOVE pendingOwner';
    if (options.to !== undefined && options.checkpoint !== SHARD_END) {
      sets.push('leaseOwner = :to');
      values[':to'] = { S: options.to };
    } else {
      remove += ', leaseOwner';
    }
    const updated = await this.#update(lease, {
      update: `SET ${sets.join(', ')} ${remove}`,
      condition: 'leaseOwner = :owner AND leaseCounter = :counter',
      values,
      names,
    });
    return updated !== undefined;
  }

  async deleteEnded(leaseKey: string): Promise<void> {
    try {
      await this.#dynamo.deleteItem(
        this.#table,
        { leaseKey: { S: leaseKey } },
        {
          expression: '#checkpoint = :end',
          values: { ':end': { S: SHARD_END } },
          names: { '#checkpoint': 'checkpoint' },
        },
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async #update(
    lease: Lease,
    expression: { update: string; condition: string; values: Item; names?: Record<string, string> },
  ): Promise<Lease | undefined> {
    const names = expression.names ?? {};
    try {
      const output = await this.#dynamo.updateItem({
        TableName: this.#table,
        Key: { leaseKey: { S: lease.leaseKey } },
        UpdateExpression: expression.update,
        ConditionExpression: expression.condition,
        ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: {
          ...expression.values,
          ':counter': { N: String(lease.leaseCounter) },
          ':next': { N: String(lease.leaseCounter + 1) },
        },
        ReturnValues: 'ALL_NEW',
      });
      return output.Attributes === undefined ? undefined : toLease(output.Attributes);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }
}
