/** How kafkajs errors become polybus errors: which are worth retrying, and what to tell the user. */
import { BrokerError, PolybusError } from '../../src/errors.js';

/** Kafka protocol error types that retrying the same request will not fix. */
const PERMANENT = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REQUIRED_ACKS',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

const AUTH = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);

interface KafkajsErrorShape {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown;
}

/** The Kafka protocol error type (`REBALANCE_IN_PROGRESS`, …) inside a kafkajs error or its causes. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const shape = current as KafkajsErrorShape;
    if (typeof shape.type === 'string') return shape.type;
    if (Array.isArray(shape.errors)) {
      for (const inner of shape.errors) {
        const type = kafkaErrorType(inner);
        if (type !== undefined) return type;
      }
    }
    current = shape.cause ?? shape.originalError;
  }
  return undefined;
}

/** Whether any error in the chain has this kafkajs class name. */
export function hasErrorName(error: unknown, name: string): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const shape = current as KafkajsErrorShape;
    if (shape.name === name) return true;
    current = shape.cause ?? shape.originalError;
  }
  return false;
}

/** Whether retrying may succeed: connection trouble, leader moves, timeouts yes; size, auth, bad config no. */
export function isRetriableKafkaError(error: unknown): boolean {
  if (error instanceof PolybusError) return error.retryable;
  if (hasErrorName(error, 'KafkaJSSASLAuthenticationError')) return false;
  const type = kafkaErrorType(error);
  return type === undefined || !PERMANENT.has(type);
}

/** The group moved on without this member (rebalance under way, or the member was dropped). */
export function isRebalanceError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type === 'REBALANCE_IN_PROGRESS' || type === 'ILLEGAL_GENERATION' || type === 'NOT_COORDINATOR_FOR_GROUP';
}

/** The coordinator no longer knows this member: it was removed from the group. */
export function isMemberGoneError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type === 'UNKNOWN_MEMBER_ID' || type === 'FENCED_INSTANCE_ID';
}

/** A polybus {@link BrokerError} for a failed kafkajs operation, with advice that fits the failure. */
export function toBrokerError(operation: string, error: unknown, hint?: string): BrokerError {
  if (error instanceof BrokerError) return error;
  const retryable = isRetriableKafkaError(error);
  return new BrokerError('kafka', operation, error, hint ?? adviceFor(error, retryable), retryable);
}

function adviceFor(error: unknown, retryable: boolean): string {
  const type = kafkaErrorType(error);
  if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') {
    return "The broker's message.max.bytes (or the topic's max.message.bytes) is below polybus's maxMessageBytes: lower maxMessageBytes to match the broker, or raise the broker's limit.";
  }
  if ((type !== undefined && AUTH.has(type)) || hasErrorName(error, 'KafkaJSSASLAuthenticationError')) {
    return 'Check the sasl mechanism, username and password in the URL, and the ACLs for this topic and group.';
  }
  if (type === 'INVALID_REPLICATION_FACTOR' || type === 'INVALID_PARTITIONS') {
    return 'Set partitions and replicationFactor the cluster can satisfy (replicationFactor at most the number of brokers); -1 (broker default) needs Kafka 2.4 or later.';
  }
  if (type === 'POLICY_VIOLATION' || type === 'TOPIC_AUTHORIZATION_FAILED') {
    return 'The cluster does not let this client create the topic: create it yourself and set autoCreateTopics=false.';
  }
  if (retryable) {
    return 'Kafka did not answer in time or the connection dropped; polybus reconnects by itself and retrying is safe (at-least-once: the message may already be stored).';
  }
  return 'Retrying will not help; fix the request or the broker configuration.';
}
