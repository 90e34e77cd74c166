/**
 * One AMQP connection that comes back by itself: after a broker restart, a connection closed by
 * the server (`rabbitmqctl close_all_connections`) or a missed heartbeat, it reconnects with
 * exponential backoff (200 ms doubling to 5 s, with jitter) until the adapter closes, then runs
 * its hooks in order (declare topology, reopen the publisher's channel, resume consumers).
 *
 * amqplib's own recovery (connectWithRecovery) reconnects but rebuilds no channel or consumer, so
 * the adapter does it here, where it knows which channels and consumers it had.
 */
import type { ChannelModel, Options } from 'amqplib';
import { BrokerError, ClosedError, errorText } from '../../src/errors.js';
import { backoffDelay } from '../shared/backoff.js';
import { toBrokerError } from './errors.js';

/** The part of amqplib the adapter uses. */
export interface AmqpClient {
  connect(url: Options.Connect, socketOptions?: Record<string, unknown>): Promise<ChannelModel>;
}

/** Runs after every (re)connect; errors are reported, not thrown. */
export type ConnectionHook = (model: ChannelModel) => Promise<void> | void;

/** Options of {@link RabbitConnection}. */
export interface ConnectionOptions {
  client: AmqpClient;
  /** What the connection is for (`publish`, `consume`): its name in the RabbitMQ management UI. */
  role: string;
  connect: Options.Connect;
  socket: Record<string, unknown>;
  /** Where the broker is, for messages (never the URL: it may hold a password). */
  where: string;
  /** Reports losing the connection and failing to restore what it carried. */
  onError(error: BrokerError): void;
}

const RECONNECT = { initialMs: 200, maxMs: 5_000, jitter: 0.2 };

type State = 'idle' | 'up' | 'down' | 'closed';

/** An AMQP connection that reconnects until closed. */
export class RabbitConnection {
  readonly #options: ConnectionOptions;
  readonly #hooks: ConnectionHook[] = [];
  #state: State = 'idle';
  #model: ChannelModel | undefined;
  #opening: Promise<ChannelModel> | undefined;
  #waiters: Array<{ resolve(model: ChannelModel): void; reject(error: Error): void }> = [];
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #lastError: unknown;
  #downSince: number | undefined;
  #blocked: string | undefined;
  /** Counts connections made so far: 1 after the first connect, +1 per reconnect. */
  generation = 0;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /** The live connection, if there is one now. */
  get current(): ChannelModel | undefined {
    return this.#state === 'up' ? this.#model : undefined;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Adds a hook run after every reconnect (not after the first connect: callers set up themselves). */
  onReconnect(hook: ConnectionHook): () => void {
    this.#hooks.push(hook);
    return () => {
      const index = this.#hooks.indexOf(hook);
      if (index >= 0) this.#hooks.splice(index, 1);
    };
  }

  /**
   * Connects the first time (one attempt, so that a wrong host or password fails `connect()` at
   * once), or returns the live connection. Later drops reconnect by themselves.
   * @throws {BrokerError} retryable when the broker is unreachable; not retryable for a refused login.
   */
  open(): Promise<ChannelModel> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('connection', 'connect', 'rabbitmq'));
    if (this.#state === 'up' && this.#model) return Promise.resolve(this.#model);
    if (this.#state === 'down') return this.waitUp(Number.POSITIVE_INFINITY);
    this.#opening ??= this.#connectOnce().then(
      (model) => {
        this.#opening = undefined;
        return model;
      },
      (error: unknown) => {
        this.#opening = undefined;
        throw toBrokerError(`connect to ${this.#options.where}`, error);
      },
    );
    return this.#opening;
  }

  /** Resolves with the connection once it is up, or rejects after `timeoutMs` or when closed. */
  waitUp(timeoutMs: number): Promise<ChannelModel> {
    if (this.#state === 'up' && this.#model) return Promise.resolve(this.#model);
    if (this.#state === 'closed') return Promise.reject(new ClosedError('connection', 'connect', 'rabbitmq'));
    if (this.#state === 'idle') return this.open();
    return new Promise<ChannelModel>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (model: ChannelModel) => {
          clearTimeout(timer);
          resolve(model);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(
            new BrokerError(
              'rabbitmq',
              `connect to ${this.#options.where}`,
              this.#lastError ?? new Error('not connected'),
              `RabbitMQ has been unreachable for ${timeoutMs} ms; polybus keeps reconnecting in the background, try again later.`,
            ),
          );
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Whether the connection is up, and what is wrong if not. Never mentions credentials. */
  status(): { ok: boolean; detail: string } {
    const { role, where } = this.#options;
    switch (this.#state) {
      case 'idle':
        return { ok: true, detail: `${role}: not connected yet` };
      case 'up':
        return this.#blocked === undefined
          ? { ok: true, detail: `${role}: connected to ${where}` }
          : { ok: false, detail: `${role}: connected to ${where} but blocked by the broker (${this.#blocked})` };
      case 'down': {
        const since =
          this.#downSince === undefined ? '' : ` for ${Math.round((Date.now() - this.#downSince) / 1000)} s`;
        return {
          ok: false,
          detail: `${role}: reconnecting to ${where}${since} (attempt ${this.#attempt}; last error: ${errorText(this.#lastError)})`,
        };
      }
      case 'closed':
        return { ok: false, detail: `${role}: closed` };
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    const closed = new ClosedError('connection', 'connect', 'rabbitmq');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closed);
    const model = this.#model ?? (await this.#opening?.catch(() => undefined));
    this.#model = undefined;
    await model?.close().catch(() => {});
  }

  async #connectOnce(): Promise<ChannelModel> {
    const { client, connect, socket, role } = this.#options;
    const model = await client.connect(connect, {
      ...socket,
      clientProperties: { connection_name: `polybus ${role}`, product: 'polybus' },
    });
    if (this.#state === 'closed') {
      await model.close().catch(() => {});
      throw new ClosedError('connection', 'connect', 'rabbitmq');
    }
    this.#attach(model);
    return model;
  }

  #attach(model: ChannelModel): void {
    this.#model = model;
    this.#state = 'up';
    this.#attempt = 0;
    this.#downSince = undefined;
    this.#blocked = undefined;
    this.generation++;
    // Without an 'error' listener an EventEmitter throws; the error comes again with 'close'.
    model.on('error', (error: Error) => {
      this.#lastError = error;
    });
    model.on('blocked', (reason: string) => {
      this.#blocked = reason;
    });
    model.on('unblocked', () => {
      this.#blocked = undefined;
    });
    model.on('close', (error?: Error) => this.#lost(model, error));
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(model);
  }

  #lost(model: ChannelModel, error: Error | undefined): void {
    if (this.#model !== model || this.#state === 'closed') return;
    this.#model = undefined;
    this.#state = 'down';
    this.#downSince = Date.now();
    this.#lastError = error ?? this.#lastError ?? new Error('connection closed');
    this.#options.onError(
      new BrokerError(
        'rabbitmq',
        `${this.#options.role} connection to ${this.#options.where}`,
        this.#lastError,
        'The connection dropped; polybus reconnects by itself, resumes consumers and resends unconfirmed messages.',
      ),
    );
    this.#schedule();
  }

  #schedule(): void {
    if (this.#state !== 'down') return;
    this.#attempt++;
    this.#timer = setTimeout(() => void this.#reconnect(), backoffDelay(this.#attempt, RECONNECT));
  }

  async #reconnect(): Promise<void> {
    if (this.#state !== 'down') return;
    let model: ChannelModel;
    try {
      model = await this.#connectOnce();
    } catch (error) {
      if (this.#state !== 'down') return;
      this.#lastError = error;
      this.#schedule();
      return;
    }
    for (const hook of [...this.#hooks]) {
      if (this.#model !== model) return;
      try {
        await hook(model);
      } catch (error) {
        this.#options.onError(toBrokerError(`restore after reconnecting to ${this.#options.where}`, error));
      }
    }
  }
}
