/**
 * What exists on the cluster: topics (created on first use unless turned off), their partitions
 * for the partitioner, and the starting offsets of new consumer groups.
 */
import type { Admin, PartitionMetadata } from 'kafkajs';
import { InvalidConfigError } from '../../src/errors.js';
import { retrying } from '../shared/backoff.js';
import { TopicNotFoundError } from '../shared/errors.js';
import { isRetriableKafkaError, kafkaErrorType, toBrokerError } from './errors.js';

/** What {@link KafkaTopology} needs to know. */
export interface TopologyOptions {
  autoCreateTopics: boolean;
  /** Partitions of created topics; -1: the broker's default. */
  partitions: number;
  /** Replication factor of created topics; -1: the broker's default. */
  replicationFactor: number;
  /** How long partition metadata is trusted before it is read again (default 5 minutes, like kafkajs). */
  metadataMaxAgeMs?: number;
}

/** Kafka's rule for topic names (legal characters, at most 249 of them, not `.` or `..`). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Throws an InvalidConfigError if Kafka would reject this topic name. */
export function checkTopicName(topic: string, operation: string): void {
  if (typeof topic === 'string' && TOPIC_NAME.test(topic) && topic !== '.' && topic !== '..') return;
  const shown = typeof topic === 'string' ? `"${topic.length > 60 ? `${topic.slice(0, 60)}…` : topic}"` : typeof topic;
  throw new InvalidConfigError(`${shown} is not a valid Kafka topic name`, {
    broker: 'kafka',
    operation,
    hint: 'Kafka topic names use only letters, digits, ".", "_" and "-", up to 249 characters (e.g. orders.dlq).',
  });
}

interface CachedTopic {
  partitions: PartitionMetadata[];
  readAt: number;
}

const ADMIN_RETRY = {
  attempts: 8,
  initialMs: 200,
  maxMs: 2_000,
  deadlineMs: 30_000,
  isRetryable: isRetriableKafkaError,
};

/** Topics and group offsets, through one kafkajs admin client. */
export class KafkaTopology {
  readonly #admin: () => Promise<Admin>;
  readonly #options: TopologyOptions;
  readonly #maxAge: number;
  readonly #topics = new Map<string, CachedTopic>();
  readonly #loading = new Map<string, Promise<PartitionMetadata[]>>();

  constructor(admin: () => Promise<Admin>, options: TopologyOptions) {
    this.#admin = admin;
    this.#options = options;
    this.#maxAge = options.metadataMaxAgeMs ?? 300_000;
  }

  /**
   * The partitions of a topic, creating the topic first if it is missing and creation is on.
   * @throws {TopicNotFoundError} when it is missing and autoCreateTopics is false.
   */
  partitions(topic: string, operation: string): Promise<PartitionMetadata[]> {
    const cached = this.#topics.get(topic);
    if (cached !== undefined && Date.now() - cached.readAt < this.#maxAge) return Promise.resolve(cached.partitions);
    let loading = this.#loading.get(topic);
    if (loading === undefined) {
      checkTopicName(topic, operation);
      loading = this.#load(topic, operation).finally(() => this.#loading.delete(topic));
      this.#loading.set(topic, loading);
    }
    // Stale metadata still places keys right (partitions are only ever added); use it while reloading.
    if (cached !== undefined) {
      loading.catch(() => {});
      return Promise.resolve(cached.partitions);
    }
    return loading;
  }

  /** Forgets what is known about a topic (after the broker said it moved or vanished). */
  forget(topic: string): void {
    this.#topics.delete(topic);
  }

  async #load(topic: string, operation: string): Promise<PartitionMetadata[]> {
    const admin = await this.#admin();
    let partitions = await this.#read(admin, topic, operation);
    if (partitions === undefined) {
      if (!this.#options.autoCreateTopics) {
        throw new TopicNotFoundError(
          'kafka',
          topic,
          operation,
          'Create the topic (kafka-topics.sh --create, or your infrastructure code), or leave autoCreateTopics on.',
        );
      }
      await this.#create(admin, topic, operation);
      partitions = await retrying(async () => {
        const found = await this.#read(admin, topic, operation);
        if (found === undefined || found.length === 0 || found.some((p) => p.leader < 0)) {
          throw Object.assign(new Error(`topic "${topic}" has no leaders yet`), { retriable: true });
        }
        return found;
      }, ADMIN_RETRY).catch((error: unknown) => {
        throw toBrokerError(operation, error);
      });
    }
    this.#topics.set(topic, { partitions, readAt: Date.now() });
    return partitions;
  }

  /** The topic's partitions, or undefined if it does not exist. */
  async #read(admin: Admin, topic: string, operation: string): Promise<PartitionMetadata[] | undefined> {
    try {
      return await retrying(
        async () => {
          const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
          const found = topics.find((t) => t.name === topic);
          return found?.partitions.slice().sort((a, b) => a.partitionId - b.partitionId);
        },
        {
          ...ADMIN_RETRY,
          isRetryable: (error) =>
            kafkaErrorType(error) !== 'UNKNOWN_TOPIC_OR_PARTITION' && isRetriableKafkaError(error),
        },
      );
    } catch (error) {
      if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined;
      throw toBrokerError(operation, error);
    }
  }

  async #create(admin: Admin, topic: string, operation: string): Promise<void> {
    try {
      await retrying(
        () =>
          admin.createTopics({
            topics: [
              {
                topic,
                numPartitions: this.#options.partitions,
                replicationFactor: this.#options.replicationFactor,
              },
            ],
            waitForLeaders: true,
            timeout: 30_000,
          }),
        ADMIN_RETRY,
      );
    } catch (error) {
      // Another client created it between our read and our create: fine.
      if (kafkaErrorType(error) === 'TOPIC_ALREADY_EXISTS') return;
      throw toBrokerError(`${operation}: create topic "${topic}"`, error);
    }
  }

  /**
   * The partitions of a topic on which a group has no committed offset, each with its current end
   * offset (high watermark). A new group starting at `latest` commits these ends once it has
   * joined: kafkajs would look the end up only at its first fetch, so messages sent between
   * subscribe() resolving and that fetch would be skipped.
   */
  async uncommittedEnds(group: string, topic: string, operation: string): Promise<Map<number, string>> {
    const admin = await this.#admin();
    try {
      return await retrying(async () => {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        const missing = (committed?.partitions ?? []).filter((p) => p.offset === '-1').map((p) => p.partition);
        const ends = new Map<number, string>();
        if (missing.length === 0) return ends;
        const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
        for (const partition of missing) ends.set(partition, high.get(partition) ?? '0');
        return ends;
      }, ADMIN_RETRY);
    } catch (error) {
      throw toBrokerError(operation, error);
    }
  }
}
