/**
 * The Kinesis adapter itself (index.ts makes one from a config): publishing through
 * {@link KinesisPublisher}, consumer groups through {@link KinesisSubscription}s on lease tables.
 *
 * Nothing waits without bound while Kinesis or DynamoDB is unreachable: a send settles within
 * `sendTimeoutMs`, a subscribe within `subscribeTimeoutMs` (rejecting with a retryable
 * `BrokerError` naming the step that did not succeed), and close() stops every retry loop,
 * aborts pending calls and gives lease releases {@link RELEASE_TIMEOUT_MS} at most.
 */
import type {
  Adapter,
  Capabilities,
  HealthStatus,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from '../../src/adapter.js';
import { BrokerError, ClosedError, errorText, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import type { KinesisConfig } from '../../src/url.js';
import { withDeadline } from '../shared/backoff.js';
import { type ClientSettings, createDynamoApi, type DynamoApi, type KinesisApi } from './clients.js';
import { type KinesisOptions, leaseTableName } from './config.js';
import { toBrokerError } from './errors.js';
import { DynamoLeaseStore } from './lease-store.js';
import { KinesisPublisher, MAX_RECORDS_PER_CALL } from './publisher.js';
import { KinesisSubscription, RELEASE_TIMEOUT_MS } from './subscriber.js';
import { checkStreamName, KinesisTopology, LeaseTables } from './topology.js';

/**
 * What Kinesis offers. Per-key order within a shard (and across a reshard); records persist for the
 * stream's retention and a new group can replay them; no broker-side delayed redelivery or
 * dead-letter queue (the consumer core retries in process). A record holds 1 MiB including its
 * partition key; `maxMessageBytes` leaves 512 bytes of that for the envelope and the key, and
 * anything over the real limit is refused before sending. `maxBatch` is PutRecords's 500.
 */
export const KINESIS_CAPABILITIES: Capabilities = Object.freeze({
  perKeyOrdering: true,
  persistent: true,
  replay: true,
  nativeDelay: false,
  nativeDeadLetter: false,
  maxMessageBytes: 1_048_576 - 512,
  maxBatch: MAX_RECORDS_PER_CALL,
});

/** How long health() waits for Kinesis. */
const HEALTH_TIMEOUT_MS = 5_000;

/** Makes the DynamoDB client of the lease tables (tests pass a fake). */
export type DynamoFactory = (settings: ClientSettings) => Promise<DynamoApi>;

/** Where a subscribe is, for the error at its deadline. */
type SubscribeStep = 'client' | 'stream' | 'table' | 'leases';

/** One subscribe in progress. */
interface SubscribeAttempt {
  step: SubscribeStep;
  subscription: KinesisSubscription | undefined;
  /** The deadline passed, close() was called, or a step failed: nothing more may start. */
  abandoned: boolean;
  /** Aborted by close(). */
  readonly closing: AbortController;
}

export class KinesisAdapter implements Adapter {
  readonly broker = 'kinesis' as const;
  readonly capabilities = KINESIS_CAPABILITIES;
  readonly #config: KinesisConfig;
  readonly #options: KinesisOptions;
  readonly #kinesis: KinesisApi;
  readonly #createDynamo: DynamoFactory;
  readonly #topology: KinesisTopology;
  readonly #publisher: KinesisPublisher;
  readonly #subscriptions = new Set<KinesisSubscription>();
  readonly #subscribing = new Set<SubscribeAttempt>();
  #dynamo: Promise<DynamoApi> | undefined;
  #leaseTables: LeaseTables | undefined;
  #publishProblem: string | undefined;
  #throttledSends = 0;
  #closed = false;

  constructor(
    config: KinesisConfig,
    options: KinesisOptions,
    kinesis: KinesisApi,
    createDynamo: DynamoFactory = createDynamoApi,
  ) {
    this.#config = config;
    this.#options = options;
    this.#kinesis = kinesis;
    this.#createDynamo = createDynamo;
    this.#topology = new KinesisTopology(kinesis, { autoCreate: options.autoCreate, shards: config.shards });
    this.#publisher = new KinesisPublisher({
      kinesis,
      ensureStream: (stream) => this.#topology.ensureStream(stream, 'send'),
      forgetStream: (stream) => this.#topology.forget(stream),
      envelope: options.envelope,
      sendTimeoutMs: options.sendTimeoutMs,
      onThrottled: () => {
        this.#throttledSends++;
      },
      onRetry: (error) => {
        this.#publishProblem = errorText(error);
      },
      onSuccess: () => {
        this.#publishProblem = undefined;
      },
    });
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'publish', 'kinesis'));
    return this.#publisher.publish(topic, records);
  }

  /**
   * Looks up (or creates) the stream and the lease table, then takes this member's leases: resolves
   * once that is done, or rejects within `subscribeTimeoutMs` with a retryable `BrokerError` naming
   * the step that did not succeed (at once with a ClosedError when the adapter closes meanwhile).
   */
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'kinesis');
    checkStreamName(options.topic, 'subscribe');
    const table = leaseTableName(this.#options.leaseTable, options.group, options.topic);
    const attempt: SubscribeAttempt = {
      step: 'client',
      subscription: undefined,
      abandoned: false,
      closing: new AbortController(),
    };
    this.#subscribing.add(attempt);
    // The consumer closing gives the subscribe up as the adapter closing does.
    const giveUp = (): void => attempt.closing.abort();
    if (options.signal?.aborted) giveUp();
    else options.signal?.addEventListener('abort', giveUp, { once: true });
    const closed = new Promise<never>((_, reject) => {
      attempt.closing.signal.addEventListener(
        'abort',
        () => reject(new ClosedError('connection', 'subscribe', 'kinesis')),
        { once: true },
      );
    });
    const deadline = Date.now() + this.#options.subscribeTimeoutMs;
    try {
      return await withDeadline(Promise.race([this.#establish(options, table, attempt), closed]), deadline, () =>
        this.#subscribeTimeout(options, table, attempt.step),
      );
    } catch (error) {
      attempt.abandoned = true;
      const subscription = attempt.subscription;
      if (subscription !== undefined) {
        this.#subscriptions.delete(subscription);
        // Stops its lease manager; its release is bounded (RELEASE_TIMEOUT_MS).
        void subscription.close();
      }
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', giveUp);
      this.#subscribing.delete(attempt);
    }
  }

  async #establish(options: SubscribeOptions, table: string, attempt: SubscribeAttempt): Promise<KinesisSubscription> {
    const dynamo = await this.#dynamoApi();
    this.#checkAttempt(attempt);
    attempt.step = 'stream';
    const stream = await this.#topology.ensureStream(options.topic, 'subscribe');
    this.#checkAttempt(attempt);
    attempt.step = 'table';
    this.#leaseTables ??= new LeaseTables(dynamo, this.#options.autoCreate);
    await this.#leaseTables.ensure(table);
    this.#checkAttempt(attempt);
    attempt.step = 'leases';
    const subscription = new KinesisSubscription(options, {
      kinesis: this.#kinesis,
      store: new DynamoLeaseStore(dynamo, table),
      table,
      listShards: () => this.#topology.listShards(options.topic),
      streamCreatedAt: stream.createdAt,
      failoverTimeMs: this.#options.failoverTimeMs,
      pollIntervalMs: this.#options.pollIntervalMs,
      checkpointIntervalMs: this.#options.checkpointIntervalMs,
      onClosed: (closed) => this.#subscriptions.delete(closed),
    });
    attempt.subscription = subscription;
    this.#subscriptions.add(subscription);
    await subscription.start();
    this.#checkAttempt(attempt);
    return subscription;
  }

  /** @throws {ClosedError} once the subscribe was given up (deadline, close): start nothing more. */
  #checkAttempt(attempt: SubscribeAttempt): void {
    if (attempt.abandoned || this.#closed) throw new ClosedError('connection', 'subscribe', 'kinesis');
  }

  /** The error of a subscribe whose deadline passed: what did not succeed, its last error, what to do. */
  #subscribeTimeout(options: SubscribeOptions, table: string, step: SubscribeStep): BrokerError {
    const timeoutMs = this.#options.subscribeTimeoutMs;
    const kinesisAt =
      this.#config.endpoint === undefined ? 'AWS Kinesis' : `Kinesis at ${origin(this.#config.endpoint)}`;
    const dynamoEndpoint = this.#options.dynamoEndpoint;
    const dynamoAt =
      dynamoEndpoint === undefined || dynamoEndpoint === 'aws'
        ? 'AWS DynamoDB'
        : `DynamoDB at ${origin(dynamoEndpoint)}`;
    let what: string;
    let last: unknown;
    let check: string;
    switch (step) {
      case 'client':
        what = 'loading the DynamoDB client';
        check = 'Check that @aws-sdk/client-dynamodb is installed';
        break;
      case 'stream':
        what = `the stream lookup (DescribeStreamSummary of ${options.topic})`;
        last = this.#topology.lastFailure(options.topic);
        check = `Check that ${kinesisAt} is reachable (the endpoint option) and that the credentials are valid`;
        break;
      case 'table':
        what = `the lease table check (DescribeTable of ${table})`;
        last = this.#leaseTables?.lastFailure(table);
        check = `Check that ${dynamoAt} is reachable (the dynamoEndpoint option) and that the credentials are valid`;
        break;
      case 'leases':
        what = `taking leases (ListShards of ${options.topic}, reading lease table ${table})`;
        check = `Check that ${kinesisAt} and ${dynamoAt} are reachable`;
        break;
    }
    const lastText = last === undefined ? '' : `; last error: ${errorText(last)}`;
    return new BrokerError(
      'kinesis',
      `subscribe group ${options.group} to ${options.topic}`,
      new Error(`${what} did not succeed within subscribeTimeoutMs (${timeoutMs} ms)${lastText}`, {
        cause: last,
      }),
      `${check}; then call run() again (the error is retryable), or raise subscribeTimeoutMs to wait longer.`,
      true,
    );
  }

  #dynamoApi(): Promise<DynamoApi> {
    if (this.#dynamo === undefined) {
      const endpoint = this.#options.dynamoEndpoint;
      if (this.#config.endpoint !== undefined && endpoint === undefined) {
        return Promise.reject(
          new InvalidConfigError(
            'endpoint is set (a custom or emulated Kinesis) but dynamoEndpoint is not, so the lease tables of consumer groups would go to AWS DynamoDB',
            {
              broker: 'kinesis',
              operation: 'subscribe',
              hint: 'Set dynamoEndpoint to your DynamoDB (e.g. dynamoEndpoint=http://127.0.0.1:4568), or dynamoEndpoint=aws to use AWS DynamoDB in the same region.',
            },
          ),
        );
      }
      const settings: ClientSettings = { ...this.#credentials(), endpoint };
      const dynamo = this.#createDynamo(settings);
      this.#dynamo = dynamo;
      dynamo.then(
        // Made after close(): nothing else will destroy it.
        (api) => {
          if (this.#closed) api.destroy();
        },
        () => {
          if (this.#dynamo === dynamo) this.#dynamo = undefined;
        },
      );
    }
    return this.#dynamo;
  }

  #credentials(): ClientSettings {
    return {
      region: this.#config.region,
      accessKeyId: this.#config.accessKeyId,
      secretAccessKey: this.#config.secretAccessKey,
      sessionToken: this.#options.sessionToken,
    };
  }

  async health(): Promise<HealthStatus> {
    if (this.#closed) return { ok: false, broker: 'kinesis', detail: 'closed' };
    const details: string[] = [`kinesis://${this.#config.region}`];
    let ok = true;
    try {
      await this.#kinesis.ping(HEALTH_TIMEOUT_MS);
    } catch (error) {
      ok = false;
      details.push(`Kinesis unreachable: ${errorText(toBrokerError(error, 'health check'))}`);
    }
    if (this.#publishProblem !== undefined) details.push(`sends retrying: ${this.#publishProblem}`);
    if (this.#throttledSends > 0) details.push(`sends throttled ${this.#throttledSends} time(s)`);
    for (const subscription of this.#subscriptions) {
      const health = subscription.health();
      if (!health.ok) ok = false;
      details.push(health.detail);
    }
    return { ok, broker: 'kinesis', detail: details.join('; ') };
  }

  /**
   * Ends subscribes in progress (they reject with a ClosedError), closes the subscriptions (final
   * checkpoints and lease releases, {@link RELEASE_TIMEOUT_MS} at most), waits for sends in
   * progress (each bounded by `sendTimeoutMs`), then stops every retry loop and aborts the calls
   * still pending.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const attempt of this.#subscribing) {
      attempt.abandoned = true;
      attempt.closing.abort();
    }
    await Promise.allSettled([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#publisher.close();
    this.#topology.stop();
    this.#leaseTables?.stop();
    this.#kinesis.destroy();
    const dynamo = await this.#dynamo?.catch(() => undefined);
    dynamo?.destroy();
  }
}

/** `scheme://host:port` of an endpoint: never a path or query that might carry something private. */
function origin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'the configured endpoint';
  }
}
