import { afterEach, describe, expect, it } from 'vitest';
import type { SubscribeOptions } from '../../src/adapter.js';
import { BrokerError, ClosedError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import type { KinesisConfig } from '../../src/url.js';
import { KinesisAdapter } from './adapter.js';
import type { DynamoApi, KinesisApi } from './clients.js';
import { KINESIS_DEFAULTS, type KinesisOptions } from './config.js';
import type { Lease, LeaseStore, NewLease } from './lease-store.js';
import { KinesisSubscription, RELEASE_TIMEOUT_MS } from './subscriber.js';

const SECRET = 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY';

/** What every call to an unreachable endpoint does: fail a little later with a connection error. */
function refused(): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), 5),
  );
}

/** A client whose every method fails with a connection error (or answers as `ok` says), counting calls. */
function fakeClient<T extends object>(ok: Partial<Record<keyof T, () => Promise<unknown>>> = {}) {
  const counter = { calls: 0, destroyed: false };
  const api = new Proxy({} as T, {
    get(_, name) {
      if (name === 'destroy') {
        return () => {
          counter.destroyed = true;
        };
      }
      if (name === 'then') return undefined;
      return () => {
        counter.calls++;
        const answer = ok[name as keyof T];
        return answer === undefined ? refused() : answer();
      };
    },
  });
  return { api, counter };
}

const config: KinesisConfig = {
  broker: 'kinesis',
  region: 'us-east-1',
  shards: 1,
  endpoint: 'http://127.0.0.1:1',
  accessKeyId: new Secret('AKIAIOSFODNN7EXAMPLE'),
  secretAccessKey: new Secret(SECRET),
};

function adapter(
  options: Partial<KinesisOptions>,
  kinesis: KinesisApi,
  dynamo: DynamoApi,
): { adapter: KinesisAdapter; errors: Error[]; subscribe: () => Promise<unknown> } {
  const made = new KinesisAdapter(
    config,
    { ...KINESIS_DEFAULTS, dynamoEndpoint: 'http://127.0.0.1:2', ...options },
    kinesis,
    async () => dynamo,
  );
  const errors: Error[] = [];
  const subscribeOptions: SubscribeOptions = {
    topic: 'orders-x',
    group: 'g',
    prefetch: 10,
    from: 'latest',
    onDelivery: () => undefined,
    onError: (error) => errors.push(error),
  };
  return { adapter: made, errors, subscribe: () => made.subscribe(subscribeOptions) };
}

const open: KinesisAdapter[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((made) => made.close()));
});

async function settleTime(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  let error: unknown;
  await promise.catch((caught: unknown) => {
    error = caught;
  });
  return { ms: Date.now() - started, error };
}

describe('KinesisAdapter.subscribe with the services unreachable', () => {
  it('rejects within subscribeTimeoutMs with a retryable BrokerError naming the stream lookup', async () => {
    const kinesis = fakeClient<KinesisApi>();
    const dynamo = fakeClient<DynamoApi>();
    const made = adapter({ subscribeTimeoutMs: 1_000 }, kinesis.api, dynamo.api);
    open.push(made.adapter);
    const { ms, error } = await settleTime(made.subscribe());
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(BrokerError);
    const brokerError = error as BrokerError;
    expect(brokerError.retryable).toBe(true);
    expect(brokerError.message).toMatch(/stream lookup.*orders-x.*subscribeTimeoutMs \(1000 ms\)/);
    expect(brokerError.message).toMatch(/ECONNREFUSED/);
    expect(brokerError.hint).toMatch(/Kinesis at http:\/\/127\.0\.0\.1:1 is reachable/);
    expect(brokerError.hint).toMatch(/run\(\) again/);
    const shown = `${brokerError.message} ${brokerError.hint} ${String(brokerError.stack)}`;
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('AKIAIOSFODNN7EXAMPLE');
    // Retrying stopped with the deadline: at most the call in flight then.
    const calls = kinesis.counter.calls;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(kinesis.counter.calls - calls).toBeLessThanOrEqual(1);
    const closing = await settleTime(made.adapter.close());
    expect(closing.ms).toBeLessThan(500);
    expect(kinesis.counter.destroyed).toBe(true);
    expect(dynamo.counter.destroyed).toBe(true);
  });

  it('names the lease table when only DynamoDB is unreachable', async () => {
    const kinesis = fakeClient<KinesisApi>({
      describeStreamSummary: async () => ({
        StreamDescriptionSummary: { StreamStatus: 'ACTIVE', StreamCreationTimestamp: new Date() },
      }),
    });
    const dynamo = fakeClient<DynamoApi>();
    const made = adapter({ subscribeTimeoutMs: 1_000 }, kinesis.api, dynamo.api);
    open.push(made.adapter);
    const { ms, error } = await settleTime(made.subscribe());
    expect(ms).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect((error as BrokerError).message).toMatch(/lease table check.*polybus\.g\.orders-x.*ECONNREFUSED/);
    expect((error as BrokerError).hint).toMatch(/DynamoDB at http:\/\/127\.0\.0\.1:2/);
  });

  it('is bounded by the 30 s default', () => {
    expect(KINESIS_DEFAULTS.subscribeTimeoutMs).toBe(30_000);
  });

  it('close() resolves promptly while subscribe is retrying, and stops the retries', async () => {
    const kinesis = fakeClient<KinesisApi>();
    const dynamo = fakeClient<DynamoApi>();
    const made = adapter({ subscribeTimeoutMs: 60_000 }, kinesis.api, dynamo.api);
    const subscribing = settleTime(made.subscribe());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kinesis.counter.calls).toBeGreaterThan(0);
    const closing = await settleTime(made.adapter.close());
    expect(closing.ms).toBeLessThan(500);
    const subscribed = await subscribing;
    expect(subscribed.ms).toBeLessThan(1_000);
    expect(subscribed.error).toBeInstanceOf(ClosedError);
    const calls = kinesis.counter.calls + dynamo.counter.calls;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(kinesis.counter.calls + dynamo.counter.calls - calls).toBeLessThanOrEqual(1);
    await expect(made.subscribe()).rejects.toBeInstanceOf(ClosedError);
  });
});

/** A lease table in memory whose DynamoDB can refuse connections or stop answering. */
class FlakyLeaseStore implements LeaseStore {
  readonly leases = new Map<string, Lease>();
  mode: 'ok' | 'refuse' | 'hang' = 'ok';
  calls = 0;
  async #answer<T>(value: () => T): Promise<T> {
    this.calls++;
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    if (this.mode === 'refuse') return refused();
    return value();
  }
  list() {
    return this.#answer(() => [...this.leases.values()]);
  }
  get(key: string) {
    return this.#answer(() => this.leases.get(key));
  }
  create(lease: NewLease) {
    return this.#answer(() => {
      this.leases.set(lease.leaseKey, {
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
    });
  }
  #bump(lease: Lease, changes: Partial<Lease>): Lease {
    const next = { ...lease, ...changes, leaseCounter: lease.leaseCounter + 1 };
    this.leases.set(lease.leaseKey, next);
    return next;
  }
  renew(lease: Lease) {
    return this.#answer(() => this.#bump(lease, {}));
  }
  take(lease: Lease, owner: string) {
    return this.#answer(() => this.#bump(lease, { leaseOwner: owner }));
  }
  checkpoint(lease: Lease, _owner: string, checkpoint: string) {
    return this.#answer(() => this.#bump(lease, { checkpoint }));
  }
  requestHandoff() {
    return this.#answer(() => false);
  }
  release(lease: Lease) {
    return this.#answer(() => {
      this.#bump(lease, { leaseOwner: undefined });
      return true;
    });
  }
  deleteEnded() {
    return this.#answer(() => undefined);
  }
}

describe('KinesisSubscription whose services go away after it started', () => {
  it('keeps retrying in the background, reports it, recovers, and closes within RELEASE_TIMEOUT_MS', async () => {
    const store = new FlakyLeaseStore();
    const kinesis = fakeClient<KinesisApi>();
    const errors: Error[] = [];
    let closed = false;
    const subscription = new KinesisSubscription(
      {
        topic: 'orders-x',
        group: 'g',
        prefetch: 10,
        from: 'latest',
        onDelivery: () => undefined,
        onError: (error) => errors.push(error),
      },
      {
        kinesis: kinesis.api,
        store,
        table: 'polybus.g.orders-x',
        listShards: async () => [{ shardId: 'shardId-000000000000', parents: [], closed: false }],
        streamCreatedAt: undefined,
        failoverTimeMs: 1_000,
        pollIntervalMs: 200,
        checkpointIntervalMs: 0,
        onClosed: () => {
          closed = true;
        },
      },
    );
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await subscription.start();
    expect(subscription.shards).toEqual(['shardId-000000000000']);
    // Kinesis is unreachable: the reader keeps retrying and says so.
    await sleep(400);
    expect(errors.some((error) => /ECONNREFUSED/.test(error.message))).toBe(true);
    expect(subscription.health().ok).toBe(false);
    // DynamoDB refuses too: the lease is given up, the table is read again and again.
    store.mode = 'refuse';
    let calls = store.calls;
    await sleep(1_200);
    expect(store.calls - calls).toBeGreaterThanOrEqual(2);
    expect(subscription.shards).toEqual([]);
    expect(errors.some((error) => /lease/.test(error.message) || /DynamoDB/.test(String(error)))).toBe(true);
    // DynamoDB is back: the member takes its lease again by itself.
    store.mode = 'ok';
    await sleep(800);
    expect(subscription.shards).toEqual(['shardId-000000000000']);
    // DynamoDB stops answering: close() does not wait for it longer than RELEASE_TIMEOUT_MS.
    store.mode = 'hang';
    calls = errors.length;
    const started = Date.now();
    await subscription.close();
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(RELEASE_TIMEOUT_MS - 100);
    expect(ms).toBeLessThan(RELEASE_TIMEOUT_MS + 1_000);
    expect(closed).toBe(true);
    expect(errors.slice(calls).map((error) => error.message)).toEqual([
      expect.stringMatching(/did not answer within 5000 ms/),
    ]);
    // Nothing keeps running after close().
    calls = store.calls;
    await sleep(600);
    expect(store.calls).toBe(calls);
  }, 20_000);
});
