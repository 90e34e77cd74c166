import { BrokerError, type BrokerName } from '../../src/errors.js';

/**
 * A topic (Kafka topic, Kinesis stream, …) does not exist and the adapter was told not to create
 * it. Not retryable: create the topic, or let the adapter create it.
 */
export class TopicNotFoundError extends BrokerError {
  /** The missing topic's name. */
  readonly topic: string;
  constructor(broker: BrokerName, topic: string, operation: string, hint: string) {
    super(broker, operation, new Error(`topic "${topic}" does not exist`), hint, false);
    this.topic = topic;
  }
}
