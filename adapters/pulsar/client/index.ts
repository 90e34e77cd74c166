/**
 * A Pulsar client over the binary protocol, in TypeScript with no native addon: producers with
 * keys, properties, per-key batching, compression and partition routing; consumers with
 * Exclusive, Shared, Failover and Key_Shared subscriptions, flow control, individual and
 * negative acknowledgements; token authentication and TLS; reconnects by itself.
 *
 * @example
 * const client = new PulsarClient({ serviceUrl: 'pulsar://localhost:6650' });
 * const producer = await client.createProducer({ topic: 'orders' });
 * const id = await producer.send({ payload: Buffer.from('hi'), key: 'order-1' });
 */
export type { BatchingOptions } from './batch.js';
export { CLIENT_VERSION, PulsarClient, type PulsarClientOptions } from './client.js';
export type { CompressionName } from './compression.js';
export { type AuthProvider, type PulsarTlsOptions, tokenAuth } from './connection.js';
export { Consumer, type ConsumerOptions, type SubscriptionType } from './consumer.js';
export type { PulsarLogger } from './context.js';
export {
  PulsarAuthenticationError,
  PulsarChecksumError,
  PulsarClientError,
  PulsarClosedError,
  PulsarCompressionError,
  PulsarConfigError,
  PulsarConnectionError,
  PulsarMessageTooLargeError,
  PulsarProtocolError,
  PulsarServerError,
  PulsarTimeoutError,
  PulsarTlsError,
  PulsarTopicTerminatedError,
  type ServerErrorCode,
} from './errors.js';
export { javaStringHash, partitionForKey } from './hash.js';
export { type Message, MessageId, type OutgoingMessage } from './message.js';
export { Producer, type ProducerOptions } from './producer.js';
export { fullTopicName, partitionTopicName } from './topic.js';
