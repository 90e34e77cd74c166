/** The client: configuration, the connection pool, lookups, and the producers and consumers it made. */
import { type AuthProvider, type PulsarTlsOptions, parseServiceUrl, tokenAuth } from './connection.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import type { ClientContext, PulsarLogger } from './context.js';
import { PulsarClosedError, PulsarConfigError } from './errors.js';
import { LookupService } from './lookup.js';
import { ConnectionPool } from './pool.js';
import { Producer, type ProducerOptions } from './producer.js';
import { fullTopicName } from './topic.js';

/** Options of {@link PulsarClient}. */
export interface PulsarClientOptions {
  /** `pulsar://host:6650` or `pulsar+ssl://host:6651` (several hosts: `pulsar://a:6650,b:6650`). */
  serviceUrl: string;
  /** Token authentication: the token, or a function giving a fresh one (called on connect and on refresh). */
  token?: string | (() => string | Promise<string>);
  /** Any other authentication provider (overrides `token`). */
  auth?: AuthProvider;
  /** TLS settings for `pulsar+ssl://` (certificates are verified by default). */
  tls?: PulsarTlsOptions;
  /** Timeout of every request to the broker (default 30 s). */
  operationTimeoutMs?: number;
  /** Timeout of a TCP/TLS connect plus handshake (default 10 s). */
  connectionTimeoutMs?: number;
  /** PING interval; a connection silent for this long is dropped (default 30 s; 0 = off). */
  keepAliveIntervalMs?: number;
  /** The advertised listener to look topics up for. */
  listenerName?: string;
  /** Diagnostics (reconnects, dropped messages). */
  logger?: PulsarLogger;
}

/** The library's version string sent to brokers. */
export const CLIENT_VERSION = 'polybus-pulsar-client 0.1';

/**
 * A Pulsar client over the binary protocol: no native code. Create producers and consumers;
 * `close()` closes them all and every connection.
 */
export class PulsarClient {
  private readonly pool: ConnectionPool;
  private readonly lookupService: LookupService;
  private readonly resources = new Set<{ close(): Promise<void> }>();
  private nextProducerId = 0;
  private nextConsumerId = 0;
  private isClosed = false;
  private readonly ctx: ClientContext;

  constructor(options: PulsarClientOptions) {
    const addresses = parseServiceUrl(options.serviceUrl);
    const secure = (addresses[0] as { tls: boolean }).tls;
    const auth = options.auth ?? (options.token !== undefined ? tokenAuth(options.token) : undefined);
    const operationTimeoutMs = options.operationTimeoutMs ?? 30_000;
    if (!(operationTimeoutMs > 0)) throw new PulsarConfigError('operationTimeoutMs must be positive');
    this.pool = new ConnectionPool({
      auth,
      tls: options.tls,
      connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
      operationTimeoutMs,
      keepAliveIntervalMs: options.keepAliveIntervalMs ?? 30_000,
      clientVersion: CLIENT_VERSION,
    });
    this.lookupService = new LookupService(this.pool, addresses, secure, options.listenerName);
    const client = this;
    this.ctx = {
      pool: this.pool,
      lookup: this.lookupService,
      operationTimeoutMs,
      logger: options.logger ?? {},
      get closed() {
        return client.isClosed;
      },
      newProducerId: () => this.nextProducerId++,
      newConsumerId: () => this.nextConsumerId++,
      track: (resource) => {
        this.resources.add(resource);
        return () => this.resources.delete(resource);
      },
    };
  }

  /** Creates a producer; resolves once it is attached to every partition. */
  async createProducer(options: ProducerOptions): Promise<Producer> {
    this.assertOpen();
    return Producer.create(this.ctx, fullTopicName(options.topic), options);
  }

  /** Subscribes; resolves once every partition is subscribed and has been granted permits. */
  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    return Consumer.create(this.ctx, fullTopicName(options.topic), options);
  }

  /** Number of partitions of a topic (0 when not partitioned). */
  async partitionCount(topic: string): Promise<number> {
    this.assertOpen();
    return this.lookupService.partitions(fullTopicName(topic));
  }

  /**
   * Opens (or reuses) a connection to the service URL, authenticating: resolves once the broker
   * answered CONNECT. For reachability checks; producers and consumers connect by themselves.
   */
  async connect(): Promise<void> {
    this.assertOpen();
    await this.pool.get(this.lookupService.serviceAddress());
  }

  /** Open broker connections (diagnostics). */
  get connectionCount(): number {
    return this.pool.size;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private assertOpen(): void {
    if (this.isClosed) throw new PulsarClosedError('the client is closed');
  }

  /** Closes every producer (after their pending sends) and consumer, then every connection. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    await Promise.allSettled([...this.resources].map((resource) => resource.close()));
    this.isClosed = true;
    this.resources.clear();
    this.pool.close();
  }
}
