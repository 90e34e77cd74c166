/**
 * Publishing: one producer per topic, made on first use and shared by every send. Each record
 * becomes one Pulsar message: key → message key (routes to a partition and, on Key_Shared, to a
 * consumer), headers → properties, timestamp → event time. Receipts carry the message id that
 * the consumer later sees as `message.id`.
 */
import type { TransportRecord } from '../../src/adapter.js';
import type { Receipt } from '../../src/message.js';
import { closedError, toPolybusError } from './errors.js';
import type { PulsarTopology } from './topology.js';
import type { PulsarTransport, TransportProducer } from './transport.js';

/** The partition in a message id string (`ledger:entry:partition:batchIndex`), or undefined when not partitioned. */
export function partitionOf(id: string): number | undefined {
  const first = id.indexOf(':');
  const second = id.indexOf(':', first + 1);
  const third = id.indexOf(':', second + 1);
  const partition = Number(id.slice(second + 1, third));
  return Number.isInteger(partition) && partition >= 0 ? partition : undefined;
}

export class PulsarPublisher {
  readonly #transport: PulsarTransport;
  readonly #topology: PulsarTopology;
  readonly #producers = new Map<string, Promise<TransportProducer>>();
  #closed = false;

  constructor(transport: PulsarTransport, topology: PulsarTopology) {
    this.#transport = transport;
    this.#topology = topology;
  }

  async publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) throw closedError('send');
    const producer = await this.#producer(topic);
    const sends = new Array<Promise<string>>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as TransportRecord;
      sends[i] = producer.send({
        key: record.key,
        payload: record.value,
        properties: record.headers,
        eventTime: record.timestamp,
      });
    }
    let ids: string[];
    try {
      ids = await Promise.all(sends);
    } catch (error) {
      // Every send settles (sends time out): no rejection is left unobserved.
      await Promise.allSettled(sends);
      throw toPolybusError('send', error);
    }
    const receipts = new Array<Receipt>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const partition = partitionOf(id);
      receipts[i] = partition === undefined ? { id, topic } : { id, topic, partition };
    }
    return receipts;
  }

  #producer(topic: string): Promise<TransportProducer> {
    let producer = this.#producers.get(topic);
    if (producer === undefined) {
      producer = this.#create(topic);
      this.#producers.set(topic, producer);
      // A failed creation (broker down, bad name) is tried again on the next send.
      producer.catch(() => {
        if (this.#producers.get(topic) === producer) this.#producers.delete(topic);
      });
    }
    return producer;
  }

  async #create(topic: string): Promise<TransportProducer> {
    const full = this.#topology.topicName(topic, 'send');
    await this.#topology.ensure(topic, 'send');
    try {
      return await this.#transport.createProducer(full);
    } catch (error) {
      throw toPolybusError('create producer', error);
    }
  }

  /** Waits for sends in progress (bounded by the send timeout), then closes every producer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const producers = await Promise.allSettled(this.#producers.values());
    this.#producers.clear();
    await Promise.allSettled(
      producers.map((result) => (result.status === 'fulfilled' ? result.value.close() : undefined)),
    );
  }
}
