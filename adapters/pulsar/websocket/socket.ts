/**
 * One WebSocket to a Pulsar WebSocket API endpoint that reconnects by itself: the first connect
 * is one attempt (so that a wrong address fails the call that needed it), later ones retry with
 * backoff until closed. Keep-alive pings drop a silent connection. The token goes in the
 * `Authorization` header, never in the URL.
 */

import type { ConnectionOptions } from 'node:tls';
import type WebSocket from 'ws';
import { backoffDelay } from '../../shared/backoff.js';

/** The `ws` module as `import()` gives it. */
export interface WsModule {
  WebSocket?: typeof WebSocket;
  default?: typeof WebSocket;
}

/** A failure of the WebSocket transport, shaped like the binary client's errors (`retryable`). */
export class PulsarWebSocketError extends Error {
  readonly retryable: boolean;
  /** The HTTP status of a refused upgrade, if that is what happened. */
  readonly status: number | undefined;
  readonly code: string | undefined;

  constructor(message: string, retryable: boolean, options: { status?: number; code?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PulsarWebSocketError';
    this.retryable = retryable;
    this.status = options.status;
    this.code = options.code;
  }
}

/** What every socket of a transport shares. */
export interface SocketSettings {
  WebSocket: typeof WebSocket;
  token: string | undefined;
  tls: ConnectionOptions | undefined;
  connectTimeoutMs: number;
  /** Ping interval; a socket without a pong for this long is dropped (default 30 s). */
  keepAliveMs?: number;
}

export interface SocketHandlers {
  /** The socket is open (first time or after a reconnect). */
  onOpen(reconnected: boolean): void;
  onText(text: string): void;
  /** The socket dropped; it reconnects by itself. */
  onDown(error: Error): void;
}

const RECONNECT = { initialMs: 200, maxMs: 5000, jitter: 0.2 };

export class ManagedSocket {
  readonly #settings: SocketSettings;
  readonly #url: string;
  /** The URL without query, for messages. */
  readonly #shown: string;
  readonly #handlers: SocketHandlers;
  #socket: WebSocket | undefined;
  #closed = false;
  #openedOnce = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #pingTimer: NodeJS.Timeout | undefined;
  #lastError: Error | undefined;

  constructor(settings: SocketSettings, url: string, handlers: SocketHandlers) {
    this.#settings = settings;
    this.#url = url;
    this.#shown = url.replace(/\?.*$/, '');
    this.#handlers = handlers;
  }

  get isOpen(): boolean {
    return this.#socket !== undefined && this.#socket.readyState === 1;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  get where(): string {
    return this.#shown;
  }

  /** Connects once; rejects with a {@link PulsarWebSocketError} when that fails. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#connect((error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  /** Sends a text frame; false when the socket is not open (the caller keeps it for later). */
  send(text: string): boolean {
    const socket = this.#socket;
    if (socket === undefined || socket.readyState !== 1) return false;
    socket.send(text);
    return true;
  }

  #connect(firstResult?: (error?: Error) => void): void {
    this.#reconnectTimer = undefined;
    if (this.#closed) return;
    const { WebSocket: Ws, token, tls, connectTimeoutMs } = this.#settings;
    const socket = new Ws(this.#url, {
      handshakeTimeout: connectTimeoutMs,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      ...(tls ?? {}),
    });
    this.#socket = socket;
    let settled = false;
    let refused: PulsarWebSocketError | undefined;
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 300);
        refused = upgradeError(this.#shown, status, body);
        socket.terminate();
        fail(refused);
      });
      response.on('error', () => undefined);
    });
    const fail = (error: Error): void => {
      this.#lastError = error;
      if (!settled) {
        settled = true;
        if (firstResult) {
          firstResult(error);
          this.#closed = true;
          return;
        }
      }
      this.#scheduleReconnect();
    };
    socket.on('open', () => {
      settled = true;
      this.#attempt = 0;
      this.#lastError = undefined;
      const reconnected = this.#openedOnce;
      this.#openedOnce = true;
      this.#startKeepAlive(socket);
      firstResult?.();
      this.#handlers.onOpen(reconnected);
    });
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.#handlers.onText(data.toString());
    });
    socket.on('error', (error) => {
      if (refused !== undefined) return;
      const wrapped = new PulsarWebSocketError(`WebSocket ${this.#shown}: ${error.message}`, !isTlsError(error), {
        cause: error,
        code: (error as NodeJS.ErrnoException).code,
      });
      if (!settled) fail(wrapped);
      else this.#lastError = wrapped;
    });
    socket.on('close', (code, reason) => {
      this.#stopKeepAlive();
      if (this.#socket === socket) this.#socket = undefined;
      if (!settled) {
        if (refused === undefined) {
          fail(new PulsarWebSocketError(`WebSocket ${this.#shown} closed before opening (${code})`, true));
        }
        return;
      }
      if (this.#closed) return;
      const error = new PulsarWebSocketError(
        `WebSocket ${this.#shown} closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`,
        true,
      );
      this.#lastError = error;
      this.#handlers.onDown(error);
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== undefined) return;
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt, RECONNECT));
  }

  #startKeepAlive(socket: WebSocket): void {
    const interval = this.#settings.keepAliveMs ?? 30_000;
    if (interval <= 0) return;
    let answered = true;
    socket.on('pong', () => {
      answered = true;
    });
    this.#pingTimer = setInterval(() => {
      if (!answered) {
        socket.terminate();
        return;
      }
      answered = false;
      socket.ping();
    }, interval);
    this.#pingTimer.unref();
  }

  #stopKeepAlive(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
  }

  /** Closes for good (queued frames are sent first), waiting up to `timeoutMs` for the close handshake. */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#stopKeepAlive();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined || socket.readyState === 3) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve();
      }, timeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (socket.readyState === 0) socket.terminate();
      else socket.close(1000);
    });
  }
}

function upgradeError(where: string, status: number, body: string): PulsarWebSocketError {
  const text = `WebSocket ${where} refused with HTTP ${status}${body ? `: ${body}` : ''}`;
  if (status === 401 || status === 403)
    return new PulsarWebSocketError(text, false, { status, code: 'AuthenticationError' });
  // 409: ConsumerBusy / ProducerBusy; 429: too many requests; 5xx: the broker is not ready.
  const retryable = status === 409 || status === 429 || status >= 500 || status === 0;
  return new PulsarWebSocketError(text, retryable, { status });
}

function isTlsError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/.test(code);
}
