/**
 * One TCP or TLS connection to a broker (or a proxy): the CONNECT handshake with authentication
 * and its refresh, request/response matching with timeouts, keep-alive, and dispatch of
 * producer and consumer commands to their handlers.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  type BaseCommand,
  type CommandActiveConsumerChange,
  type CommandCloseConsumer,
  type CommandCloseProducer,
  type CommandMessage,
  type CommandSendError,
  type CommandSendReceipt,
  CommandType,
  PROTOCOL_VERSION,
} from './commands.js';
import {
  PulsarClientError,
  PulsarClosedError,
  PulsarConnectionError,
  PulsarProtocolError,
  PulsarTimeoutError,
  PulsarTlsError,
  serverError,
} from './errors.js';
import { DEFAULT_MAX_MESSAGE_SIZE, encodeCommand, FRAME_PADDING, type Frame, FrameDecoder } from './frame.js';

/** Supplies authentication data; called at connect and whenever the broker asks for a refresh. */
export interface AuthProvider {
  /** The broker-side authentication method name, e.g. `token`. */
  readonly method: string;
  /** The credentials to send (e.g. the token's UTF-8 bytes). */
  getData(): Uint8Array | Promise<Uint8Array>;
}

/** Token authentication: a fixed token, or a function called each time a token is needed. */
export function tokenAuth(token: string | (() => string | Promise<string>)): AuthProvider {
  const provider = {
    method: 'token',
    async getData(): Promise<Uint8Array> {
      const value = typeof token === 'function' ? await token() : token;
      return Buffer.from(value, 'utf8');
    },
  };
  // Never let the token show up when the provider is logged or inspected.
  Object.defineProperty(provider, Symbol.for('nodejs.util.inspect.custom'), { value: () => 'AuthProvider(token)' });
  Object.defineProperty(provider, 'toJSON', { value: () => ({ method: 'token' }) });
  return provider;
}

/** TLS settings for `pulsar+ssl://`. Certificates are verified unless `rejectUnauthorized` is false. */
export interface PulsarTlsOptions {
  /** Trusted CA certificates (PEM); the system's are used when absent. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate and key for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Passphrase of an encrypted client key. */
  passphrase?: string;
  /** Default true. Turning it off accepts any certificate: only for tests. */
  rejectUnauthorized?: boolean;
  /** Server name for SNI and host name verification (default: the URL's host). */
  servername?: string;
}

/** A parsed broker address. */
export interface BrokerAddress {
  host: string;
  port: number;
  tls: boolean;
  /** `pulsar://host:port` or `pulsar+ssl://host:port`. */
  url: string;
}

/** Parses one `pulsar://host:port` / `pulsar+ssl://host:port` address. */
export function parseBrokerUrl(url: string): BrokerAddress {
  const match = /^(pulsar|pulsar\+ssl):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(url.trim());
  if (!match) throw new PulsarConnectionError(`not a Pulsar broker URL: ${url}`);
  const secure = match[1] === 'pulsar+ssl';
  const host = (match[2] as string).replace(/^\[(.*)\]$/, '$1');
  const port = match[3] ? Number(match[3]) : secure ? 6651 : 6650;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { host, port, tls: secure, url: `${secure ? 'pulsar+ssl' : 'pulsar'}://${shown}:${port}` };
}

/** Parses a service URL, which may list several hosts: `pulsar://a:6650,b:6650`. */
export function parseServiceUrl(url: string): BrokerAddress[] {
  const match = /^(pulsar(?:\+ssl)?):\/\/([^/]+)\/?$/.exec(url.trim());
  if (!match) throw new PulsarConnectionError(`not a Pulsar service URL: ${url}`);
  return (match[2] as string).split(',').map((hostPort) => parseBrokerUrl(`${match[1]}://${hostPort}`));
}

/** Receives a producer's commands. */
export interface ProducerHandler {
  onReceipt(receipt: CommandSendReceipt): void;
  onSendError(error: CommandSendError): void;
  onClosedByBroker(command: CommandCloseProducer): void;
  onConnectionClosed(): void;
}

/** Receives a consumer's commands. */
export interface ConsumerHandler {
  onMessage(command: CommandMessage, frame: Frame): void;
  onActiveChange(command: CommandActiveConsumerChange): void;
  onReachedEndOfTopic(): void;
  onClosedByBroker(command: CommandCloseConsumer): void;
  onConnectionClosed(): void;
}

/** Settings of one connection. */
export interface ConnectionOptions {
  /** The broker meant (sent as `proxy_to_broker_url` when it differs from the physical address). */
  logical: BrokerAddress;
  /** Where to dial (the broker itself or a proxy). */
  physical: BrokerAddress;
  auth?: AuthProvider;
  tls?: PulsarTlsOptions;
  connectionTimeoutMs: number;
  operationTimeoutMs: number;
  keepAliveIntervalMs: number;
  clientVersion: string;
}

/** Frames written in one tick are joined and written once they reach this size. */
const OUTBOX_FLUSH_BYTES = 1024 * 1024;

interface Pending {
  resolve(command: BaseCommand): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const TLS_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function wrapSocketError(error: Error & { code?: string }, where: string): PulsarClientError {
  if (error.code && TLS_ERROR_CODES.has(error.code)) {
    return new PulsarTlsError(`TLS verification of ${where} failed: ${error.message}`, { cause: error });
  }
  return new PulsarConnectionError(`connection to ${where} failed: ${error.message}`, { cause: error });
}

/** A live, handshaken connection. Create with {@link Connection.open}. */
export class Connection {
  /** The broker's `maxMessageSize`. */
  maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  serverVersion = '';
  /** Set once the connection is closed; the reason. */
  closedWith: Error | undefined;

  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly producers = new Map<number, ProducerHandler>();
  private readonly consumers = new Map<number, ConsumerHandler>();
  private readonly closeListeners = new Set<(error: Error) => void>();
  private nextRequestId = 1;
  private keepAlive: NodeJS.Timeout | undefined;
  private receivedSinceTick = true;
  /** Frames written this tick, sent together in one socket write. */
  private outbox: Buffer[] = [];
  private outboxBytes = 0;
  private handshake: { resolve(): void; reject(error: Error): void; timer: NodeJS.Timeout } | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly options: ConnectionOptions,
  ) {}

  /** Where this connection goes, for messages. */
  get name(): string {
    const { logical, physical } = this.options;
    return logical.url === physical.url ? logical.url : `${logical.url} via ${physical.url}`;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Dials, sends CONNECT and waits for CONNECTED. */
  static open(options: ConnectionOptions): Promise<Connection> {
    const { physical } = options;
    const socket = physical.tls
      ? tls.connect({
          host: physical.host,
          port: physical.port,
          servername: options.tls?.servername ?? (net.isIP(physical.host) ? undefined : physical.host),
          ca: options.tls?.ca,
          cert: options.tls?.cert,
          key: options.tls?.key,
          passphrase: options.tls?.passphrase,
          rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
        })
      : net.connect({ host: physical.host, port: physical.port });
    socket.setNoDelay(true);
    const connection = new Connection(socket, options);
    return connection.start();
  }

  private start(): Promise<Connection> {
    const { physical } = this.options;
    return new Promise<Connection>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.destroy(
          new PulsarTimeoutError(`connecting to ${this.name} timed out after ${this.options.connectionTimeoutMs} ms`),
        );
      }, this.options.connectionTimeoutMs);
      this.handshake = { resolve: () => resolve(this), reject, timer };
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', (error) => this.destroy(wrapSocketError(error, physical.url)));
      this.socket.on('close', () => this.destroy(new PulsarConnectionError(`connection to ${this.name} closed`)));
      this.socket.once(physical.tls ? 'secureConnect' : 'connect', () => {
        this.sendConnect().catch((error: Error) => this.destroy(error));
      });
    });
  }

  private async sendConnect(): Promise<void> {
    const { auth, logical, physical, clientVersion } = this.options;
    const authData = auth ? await auth.getData() : undefined;
    this.write(
      encodeCommand({
        type: CommandType.CONNECT,
        connect: {
          clientVersion,
          protocolVersion: PROTOCOL_VERSION,
          authMethodName: auth?.method,
          authData,
          proxyToBrokerUrl: logical.url === physical.url ? undefined : `${logical.host}:${logical.port}`,
          featureFlags: { supportsAuthRefresh: true },
        },
      }),
    );
  }

  /** Registers a close listener; returns a function removing it. */
  onClose(listener: (error: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  addProducer(id: number, handler: ProducerHandler): void {
    this.producers.set(id, handler);
  }

  removeProducer(id: number): void {
    this.producers.delete(id);
  }

  addConsumer(id: number, handler: ConsumerHandler): void {
    this.consumers.set(id, handler);
  }

  removeConsumer(id: number): void {
    this.consumers.delete(id);
  }

  /**
   * Writes a frame. Frames written within one tick go out together, joined into one socket write
   * (one buffer and one system call rather than one of each per frame); past 1 MiB they go at once.
   */
  write(frame: Buffer): void {
    if (this.closedWith) throw this.closedWith;
    if (this.outbox.length === 0) process.nextTick(this.flushOutbox);
    this.outbox.push(frame);
    this.outboxBytes += frame.length;
    if (this.outboxBytes >= OUTBOX_FLUSH_BYTES) this.flushOutbox();
  }

  private readonly flushOutbox = (): void => {
    const frames = this.outbox;
    if (frames.length === 0) return;
    const bytes = this.outboxBytes;
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.closedWith) return;
    this.socket.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, bytes));
  };

  /** Whether the socket's buffer is over its high-water mark. */
  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** Resolves when the socket's buffer drains (or at once if it is not full). */
  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.closedWith) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /**
   * Sends a request built with a fresh request id and resolves with the broker's answer
   * (rejecting with a typed error on ERROR, timeout or connection loss).
   */
  request(
    build: (requestId: number) => BaseCommand,
    timeoutMs = this.options.operationTimeoutMs,
  ): Promise<BaseCommand> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const requestId = this.nextRequestId++;
    const command = build(requestId);
    return new Promise<BaseCommand>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(
          new PulsarTimeoutError(
            `request ${commandName(command.type)} to ${this.name} timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      try {
        this.write(encodeCommand(command));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(error);
      }
    });
  }

  /** Closes the connection; every pending request fails and every handler hears of it. */
  close(): void {
    this.destroy(new PulsarClosedError(`connection to ${this.name} closed by the client`));
  }

  private destroy(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.socket.destroy();
    if (this.handshake) {
      clearTimeout(this.handshake.timer);
      this.handshake.reject(error);
      this.handshake = undefined;
    }
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    const producers = [...this.producers.values()];
    const consumers = [...this.consumers.values()];
    this.producers.clear();
    this.consumers.clear();
    for (const listener of this.closeListeners) listener(error);
    this.closeListeners.clear();
    for (const producer of producers) producer.onConnectionClosed();
    for (const consumer of consumers) consumer.onConnectionClosed();
  }

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.destroy(
        error instanceof PulsarClientError
          ? error
          : new PulsarProtocolError(`undecodable data from ${this.name}`, { cause: error }),
      );
      return;
    }
    for (const frame of frames) {
      if (this.closedWith) return;
      try {
        this.dispatch(frame);
      } catch (error) {
        this.destroy(
          error instanceof PulsarClientError
            ? error
            : new PulsarProtocolError(`failed handling a command from ${this.name}: ${(error as Error).message}`, {
                cause: error,
              }),
        );
        return;
      }
    }
  }

  private settle(requestId: number, command: BaseCommand, error?: Error): void {
    const pending = this.pending.get(requestId);
    if (!pending) return;
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(command);
  }

  private dispatch(frame: Frame): void {
    const command = frame.command;
    switch (command.type) {
      case CommandType.MESSAGE: {
        const message = command.message;
        if (!message) break;
        this.consumers.get(message.consumerId)?.onMessage(message, frame);
        return;
      }
      case CommandType.SEND_RECEIPT: {
        const receipt = command.sendReceipt;
        if (receipt) this.producers.get(receipt.producerId)?.onReceipt(receipt);
        return;
      }
      case CommandType.SEND_ERROR: {
        const sendError = command.sendError;
        if (sendError) this.producers.get(sendError.producerId)?.onSendError(sendError);
        return;
      }
      case CommandType.CONNECTED: {
        const connected = command.connected;
        if (!connected || !this.handshake) return;
        this.serverVersion = connected.serverVersion;
        if (connected.maxMessageSize !== undefined && connected.maxMessageSize > 0) {
          this.maxMessageSize = connected.maxMessageSize;
          this.decoder.maxFrameSize = connected.maxMessageSize + FRAME_PADDING;
        }
        const handshake = this.handshake;
        this.handshake = undefined;
        clearTimeout(handshake.timer);
        this.startKeepAlive();
        handshake.resolve();
        return;
      }
      case CommandType.AUTH_CHALLENGE:
        this.answerChallenge().catch((error: Error) =>
          this.destroy(new PulsarConnectionError(`authentication refresh failed: ${error.message}`)),
        );
        return;
      case CommandType.PING:
        this.write(encodeCommand({ type: CommandType.PONG, pong: {} }));
        return;
      case CommandType.PONG:
        return;
      case CommandType.SUCCESS:
        if (command.success) this.settle(command.success.requestId, command);
        return;
      case CommandType.PRODUCER_SUCCESS: {
        const success = command.producerSuccess;
        // A producer waiting for exclusive access first gets producer_ready=false: keep waiting.
        if (success && success.producerReady !== false) this.settle(success.requestId, command);
        return;
      }
      case CommandType.LOOKUP_RESPONSE:
        if (command.lookupTopicResponse) this.settle(command.lookupTopicResponse.requestId, command);
        return;
      case CommandType.PARTITIONED_METADATA_RESPONSE:
        if (command.partitionMetadataResponse) this.settle(command.partitionMetadataResponse.requestId, command);
        return;
      case CommandType.GET_LAST_MESSAGE_ID_RESPONSE:
        if (command.getLastMessageIdResponse) this.settle(command.getLastMessageIdResponse.requestId, command);
        return;
      case CommandType.ACK_RESPONSE: {
        const response = command.ackResponse;
        if (response?.requestId !== undefined) {
          this.settle(
            response.requestId,
            command,
            response.error !== undefined ? serverError(response.error, response.message) : undefined,
          );
        }
        return;
      }
      case CommandType.ERROR: {
        const error = command.error;
        if (!error) return;
        if (this.handshake) {
          // An error before CONNECTED: the handshake failed (e.g. authentication).
          this.destroy(serverError(error.error, error.message));
          return;
        }
        this.settle(error.requestId, command, serverError(error.error, error.message));
        return;
      }
      case CommandType.CLOSE_PRODUCER: {
        const close = command.closeProducer;
        if (!close) return;
        const handler = this.producers.get(close.producerId);
        this.producers.delete(close.producerId);
        handler?.onClosedByBroker(close);
        return;
      }
      case CommandType.CLOSE_CONSUMER: {
        const close = command.closeConsumer;
        if (!close) return;
        const handler = this.consumers.get(close.consumerId);
        this.consumers.delete(close.consumerId);
        handler?.onClosedByBroker(close);
        return;
      }
      case CommandType.ACTIVE_CONSUMER_CHANGE: {
        const change = command.activeConsumerChange;
        if (change) this.consumers.get(change.consumerId)?.onActiveChange(change);
        return;
      }
      case CommandType.REACHED_END_OF_TOPIC: {
        const end = command.reachedEndOfTopic;
        if (end) this.consumers.get(end.consumerId)?.onReachedEndOfTopic();
        return;
      }
      case CommandType.TOPIC_MIGRATED: {
        const migrated = command.topicMigrated;
        if (!migrated) return;
        // resourceType 0 = producer, 1 = consumer: both re-attach through a fresh lookup.
        if (migrated.resourceType === 0) {
          const handler = this.producers.get(migrated.resourceId);
          this.producers.delete(migrated.resourceId);
          handler?.onClosedByBroker({ producerId: migrated.resourceId, requestId: 0 });
        } else {
          const handler = this.consumers.get(migrated.resourceId);
          this.consumers.delete(migrated.resourceId);
          handler?.onClosedByBroker({ consumerId: migrated.resourceId, requestId: 0 });
        }
        return;
      }
      default:
        // Commands this client never asked for: ignore.
        return;
    }
  }

  private async answerChallenge(): Promise<void> {
    const { auth, clientVersion } = this.options;
    if (!auth) throw new PulsarConnectionError('the broker asked for authentication but no credentials are configured');
    const authData = await auth.getData();
    if (this.closedWith) return;
    this.write(
      encodeCommand({
        type: CommandType.AUTH_RESPONSE,
        authResponse: {
          clientVersion,
          protocolVersion: PROTOCOL_VERSION,
          response: { authMethodName: auth.method, authData },
        },
      }),
    );
  }

  private startKeepAlive(): void {
    const interval = this.options.keepAliveIntervalMs;
    if (interval <= 0) return;
    this.keepAlive = setInterval(() => {
      if (!this.receivedSinceTick) {
        this.destroy(new PulsarConnectionError(`no response from ${this.name} for ${interval} ms: connection dropped`));
        return;
      }
      this.receivedSinceTick = false;
      try {
        this.write(encodeCommand({ type: CommandType.PING, ping: {} }));
      } catch {
        // closed meanwhile
      }
    }, interval);
    this.keepAlive.unref();
  }
}

function commandName(type: number): string {
  return Object.entries(CommandType).find(([, v]) => v === type)?.[0] ?? String(type);
}
