import type { Adapter, Capabilities, SubscribeOptions, Subscription, TransportRecord } from '../../src/adapter.js';
import { ClosedError, InvalidConfigError } from '../../src/errors.js';
import type { Receipt } from '../../src/message.js';
import type { MemoryConfig } from '../../src/url.js';
import { MemoryBroker } from './broker.js';

export type { MemoryRawMessage } from './broker.js';

/** What memory:// offers: everything a persistent, ordered broker does, within one process. */
export const MEMORY_CAPABILITIES: Capabilities = Object.freeze({
  perKeyOrdering: true,
  persistent: true,
  replay: true,
  nativeDelay: true,
  nativeDeadLetter: false,
  maxMessageBytes: 4 * 1024 * 1024,
  maxBatch: 10_000,
});

const brokers = new Map<string, MemoryBroker>();

function brokerNamed(name: string, retention: number): MemoryBroker {
  let broker = brokers.get(name);
  if (broker === undefined) {
    broker = new MemoryBroker(name, retention);
    brokers.set(name, broker);
  }
  return broker;
}

/** Forgets every topic and group of one named in-memory broker (or all of them): for test isolation. */
export function resetMemoryBroker(name?: string): void {
  for (const [brokerName, broker] of brokers) {
    if (name === undefined || name === brokerName) {
      broker.dispose();
      brokers.delete(brokerName);
    }
  }
}

/** Number of messages stored per topic in the named in-memory broker. */
export function memoryTopicSizes(name = 'default'): Record<string, number> {
  return brokers.get(name)?.topicSizes() ?? {};
}

class MemoryAdapter implements Adapter {
  readonly broker = 'memory' as const;
  readonly capabilities = MEMORY_CAPABILITIES;
  readonly #name: string;
  readonly #retention: number;
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  constructor(config: MemoryConfig) {
    this.#name = config.name;
    this.#retention = config.retention;
  }

  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]> {
    if (this.#closed) return Promise.reject(new ClosedError('connection', 'publish', 'memory'));
    return Promise.resolve(brokerNamed(this.#name, this.#retention).publish(topic, records));
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('connection', 'subscribe', 'memory');
    const subscription = brokerNamed(this.#name, this.#retention).subscribe(options);
    this.#subscriptions.add(subscription);
    return {
      pause: () => subscription.pause(),
      resume: () => subscription.resume(),
      close: async () => {
        this.#subscriptions.delete(subscription);
        await subscription.close();
      },
    };
  }

  async health() {
    return { ok: !this.#closed, broker: this.broker, detail: `memory://${this.#name}` };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    this.#subscriptions.clear();
  }
}

/** Adapter factory for `memory://[name]`. */
export async function createAdapter(config: MemoryConfig): Promise<Adapter> {
  if (config.broker !== 'memory') {
    throw new InvalidConfigError(`the memory adapter got a ${config.broker} config`, {
      broker: 'memory',
      operation: 'connect',
      hint: 'Use a memory:// URL.',
    });
  }
  return new MemoryAdapter({ ...config, retention: config.retention ?? 1_000 });
}
