export type {
  Adapter,
  AdapterFactory,
  Capabilities,
  Delivery,
  HealthStatus,
  StartFrom,
  SubscribeOptions,
  Subscription,
  TransportRecord,
} from './adapter.js';
export { type Broker, type ConnectOptions, connect } from './broker.js';
export * from './codecs/index.js';
export type { Consumer, ConsumerOptions, ConsumerStats, FailureOutcome, Handler } from './consumer.js';
export { consumerErrorChannel, hookErrorChannel } from './consumer.js';
export {
  AdapterNotInstalledError,
  BrokerError,
  type BrokerName,
  ClosedError,
  DecodeError,
  DeliveryLimitError,
  EncodeError,
  InvalidConfigError,
  InvalidUrlError,
  isRetryable,
  MessageTooLargeError,
  PeerDependencyMissingError,
  PolybusError,
  type PolybusErrorCode,
  type PolybusErrorOptions,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from './errors.js';
export type { Headers, Message, OutgoingMessage, Receipt } from './message.js';
export { DEAD_LETTER_HEADERS, type DeadLetterOptions, deadLetter } from './middleware/dead-letter.js';
export { backoffDelay, type RetryOptions, retry } from './middleware/retry.js';
export { type TracingOptions, tracing } from './middleware/tracing.js';
export { type StandardSchemaV1, type StandardSchemaV1Result, validate } from './middleware/validate.js';
export type {
  ConsumeContext,
  ConsumerInfo,
  ConsumeStage,
  ConsumeStep,
  Handle,
  Middleware,
  MiddlewareInput,
  Next,
  PublishContext,
  PublishStage,
  PublishStep,
} from './pipeline.js';
export type { Producer, ProducerOptions } from './producer.js';
export { Secret } from './secret.js';
export {
  type BrokerConfig,
  type KafkaConfig,
  type KinesisConfig,
  type MemoryConfig,
  type PubSubConfig,
  type PulsarConfig,
  parseBrokerUrl,
  type RabbitMqConfig,
  redactUrl,
  URL_FORMS,
} from './url.js';
