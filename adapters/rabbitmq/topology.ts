/**
 * What polybus creates in RabbitMQ, and its names:
 *
 * - one durable `direct` exchange (default `polybus`): the routing key is the topic, compared
 *   byte for byte, so `.`, `*` and `#` in topic names mean nothing special (a `topic` exchange
 *   would treat them as patterns);
 * - one durable queue per consumer group, named `<topic>.<group>` with `%` and `.` in the group
 *   percent-escaped (`%25`, `%2E`), so the last `.` always separates the two and no two
 *   topic/group pairs share a queue (topic `a.b` + group `c` is `a.b.c`; topic `a` + group `b.c`
 *   is `a.b%2Ec`);
 * - a binding from the exchange to each queue with the topic as routing key.
 *
 * Everything is declared idempotently on first use and again after every reconnect. With
 * `autoDeclare: false` nothing is declared, only checked: a missing exchange or queue is an error
 * naming it.
 */
import type { Channel, ChannelModel } from 'amqplib';
import { InvalidConfigError } from '../../src/errors.js';
import type { RabbitMqQueueType } from './config.js';
import { amqpCode, ExchangeNotFoundError, QueueNotFoundError, toBrokerError } from './errors.js';

/** AMQP short strings (exchange, queue and routing key names) hold at most 255 bytes. */
const MAX_NAME_BYTES = 255;

/** The queue a group of a topic reads from. */
export function queueName(topic: string, group: string): string {
  return `${topic}.${group.replaceAll('%', '%25').replaceAll('.', '%2E')}`;
}

/** Checks a topic name as RabbitMQ takes it (a routing key). @throws {InvalidConfigError} */
export function checkTopic(topic: string, operation: string): void {
  if (Buffer.byteLength(topic) > MAX_NAME_BYTES) {
    throw new InvalidConfigError(`the topic name takes ${Buffer.byteLength(topic)} bytes, over RabbitMQ's 255`, {
      broker: 'rabbitmq',
      operation,
      hint: 'Use a topic name of at most 255 bytes (UTF-8): it is the routing key.',
    });
  }
}

/** Checks the queue name of a group before declaring it. @throws {InvalidConfigError} */
export function checkQueueName(topic: string, group: string): string {
  checkTopic(topic, 'subscribe');
  const queue = queueName(topic, group);
  const bytes = Buffer.byteLength(queue);
  if (bytes > MAX_NAME_BYTES) {
    throw new InvalidConfigError(`the queue name for topic + group takes ${bytes} bytes, over RabbitMQ's 255`, {
      broker: 'rabbitmq',
      operation: 'subscribe',
      hint: 'The queue is named <topic>.<group>: shorten the topic or the group name.',
    });
  }
  if (queue.startsWith('amq.')) {
    throw new InvalidConfigError(`the queue name "${queue}" starts with "amq.", which RabbitMQ reserves`, {
      broker: 'rabbitmq',
      operation: 'subscribe',
      hint: 'Use a topic name that does not start with "amq".',
    });
  }
  return queue;
}

/** Checks the exchange name from the URL or config. @throws {InvalidConfigError} */
export function checkExchangeName(exchange: string): void {
  if (exchange === '' || Buffer.byteLength(exchange) > MAX_NAME_BYTES) {
    throw new InvalidConfigError('the exchange name must be 1 to 255 bytes long', {
      broker: 'rabbitmq',
      operation: 'connect',
      hint: 'Set ?exchange=<name> in the URL, or leave it out for the default "polybus".',
    });
  }
}

/** What the queues polybus declares look like. */
export interface QueueSettings {
  queueType: RabbitMqQueueType;
  deliveryLimit: number;
  singleActiveConsumer: boolean;
}

/** The `x-…` arguments of a group's queue. */
export function queueArguments(settings: QueueSettings): Record<string, string | number | boolean> {
  const args: Record<string, string | number | boolean> = {};
  if (settings.queueType === 'quorum') {
    args['x-queue-type'] = 'quorum';
    args['x-delivery-limit'] = settings.deliveryLimit;
  }
  if (settings.singleActiveConsumer) args['x-single-active-consumer'] = true;
  return args;
}

/** Options of {@link Topology}. */
export interface TopologyOptions extends QueueSettings {
  exchange: string;
  vhost: string;
  autoDeclare: boolean;
}

/**
 * Declares (or, with autoDeclare off, checks) the exchange and the queues of one connection, and
 * remembers them so that {@link Topology.restore} declares them again after a reconnect (a broker
 * restart keeps durable ones, but a new node or a deleted queue would not).
 */
export class Topology {
  readonly #options: TopologyOptions;
  /** Queues declared so far, with the topic each is bound to. */
  readonly #queues = new Map<string, string>();

  constructor(options: TopologyOptions) {
    checkExchangeName(options.exchange);
    this.#options = options;
  }

  get exchange(): string {
    return this.#options.exchange;
  }

  /** Declares (or checks) the exchange. */
  async declareExchange(model: ChannelModel): Promise<void> {
    const { exchange, vhost, autoDeclare } = this.#options;
    // Names starting with amq. are the broker's own: they exist and may not be declared.
    if (!autoDeclare || exchange.startsWith('amq.')) {
      await withChannel(model, (channel) => channel.checkExchange(exchange)).catch((error: unknown) => {
        if (amqpCode(error) === 404) throw new ExchangeNotFoundError(exchange, vhost, error);
        throw toBrokerError('check exchange', error);
      });
      return;
    }
    await withChannel(model, (channel) => channel.assertExchange(exchange, 'direct', { durable: true })).catch(
      (error: unknown) => {
        throw toBrokerError(`declare exchange "${exchange}"`, error);
      },
    );
  }

  /** Declares (or checks) a group's queue and its binding; returns the queue name. */
  async declareQueue(model: ChannelModel, topic: string, group: string): Promise<string> {
    const queue = checkQueueName(topic, group);
    await this.#declare(model, queue, topic);
    this.#queues.set(queue, topic);
    return queue;
  }

  /** Declares the exchange and every queue again (after a reconnect). */
  async restore(model: ChannelModel): Promise<void> {
    await this.declareExchange(model);
    for (const [queue, topic] of this.#queues) await this.#declare(model, queue, topic);
  }

  async #declare(model: ChannelModel, queue: string, topic: string): Promise<void> {
    const { exchange, vhost, autoDeclare } = this.#options;
    if (!autoDeclare) {
      await withChannel(model, (channel) => channel.checkQueue(queue)).catch((error: unknown) => {
        if (amqpCode(error) === 404) throw new QueueNotFoundError(queue, vhost, error);
        throw toBrokerError(`check queue "${queue}"`, error);
      });
      return;
    }
    await withChannel(model, async (channel) => {
      await channel.assertQueue(queue, { durable: true, arguments: queueArguments(this.#options) });
      await channel.bindQueue(queue, exchange, topic);
    }).catch((error: unknown) => {
      throw toBrokerError(`declare queue "${queue}"`, error);
    });
  }
}

/**
 * Runs `work` on a channel of its own and closes it: a failed declaration closes its channel, so
 * it must not be one that anything else uses.
 */
export async function withChannel<T>(model: ChannelModel, work: (channel: Channel) => Promise<T>): Promise<T> {
  const channel = await model.createChannel();
  let closed = false;
  channel.on('error', () => {
    // The failure also rejects the operation that caused it; that is where it is reported.
  });
  channel.on('close', () => {
    closed = true;
  });
  try {
    return await work(channel);
  } finally {
    if (!closed) await channel.close().catch(() => {});
  }
}
