/**
 * Topics and subscriptions: Pub/Sub's naming rules (checked before any call), the subscription
 * naming scheme, and creating what is missing when `autoCreate` is on. Talks to Pub/Sub through
 * {@link TopologyClient}, so that it is tested without a broker.
 */
import { InvalidConfigError } from '../../src/errors.js';
import { TopicNotFoundError } from '../shared/errors.js';
import { GRPC, grpcCode, SubscriptionNotFoundError, toBrokerError } from './errors.js';

/** What the topology needs of the Pub/Sub admin API (the adapter wires it to `@google-cloud/pubsub`). */
export interface TopologyClient {
  /** Creates a topic; rejects with gRPC code ALREADY_EXISTS (6) when it exists. */
  createTopic(topic: string): Promise<unknown>;
  /** Creates a subscription with message ordering on; rejects with ALREADY_EXISTS (6) when it exists. */
  createSubscription(topic: string, subscription: string, ackDeadlineSeconds: number): Promise<unknown>;
  /** Reads a subscription; rejects with NOT_FOUND (5) when it does not exist. */
  subscriptionMetadata(subscription: string): Promise<SubscriptionFacts>;
}

/** What polybus checks of an existing subscription. */
export interface SubscriptionFacts {
  /** Full topic name, `projects/<project>/topics/<topic>` (`_deleted-topic_` once its topic is gone). */
  topic?: string | null;
  enableMessageOrdering?: boolean | null;
}

/** Options of {@link PubSubTopology}. */
export interface TopologyOptions {
  projectId: string;
  autoCreate: boolean;
  ackDeadlineSeconds: number;
  subscriptionPrefix: string;
}

/** What {@link PubSubTopology.ensureSubscription} found. */
export interface EnsuredSubscription {
  name: string;
  /**
   * False when an existing subscription was made without message ordering (keys may arrive out
   * of order); undefined when the credentials may not read it to check.
   */
  ordered: boolean | undefined;
}

const NAME = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/**
 * The reason a topic or subscription name breaks Pub/Sub's rules (3–255 characters, starting
 * with a letter, only letters, digits and `-_.~+%`, not starting with `goog`), or undefined.
 */
export function nameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'is not a string';
  if (name.length < 3 || name.length > 255) return `has ${name.length} characters (Pub/Sub allows 3 to 255)`;
  if (!/^[A-Za-z]/.test(name)) return 'does not start with a letter';
  if (!NAME.test(name)) return 'holds characters other than letters, digits, "-", "_", ".", "~", "+" and "%"';
  if (name.startsWith('goog')) return 'starts with "goog" (reserved by Google)';
  return undefined;
}

/** Checks a topic name against Pub/Sub's rules before any call. @throws {InvalidConfigError} */
export function checkTopicName(topic: string, operation: string): void {
  const problem = nameProblem(topic);
  if (problem === undefined) return;
  throw new InvalidConfigError(`the topic name ${quoteName(topic)} ${problem}`, {
    broker: 'pubsub',
    operation,
    hint: 'Pub/Sub topic names are 3-255 characters, start with a letter and use letters, digits and "-_.~+%"; e.g. "orders" or "orders.v2".',
  });
}

/**
 * The subscription of a consumer group: `<subscriptionPrefix><topic>.<group>`, checked against
 * Pub/Sub's rules before any call.
 * @throws {InvalidConfigError} naming the subscription and what is wrong with it.
 */
export function subscriptionName(prefix: string, topic: string, group: string, operation = 'subscribe'): string {
  const name = `${prefix}${topic}.${group}`;
  const problem = nameProblem(name);
  if (problem === undefined) return name;
  throw new InvalidConfigError(
    `the subscription name ${quoteName(name)} (<subscriptionPrefix><topic>.<group>) ${problem}`,
    {
      broker: 'pubsub',
      operation,
      hint: 'Use a group name of letters, digits and "-_.~+%" short enough for the topic (e.g. "billing"), or change subscriptionPrefix.',
    },
  );
}

/** Short topic name from a full one (`projects/p/topics/t` → `t`). */
export function shortTopicName(fullName: string): string {
  const slash = fullName.lastIndexOf('/');
  return slash < 0 ? fullName : fullName.slice(slash + 1);
}

/**
 * Creates topics and subscriptions on first use (once per adapter, remembered), or with
 * `autoCreate: false` checks that a subscription exists and says what to create.
 */
export class PubSubTopology {
  readonly #client: TopologyClient;
  readonly #options: TopologyOptions;
  readonly #topics = new Map<string, Promise<void>>();

  constructor(client: TopologyClient, options: TopologyOptions) {
    this.#client = client;
    this.#options = options;
  }

  get autoCreate(): boolean {
    return this.#options.autoCreate;
  }

  /**
   * Makes sure a topic exists: with autoCreate, creates it on first use (remembered until
   * {@link forget}); without, does nothing (a send to a missing topic fails with TopicNotFoundError).
   */
  ensureTopic(topic: string, operation: string): Promise<void> {
    if (!this.#options.autoCreate) return Promise.resolve();
    let ensured = this.#topics.get(topic);
    if (ensured === undefined) {
      ensured = this.#client.createTopic(topic).then(
        () => undefined,
        (error: unknown) => {
          if (grpcCode(error) === GRPC.ALREADY_EXISTS) return;
          this.#topics.delete(topic);
          throw error;
        },
      );
      this.#topics.set(topic, ensured);
    }
    // Callers share one creation; each failure is named after the caller's own operation.
    return ensured.catch((error: unknown) => {
      throw toBrokerError(`${operation}: create topic "${topic}"`, error);
    });
  }

  /** Forgets that a topic was made (it was deleted, or the emulator restarted): the next use creates it again. */
  forget(topic: string): void {
    this.#topics.delete(topic);
  }

  /**
   * Makes sure the subscription of a group exists and belongs to the topic. With autoCreate it
   * creates the topic and the subscription (message ordering on, the configured ack deadline).
   * @throws {SubscriptionNotFoundError} without autoCreate, when the subscription is missing.
   * @throws {InvalidConfigError} when the subscription exists for another topic.
   */
  async ensureSubscription(topic: string, group: string, operation = 'subscribe'): Promise<EnsuredSubscription> {
    checkTopicName(topic, operation);
    const name = subscriptionName(this.#options.subscriptionPrefix, topic, group, operation);
    if (this.#options.autoCreate) {
      await this.ensureTopic(topic, operation);
      try {
        await this.#client.createSubscription(topic, name, this.#options.ackDeadlineSeconds);
        return { name, ordered: true };
      } catch (error) {
        const code = grpcCode(error);
        if (code === GRPC.NOT_FOUND) {
          // The topic went away after it was remembered (deleted, or the emulator restarted).
          this.forget(topic);
          await this.ensureTopic(topic, operation);
          try {
            await this.#client.createSubscription(topic, name, this.#options.ackDeadlineSeconds);
            return { name, ordered: true };
          } catch (again) {
            if (grpcCode(again) !== GRPC.ALREADY_EXISTS)
              throw toBrokerError(`${operation}: create subscription "${name}"`, again);
          }
        } else if (code !== GRPC.ALREADY_EXISTS) {
          throw toBrokerError(`${operation}: create subscription "${name}"`, error);
        }
      }
    }
    let facts: SubscriptionFacts;
    try {
      facts = await this.#client.subscriptionMetadata(name);
    } catch (error) {
      const code = grpcCode(error);
      if (code === GRPC.NOT_FOUND) throw new SubscriptionNotFoundError(name, topic, operation);
      // Reading a subscription needs pubsub.subscriptions.get (roles/pubsub.viewer), which a
      // subscriber-only account may lack: consume without the check (a missing one then fails
      // on the stream, reported through onError).
      if (code === GRPC.PERMISSION_DENIED) return { name, ordered: undefined };
      throw toBrokerError(`${operation}: read subscription "${name}"`, error);
    }
    const owner = facts.topic ?? '';
    if (owner !== '' && shortTopicName(owner) !== topic) {
      throw new InvalidConfigError(
        `the subscription "${name}" exists for topic "${shortTopicName(owner)}", not "${topic}"`,
        {
          broker: 'pubsub',
          operation,
          hint: 'Another topic and group map to the same <topic>.<group> name: choose another group name or subscriptionPrefix.',
        },
      );
    }
    return { name, ordered: facts.enableMessageOrdering === true };
  }
}

/** The TopicNotFoundError of a send to a missing topic with autoCreate off. */
export function topicNotFound(topic: string, operation: string): TopicNotFoundError {
  return new TopicNotFoundError(
    'pubsub',
    topic,
    operation,
    `Create it (gcloud pubsub topics create ${topic}) or set autoCreate=true.`,
  );
}

function quoteName(name: string): string {
  return typeof name === 'string' ? `"${name.length > 80 ? `${name.slice(0, 80)}…` : name}"` : String(name);
}
