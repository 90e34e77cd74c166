/**
 * The WebSocket transport (`pulsar+ws://`, `pulsar+wss://`): the broker's WebSocket API
 * (`/ws/v2/producer|consumer/persistent/<tenant>/<namespace>/<topic>`), JSON frames with base64
 * payloads, through the `ws` package.
 *
 * - Producer: one socket per topic, never batched (the proxy's batching mixes keys, which breaks
 *   Key_Shared), sends pipelined in a window and matched to their replies by `context`, resent in
 *   order after a reconnect; a frame over the proxy's text frame limit is refused before it is sent.
 * - Consumer: pull mode, so flow permits work as on the binary transport (`receiverQueueSize` at
 *   most 1000, the proxy's cap); acks are `{messageId}` frames, nacks `negativeAcknowledge` frames
 *   sent after the delay (the proxy's own nack delay is per consumer, so polybus holds each nack
 *   for its delay); `redeliveryCount` comes in every message.
 *
 * Message ids are the proxy's base64 `MessageIdData`, decoded to the same
 * `ledger:entry:partition:batchIndex` strings the binary transport gives.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MessageTooLargeError } from '../../../src/errors.js';
import type { Secret } from '../../../src/secret.js';

import { MessageId } from '../client/message.js';
import { maxMessageBytesOf, PULSAR_WS_MAX_FRAME_BYTES, type PulsarOptions } from '../config.js';
import type {
  PulsarIncoming,
  PulsarOutgoing,
  PulsarTransport,
  TransportConsumer,
  TransportProducer,
  TransportSubscribeOptions,
} from '../transport.js';
import { ManagedSocket, PulsarWebSocketError, type SocketSettings, type WsModule } from './socket.js';

export type { WsModule } from './socket.js';

/** Most sends in flight on one producer socket (the proxy's producer queue is sized above it). */
const SEND_WINDOW = 1000;

const COMPRESSION: Record<PulsarOptions['compression'], string> = {
  none: 'NONE',
  lz4: 'LZ4',
  zlib: 'ZLIB',
  zstd: 'ZSTD',
  snappy: 'SNAPPY',
};

/** What the WebSocket transport needs. */
export interface WebSocketTransportConfig {
  /** `ws://host:port` or `wss://host:port`. */
  serviceUrl: string;
  tenant: string;
  namespace: string;
  token: Secret | undefined;
  tls: tls.ConnectionOptions | undefined;
  options: PulsarOptions;
}

/** The text frame size a transport refuses to exceed. */
export function frameLimitOf(options: Pick<PulsarOptions, 'maxMessageBytes'>): number {
  return options.maxMessageBytes === undefined
    ? PULSAR_WS_MAX_FRAME_BYTES
    : Math.ceil((options.maxMessageBytes * 4) / 3) + 8192;
}

/** A message id as the proxy sends it (base64 `MessageIdData`) → `ledger:entry:partition:batchIndex`. */
export function decodeMessageId(encoded: string): string {
  return MessageId.deserialize(Buffer.from(encoded, 'base64')).toString();
}

/** The JSON frame of one message (the WebSocket API's producer message). */
export function encodeSendFrame(message: PulsarOutgoing, context: string): string {
  const frame: Record<string, unknown> = {
    payload: Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength).toString(
      'base64',
    ),
    properties: message.properties,
    context,
  };
  if (message.key !== undefined) frame.key = message.key;
  if (Number.isFinite(message.eventTime) && message.eventTime > 0) {
    frame.eventTime = new Date(message.eventTime).toISOString();
  }
  return JSON.stringify(frame);
}

interface ConsumerFrame {
  messageId?: string;
  payload?: string;
  properties?: Record<string, string>;
  publishTime?: string;
  eventTime?: string;
  redeliveryCount?: number;
  key?: string;
}

/** A message frame of the consumer endpoint as a {@link PulsarIncoming}; undefined for other frames. */
export function decodeMessageFrame(text: string): WsIncoming | undefined {
  const frame = JSON.parse(text) as ConsumerFrame;
  if (typeof frame.messageId !== 'string') return undefined;
  const eventTime = frame.eventTime === undefined ? Number.NaN : Date.parse(frame.eventTime);
  const publishTime = frame.publishTime === undefined ? Number.NaN : Date.parse(frame.publishTime);
  return new WsIncoming(
    decodeMessageId(frame.messageId),
    frame.messageId,
    typeof frame.key === 'string' ? frame.key : undefined,
    Buffer.from(frame.payload ?? '', 'base64'),
    frame.properties ?? {},
    Number.isFinite(eventTime) ? eventTime : Number.isFinite(publishTime) ? publishTime : Date.now(),
    typeof frame.redeliveryCount === 'number' ? frame.redeliveryCount : 0,
    frame,
  );
}

export class WsIncoming implements PulsarIncoming {
  constructor(
    readonly id: string,
    /** The id as the proxy sent it, for ack frames. */
    readonly encodedId: string,
    readonly key: string | undefined,
    readonly payload: Uint8Array,
    readonly properties: Readonly<Record<string, string>>,
    readonly timestamp: number,
    readonly redeliveryCount: number,
    readonly raw: unknown,
    /** The socket connection it came on. */
    public generation = 0,
  ) {}
}

interface PendingSend {
  readonly context: string;
  readonly frame: string;
  readonly resolve: (id: string) => void;
  readonly reject: (error: Error) => void;
  /** When it times out (epoch ms). */
  readonly deadline: number;
  written: boolean;
}

class WsProducer implements TransportProducer {
  readonly #socket: ManagedSocket;
  readonly #frameLimit: number;
  readonly #sendTimeoutMs: number;
  readonly #maxMessageBytes: number;
  /** Every send not yet answered, in send order (Map keeps insertion order). */
  readonly #pending = new Map<string, PendingSend>();
  /** Sends to write, in order, from `#writeHead` (answered ones are skipped when reached). */
  #toWrite: PendingSend[] = [];
  #writeHead = 0;
  #inFlight = 0;
  #nextContext = 0;
  #closed = false;
  #idle: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: SocketSettings, url: string, options: PulsarOptions, maxMessageBytes: number) {
    this.#frameLimit = frameLimitOf(options);
    this.#sendTimeoutMs = options.sendTimeoutMs;
    this.#maxMessageBytes = maxMessageBytes;
    this.#socket = new ManagedSocket(settings, url, {
      onOpen: (reconnected) => {
        // Unanswered sends are sent again, in order (the broker may store some twice).
        if (reconnected) this.#rewindWrites();
        this.#writeMore();
      },
      onText: (text) => this.#onReply(text),
      onDown: () => this.#rewindWrites(),
    });
  }

  start(): Promise<void> {
    return this.#socket.start();
  }

  send(message: PulsarOutgoing): Promise<string> {
    if (this.#closed) return Promise.reject(new PulsarWebSocketError('the producer is closed', false));
    const context = String(this.#nextContext++);
    const frame = encodeSendFrame(message, context);
    // A UTF-8 byte is at most 3 per UTF-16 unit: count bytes only for frames that may be too large.
    if (frame.length * 3 > this.#frameLimit) {
      const bytes = Buffer.byteLength(frame);
      if (bytes > this.#frameLimit) {
        const size = messageSize(message);
        // Over the message limit, or within it but too large once base64- and JSON-encoded (escaped headers).
        return Promise.reject(
          size > this.#maxMessageBytes
            ? new MessageTooLargeError('pulsar', size, this.#maxMessageBytes)
            : new MessageTooLargeError('pulsar', bytes, this.#frameLimit),
        );
      }
    }
    return new Promise<string>((resolve, reject) => {
      const deadline = this.#sendTimeoutMs > 0 ? Date.now() + this.#sendTimeoutMs : Number.POSITIVE_INFINITY;
      const pending: PendingSend = { context, frame, resolve, reject, deadline, written: false };
      this.#pending.set(context, pending);
      this.#toWrite.push(pending);
      this.#armTimeout();
      this.#writeMore();
    });
  }

  /** Writes waiting sends while fewer than SEND_WINDOW are unanswered; O(1) per send written. */
  #writeMore(): void {
    const queue = this.#toWrite;
    while (this.#writeHead < queue.length) {
      const pending = queue[this.#writeHead] as PendingSend;
      // Answered or timed out: dropped even while nothing can be written (a socket down for
      // long must not keep the frames of every send that timed out meanwhile).
      if (this.#pending.get(pending.context) !== pending) {
        this.#writeHead++;
        continue;
      }
      if (this.#inFlight >= SEND_WINDOW || !this.#socket.isOpen || !this.#socket.send(pending.frame)) break;
      pending.written = true;
      this.#inFlight++;
      this.#writeHead++;
    }
    if (this.#writeHead === queue.length) {
      this.#toWrite = [];
      this.#writeHead = 0;
    } else if (this.#writeHead > 1024 && this.#writeHead * 2 > queue.length) {
      this.#toWrite = queue.slice(this.#writeHead);
      this.#writeHead = 0;
    }
  }

  /** The connection went down: every unanswered send is to be written again, in send order. */
  #rewindWrites(): void {
    this.#inFlight = 0;
    this.#toWrite = [];
    this.#writeHead = 0;
    for (const pending of this.#pending.values()) {
      pending.written = false;
      this.#toWrite.push(pending);
    }
  }

  #onReply(text: string): void {
    let reply: { result?: string; messageId?: string; context?: string; errorMsg?: string };
    try {
      reply = JSON.parse(text) as typeof reply;
    } catch {
      return;
    }
    const pending = reply.context === undefined ? undefined : this.#pending.get(reply.context);
    if (pending === undefined) return;
    this.#settle(pending);
    if (reply.result === 'ok' && typeof reply.messageId === 'string') {
      try {
        pending.resolve(decodeMessageId(reply.messageId));
      } catch (error) {
        pending.reject(new PulsarWebSocketError(`unreadable message id in a send reply`, false, { cause: error }));
      }
    } else {
      const detail = reply.errorMsg ?? reply.result ?? 'unknown error';
      const permanent = /Invalid|too ?large|TooLarge|not allowed|Terminated/i.test(detail);
      pending.reject(new PulsarWebSocketError(`send failed: ${detail}`, !permanent));
    }
    this.#writeMore();
  }

  #settle(pending: PendingSend): void {
    this.#pending.delete(pending.context);
    if (pending.written) this.#inFlight--;
    if (this.#pending.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#idle?.();
    }
  }

  /** One timer for the oldest send (sends are kept in order, so its deadline is the earliest). */
  #armTimeout(): void {
    if (this.#timer !== undefined) return;
    const head = this.#pending.values().next();
    if (head.done || head.value.deadline === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#expire();
      },
      Math.max(0, head.value.deadline - Date.now()) + 1,
    );
  }

  #expire(): void {
    const now = Date.now();
    for (const pending of this.#pending.values()) {
      if (pending.deadline > now) break;
      this.#settle(pending);
      const state = this.#socket.isOpen
        ? ''
        : ` (the WebSocket is reconnecting: ${this.#socket.lastError?.message ?? 'down'})`;
      const error = new PulsarWebSocketError(`send not confirmed within ${this.#sendTimeoutMs} ms${state}`, true);
      error.name = 'PulsarTimeoutError';
      pending.reject(error);
    }
    this.#armTimeout();
    this.#writeMore();
  }

  get isOpen(): boolean {
    return this.#socket.isOpen;
  }

  /** Waits for unanswered sends (bounded by their timeouts), then closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending.size > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    await this.#socket.close();
  }
}

function messageSize(message: PulsarOutgoing): number {
  let size = message.payload.byteLength + (message.key === undefined ? 0 : Buffer.byteLength(message.key));
  for (const name in message.properties) {
    size += Buffer.byteLength(name) + Buffer.byteLength(message.properties[name] ?? '');
  }
  return size;
}

class WsConsumer implements TransportConsumer {
  readonly #socket: ManagedSocket;
  readonly #options: TransportSubscribeOptions;
  readonly #queueSize: number;
  /** Messages received while paused, handed on at resume (their permits are not returned until then). */
  #buffered: WsIncoming[] = [];
  #permitsToReturn = 0;
  #paused = false;
  #closed = false;
  #generation = 0;
  readonly #nackTimers = new Set<NodeJS.Timeout>();

  constructor(settings: SocketSettings, url: string, options: TransportSubscribeOptions) {
    this.#options = options;
    this.#queueSize = options.receiverQueueSize;
    this.#socket = new ManagedSocket(settings, url, {
      onOpen: (reconnected) => {
        if (reconnected) {
          // The broker redelivers whatever was unacknowledged on the old connection.
          this.#generation++;
          this.#buffered = [];
        }
        this.#permitsToReturn = 0;
        this.#socket.send(JSON.stringify({ type: 'permit', permitMessages: this.#queueSize }));
      },
      onText: (text) => this.#onFrame(text),
      onDown: (error) => this.#options.onError(error),
    });
  }

  start(): Promise<void> {
    return this.#socket.start();
  }

  get isOpen(): boolean {
    return this.#socket.isOpen;
  }

  #onFrame(text: string): void {
    if (this.#closed) return;
    let message: WsIncoming | undefined;
    try {
      message = decodeMessageFrame(text);
    } catch (error) {
      this.#options.onError(
        new PulsarWebSocketError(`unreadable frame from ${this.#socket.where}`, true, { cause: error }),
      );
      return;
    }
    if (message === undefined) return;
    message.generation = this.#generation;
    if (this.#paused) {
      this.#buffered.push(message);
      return;
    }
    this.#handOn(message);
  }

  #handOn(message: WsIncoming): void {
    this.#permitsToReturn++;
    if (this.#permitsToReturn >= Math.max(1, this.#queueSize >> 1)) {
      if (this.#socket.send(JSON.stringify({ type: 'permit', permitMessages: this.#permitsToReturn }))) {
        this.#permitsToReturn = 0;
      }
    }
    this.#options.onMessage(message);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    while (!this.#paused && !this.#closed && this.#buffered.length > 0) {
      this.#handOn(this.#buffered.shift() as WsIncoming);
    }
  }

  ack(message: PulsarIncoming): void {
    if (this.#closed) return;
    // Not open: the message is redelivered after the reconnect anyway.
    this.#socket.send(JSON.stringify({ messageId: (message as WsIncoming).encodedId }));
  }

  nack(message: PulsarIncoming, delayMs: number): void {
    if (this.#closed) return;
    const frame = JSON.stringify({ type: 'negativeAcknowledge', messageId: (message as WsIncoming).encodedId });
    if (delayMs <= 0) {
      this.#socket.send(frame);
      return;
    }
    const timer = setTimeout(() => {
      this.#nackTimers.delete(timer);
      if (!this.#closed) this.#socket.send(frame);
    }, delayMs);
    this.#nackTimers.add(timer);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#nackTimers) clearTimeout(timer);
    this.#nackTimers.clear();
    this.#buffered = [];
    // Frames go out in order: the acks sent so far reach the proxy before the close.
    await this.#socket.close();
  }
}

/** The WebSocket transport. */
export class WebSocketTransport implements PulsarTransport {
  readonly kind = 'websocket' as const;
  readonly #config: WebSocketTransportConfig;
  readonly #settings: SocketSettings;
  readonly #base: string;
  readonly #producers = new Set<WsProducer>();
  readonly #consumers = new Set<WsConsumer>();

  constructor(ws: WsModule, config: WebSocketTransportConfig) {
    const WebSocketClass = ws.WebSocket ?? ws.default;
    if (WebSocketClass === undefined) throw new PulsarWebSocketError('the ws package has no WebSocket export', false);
    this.#config = config;
    this.#base = `${config.serviceUrl.replace(/\/$/, '')}/ws/v2`;
    this.#settings = {
      WebSocket: WebSocketClass,
      token: config.token?.reveal(),
      tls: config.tls,
      connectTimeoutMs: config.options.connectTimeoutMs,
    };
  }

  #path(topic: string): string {
    // topic is persistent://tenant/namespace/local: the path is persistent/tenant/namespace/local.
    const match = /^persistent:\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(topic);
    if (!match) throw new PulsarWebSocketError(`not a full topic name: ${topic}`, false);
    return `persistent/${match[1]}/${match[2]}/${encodeURIComponent(match[3] as string)}`;
  }

  async start(): Promise<void> {
    await this.#probe();
  }

  /** A TCP (or TLS) connection to the WebSocket service, closed at once. */
  #probe(): Promise<void> {
    const url = new URL(this.#config.serviceUrl);
    const secure = url.protocol === 'wss:';
    const port = Number(url.port || (secure ? 443 : 80));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const timeoutMs = this.#config.options.connectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const socket = secure
        ? tls.connect({ host, port, ...(this.#config.tls ?? {}), ...(net.isIP(host) ? {} : { servername: host }) })
        : net.connect({ host, port });
      const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.end();
        resolve();
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new PulsarWebSocketError(`cannot reach ${url.host}: ${error.message}`, !isTlsCode(error), {
            cause: error,
          }),
        );
      });
    });
  }

  async createProducer(topic: string): Promise<TransportProducer> {
    const { options } = this.#config;
    const params = new URLSearchParams({
      batchingEnabled: 'false',
      sendTimeoutMillis: String(options.sendTimeoutMs),
      maxPendingMessages: String(SEND_WINDOW * 2),
    });
    if (options.compression !== 'none') params.set('compressionType', COMPRESSION[options.compression]);
    const maxMessageBytes = maxMessageBytesOf(options, 'websocket');
    const producer = new WsProducer(
      this.#settings,
      `${this.#base}/producer/${this.#path(topic)}?${params}`,
      options,
      maxMessageBytes,
    );
    await producer.start();
    this.#producers.add(producer);
    return {
      send: (message) => producer.send(message),
      close: async () => {
        this.#producers.delete(producer);
        await producer.close();
      },
    };
  }

  async subscribe(options: TransportSubscribeOptions): Promise<TransportConsumer> {
    const params = new URLSearchParams({
      subscriptionType: options.subscriptionType,
      receiverQueueSize: String(options.receiverQueueSize),
      pullMode: 'true',
      subscriptionInitialPosition: options.initialPosition === 'earliest' ? 'Earliest' : 'Latest',
      negativeAckRedeliveryDelay: '0',
    });
    const consumer = new WsConsumer(
      this.#settings,
      `${this.#base}/consumer/${this.#path(options.topic)}/${encodeURIComponent(options.subscription)}?${params}`,
      options,
    );
    await consumer.start();
    this.#consumers.add(consumer);
    return {
      pause: () => consumer.pause(),
      resume: () => consumer.resume(),
      ack: (message) => consumer.ack(message),
      nack: (message, delayMs) => consumer.nack(message, delayMs),
      close: async () => {
        this.#consumers.delete(consumer);
        await consumer.close();
      },
    };
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    const sockets = [...this.#producers, ...this.#consumers];
    if (sockets.length > 0) {
      const down = sockets.filter((socket) => !socket.isOpen).length;
      return down === 0
        ? { ok: true, detail: `${sockets.length} socket(s) open` }
        : { ok: false, detail: `${down} of ${sockets.length} socket(s) reconnecting` };
    }
    try {
      await this.#probe();
      return { ok: true, detail: 'reachable' };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.close()));
    await Promise.allSettled([...this.#producers].map((producer) => producer.close()));
    this.#consumers.clear();
    this.#producers.clear();
  }
}

function isTlsCode(error: Error): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/.test((error as NodeJS.ErrnoException).code ?? '');
}
