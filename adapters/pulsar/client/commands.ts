/**
 * Our own definitions of the Pulsar protocol messages this client uses (field numbers and enum
 * values from the protocol definition, `PulsarApi.proto`, Pulsar 4.0). Only the fields we read
 * or write are listed; unknown fields are skipped when decoding.
 */
import { defineMessage, type MessageType } from './protobuf.js';

/** `BaseCommand.Type`. */
export const CommandType = {
  CONNECT: 2,
  CONNECTED: 3,
  SUBSCRIBE: 4,
  PRODUCER: 5,
  SEND: 6,
  SEND_RECEIPT: 7,
  SEND_ERROR: 8,
  MESSAGE: 9,
  ACK: 10,
  FLOW: 11,
  UNSUBSCRIBE: 12,
  SUCCESS: 13,
  ERROR: 14,
  CLOSE_PRODUCER: 15,
  CLOSE_CONSUMER: 16,
  PRODUCER_SUCCESS: 17,
  PING: 18,
  PONG: 19,
  REDELIVER_UNACKNOWLEDGED_MESSAGES: 20,
  PARTITIONED_METADATA: 21,
  PARTITIONED_METADATA_RESPONSE: 22,
  LOOKUP: 23,
  LOOKUP_RESPONSE: 24,
  REACHED_END_OF_TOPIC: 27,
  SEEK: 28,
  GET_LAST_MESSAGE_ID: 29,
  GET_LAST_MESSAGE_ID_RESPONSE: 30,
  ACTIVE_CONSUMER_CHANGE: 31,
  AUTH_CHALLENGE: 36,
  AUTH_RESPONSE: 37,
  ACK_RESPONSE: 38,
  TOPIC_MIGRATED: 68,
} as const;

/** `CommandSubscribe.SubType`. */
export const SubType = { Exclusive: 0, Shared: 1, Failover: 2, Key_Shared: 3 } as const;
/** `CommandSubscribe.InitialPosition`. */
export const InitialPosition = { Latest: 0, Earliest: 1 } as const;
/** `CompressionType`. */
export const CompressionType = { NONE: 0, LZ4: 1, ZLIB: 2, ZSTD: 3, SNAPPY: 4 } as const;
/** `CommandLookupTopicResponse.LookupType`. */
export const LookupType = { Redirect: 0, Connect: 1, Failed: 2 } as const;
/** `CommandPartitionedTopicMetadataResponse.LookupType`. */
export const PartitionedLookupType = { Success: 0, Failed: 1 } as const;
/** `KeySharedMode`. */
export const KeySharedMode = { AUTO_SPLIT: 0, STICKY: 1 } as const;
/** `CommandAck.AckType`. */
export const AckType = { Individual: 0, Cumulative: 1 } as const;
/** The protocol version this client speaks. */
export const PROTOCOL_VERSION = 20;

export interface KeyValue {
  key: string;
  value: string;
}
export const KeyValue = defineMessage<KeyValue>('KeyValue', [
  { name: 'key', no: 1, kind: 'string', required: true },
  { name: 'value', no: 2, kind: 'string', required: true },
]);

export interface MessageIdData {
  ledgerId: number;
  entryId: number;
  partition?: number;
  batchIndex?: number;
  ackSet?: bigint[];
  batchSize?: number;
}
export const MessageIdData = defineMessage<MessageIdData>('MessageIdData', [
  { name: 'ledgerId', no: 1, kind: 'int64', required: true },
  { name: 'entryId', no: 2, kind: 'int64', required: true },
  { name: 'partition', no: 3, kind: 'int32' },
  { name: 'batchIndex', no: 4, kind: 'int32' },
  { name: 'ackSet', no: 5, kind: 'uint64big', repeated: true },
  { name: 'batchSize', no: 6, kind: 'int32' },
]);

export interface FeatureFlags {
  supportsAuthRefresh?: boolean;
  supportsBrokerEntryMetadata?: boolean;
  supportsPartialProducer?: boolean;
  supportsTopicWatchers?: boolean;
}
export const FeatureFlags = defineMessage<FeatureFlags>('FeatureFlags', [
  { name: 'supportsAuthRefresh', no: 1, kind: 'bool' },
  { name: 'supportsBrokerEntryMetadata', no: 2, kind: 'bool' },
  { name: 'supportsPartialProducer', no: 3, kind: 'bool' },
  { name: 'supportsTopicWatchers', no: 4, kind: 'bool' },
]);

export interface CommandConnect {
  clientVersion: string;
  authData?: Uint8Array;
  protocolVersion?: number;
  authMethodName?: string;
  proxyToBrokerUrl?: string;
  featureFlags?: FeatureFlags;
}
export const CommandConnect = defineMessage<CommandConnect>('CommandConnect', [
  { name: 'clientVersion', no: 1, kind: 'string', required: true },
  { name: 'authData', no: 3, kind: 'bytes' },
  { name: 'protocolVersion', no: 4, kind: 'int32' },
  { name: 'authMethodName', no: 5, kind: 'string' },
  { name: 'proxyToBrokerUrl', no: 6, kind: 'string' },
  { name: 'featureFlags', no: 10, kind: 'message', type: FeatureFlags },
]);

export interface CommandConnected {
  serverVersion: string;
  protocolVersion?: number;
  maxMessageSize?: number;
  featureFlags?: FeatureFlags;
}
export const CommandConnected = defineMessage<CommandConnected>('CommandConnected', [
  { name: 'serverVersion', no: 1, kind: 'string', required: true },
  { name: 'protocolVersion', no: 2, kind: 'int32' },
  { name: 'maxMessageSize', no: 3, kind: 'int32' },
  { name: 'featureFlags', no: 4, kind: 'message', type: FeatureFlags },
]);

export interface AuthData {
  authMethodName?: string;
  authData?: Uint8Array;
}
export const AuthData = defineMessage<AuthData>('AuthData', [
  { name: 'authMethodName', no: 1, kind: 'string' },
  { name: 'authData', no: 2, kind: 'bytes' },
]);

export interface CommandAuthChallenge {
  serverVersion?: string;
  challenge?: AuthData;
  protocolVersion?: number;
}
export const CommandAuthChallenge = defineMessage<CommandAuthChallenge>('CommandAuthChallenge', [
  { name: 'serverVersion', no: 1, kind: 'string' },
  { name: 'challenge', no: 2, kind: 'message', type: AuthData },
  { name: 'protocolVersion', no: 3, kind: 'int32' },
]);

export interface CommandAuthResponse {
  clientVersion?: string;
  response?: AuthData;
  protocolVersion?: number;
}
export const CommandAuthResponse = defineMessage<CommandAuthResponse>('CommandAuthResponse', [
  { name: 'clientVersion', no: 1, kind: 'string' },
  { name: 'response', no: 2, kind: 'message', type: AuthData },
  { name: 'protocolVersion', no: 3, kind: 'int32' },
]);

export interface IntRange {
  start: number;
  end: number;
}
export const IntRange = defineMessage<IntRange>('IntRange', [
  { name: 'start', no: 1, kind: 'int32', required: true },
  { name: 'end', no: 2, kind: 'int32', required: true },
]);

export interface KeySharedMeta {
  keySharedMode: number;
  hashRanges?: IntRange[];
  allowOutOfOrderDelivery?: boolean;
}
export const KeySharedMeta = defineMessage<KeySharedMeta>('KeySharedMeta', [
  { name: 'keySharedMode', no: 1, kind: 'int32', required: true },
  { name: 'hashRanges', no: 3, kind: 'message', type: IntRange, repeated: true },
  { name: 'allowOutOfOrderDelivery', no: 4, kind: 'bool' },
]);

export interface CommandSubscribe {
  topic: string;
  subscription: string;
  subType: number;
  consumerId: number;
  requestId: number;
  consumerName?: string;
  priorityLevel?: number;
  durable?: boolean;
  startMessageId?: MessageIdData;
  metadata?: KeyValue[];
  readCompacted?: boolean;
  initialPosition?: number;
  forceTopicCreation?: boolean;
  keySharedMeta?: KeySharedMeta;
  consumerEpoch?: number;
}
export const CommandSubscribe = defineMessage<CommandSubscribe>('CommandSubscribe', [
  { name: 'topic', no: 1, kind: 'string', required: true },
  { name: 'subscription', no: 2, kind: 'string', required: true },
  { name: 'subType', no: 3, kind: 'int32', required: true },
  { name: 'consumerId', no: 4, kind: 'int64', required: true },
  { name: 'requestId', no: 5, kind: 'int64', required: true },
  { name: 'consumerName', no: 6, kind: 'string' },
  { name: 'priorityLevel', no: 7, kind: 'int32' },
  { name: 'durable', no: 8, kind: 'bool' },
  { name: 'startMessageId', no: 9, kind: 'message', type: MessageIdData },
  { name: 'metadata', no: 10, kind: 'message', type: KeyValue, repeated: true },
  { name: 'readCompacted', no: 11, kind: 'bool' },
  { name: 'initialPosition', no: 13, kind: 'int32' },
  { name: 'forceTopicCreation', no: 15, kind: 'bool' },
  { name: 'keySharedMeta', no: 17, kind: 'message', type: KeySharedMeta },
  { name: 'consumerEpoch', no: 19, kind: 'int64' },
]);

export interface CommandProducer {
  topic: string;
  producerId: number;
  requestId: number;
  producerName?: string;
  metadata?: KeyValue[];
  epoch?: number;
  userProvidedProducerName?: boolean;
  producerAccessMode?: number;
}
export const CommandProducer = defineMessage<CommandProducer>('CommandProducer', [
  { name: 'topic', no: 1, kind: 'string', required: true },
  { name: 'producerId', no: 2, kind: 'int64', required: true },
  { name: 'requestId', no: 3, kind: 'int64', required: true },
  { name: 'producerName', no: 4, kind: 'string' },
  { name: 'metadata', no: 6, kind: 'message', type: KeyValue, repeated: true },
  { name: 'epoch', no: 8, kind: 'int64' },
  { name: 'userProvidedProducerName', no: 9, kind: 'bool' },
  { name: 'producerAccessMode', no: 10, kind: 'int32' },
]);

export interface CommandSend {
  producerId: number;
  sequenceId: number;
  numMessages?: number;
  highestSequenceId?: number;
}
export const CommandSend = defineMessage<CommandSend>('CommandSend', [
  { name: 'producerId', no: 1, kind: 'int64', required: true },
  { name: 'sequenceId', no: 2, kind: 'int64', required: true },
  { name: 'numMessages', no: 3, kind: 'int32' },
  { name: 'highestSequenceId', no: 6, kind: 'int64' },
]);

export interface CommandSendReceipt {
  producerId: number;
  sequenceId: number;
  messageId?: MessageIdData;
  highestSequenceId?: number;
}
export const CommandSendReceipt = defineMessage<CommandSendReceipt>('CommandSendReceipt', [
  { name: 'producerId', no: 1, kind: 'int64', required: true },
  { name: 'sequenceId', no: 2, kind: 'int64', required: true },
  { name: 'messageId', no: 3, kind: 'message', type: MessageIdData },
  { name: 'highestSequenceId', no: 4, kind: 'int64' },
]);

export interface CommandSendError {
  producerId: number;
  sequenceId: number;
  error: number;
  message: string;
}
export const CommandSendError = defineMessage<CommandSendError>('CommandSendError', [
  { name: 'producerId', no: 1, kind: 'int64', required: true },
  { name: 'sequenceId', no: 2, kind: 'int64', required: true },
  { name: 'error', no: 3, kind: 'int32', required: true },
  { name: 'message', no: 4, kind: 'string', required: true },
]);

export interface CommandMessage {
  consumerId: number;
  messageId: MessageIdData;
  redeliveryCount?: number;
  ackSet?: bigint[];
  consumerEpoch?: number;
}
export const CommandMessage = defineMessage<CommandMessage>('CommandMessage', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'messageId', no: 2, kind: 'message', type: MessageIdData, required: true },
  { name: 'redeliveryCount', no: 3, kind: 'int32' },
  { name: 'ackSet', no: 4, kind: 'uint64big', repeated: true },
  { name: 'consumerEpoch', no: 5, kind: 'int64' },
]);

export interface CommandAck {
  consumerId: number;
  ackType: number;
  messageId: MessageIdData[];
  requestId?: number;
}
export const CommandAck = defineMessage<CommandAck>('CommandAck', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'ackType', no: 2, kind: 'int32', required: true },
  { name: 'messageId', no: 3, kind: 'message', type: MessageIdData, repeated: true },
  { name: 'requestId', no: 8, kind: 'int64' },
]);

export interface CommandFlow {
  consumerId: number;
  messagePermits: number;
}
export const CommandFlow = defineMessage<CommandFlow>('CommandFlow', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'messagePermits', no: 2, kind: 'int32', required: true },
]);

export interface CommandUnsubscribe {
  consumerId: number;
  requestId: number;
  force?: boolean;
}
export const CommandUnsubscribe = defineMessage<CommandUnsubscribe>('CommandUnsubscribe', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
  { name: 'force', no: 3, kind: 'bool' },
]);

export interface CommandSuccess {
  requestId: number;
}
export const CommandSuccess = defineMessage<CommandSuccess>('CommandSuccess', [
  { name: 'requestId', no: 1, kind: 'int64', required: true },
]);

export interface CommandError {
  requestId: number;
  error: number;
  message: string;
}
export const CommandError = defineMessage<CommandError>('CommandError', [
  { name: 'requestId', no: 1, kind: 'int64', required: true },
  { name: 'error', no: 2, kind: 'int32', required: true },
  { name: 'message', no: 3, kind: 'string', required: true },
]);

export interface CommandCloseProducer {
  producerId: number;
  requestId: number;
  assignedBrokerServiceUrl?: string;
  assignedBrokerServiceUrlTls?: string;
}
export const CommandCloseProducer = defineMessage<CommandCloseProducer>('CommandCloseProducer', [
  { name: 'producerId', no: 1, kind: 'int64', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
  { name: 'assignedBrokerServiceUrl', no: 3, kind: 'string' },
  { name: 'assignedBrokerServiceUrlTls', no: 4, kind: 'string' },
]);

export interface CommandCloseConsumer {
  consumerId: number;
  requestId: number;
  assignedBrokerServiceUrl?: string;
  assignedBrokerServiceUrlTls?: string;
}
export const CommandCloseConsumer = defineMessage<CommandCloseConsumer>('CommandCloseConsumer', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
  { name: 'assignedBrokerServiceUrl', no: 3, kind: 'string' },
  { name: 'assignedBrokerServiceUrlTls', no: 4, kind: 'string' },
]);

export interface CommandProducerSuccess {
  requestId: number;
  producerName: string;
  lastSequenceId?: number;
  topicEpoch?: number;
  producerReady?: boolean;
}
export const CommandProducerSuccess = defineMessage<CommandProducerSuccess>('CommandProducerSuccess', [
  { name: 'requestId', no: 1, kind: 'int64', required: true },
  { name: 'producerName', no: 2, kind: 'string', required: true },
  { name: 'lastSequenceId', no: 3, kind: 'int64' },
  { name: 'topicEpoch', no: 5, kind: 'int64' },
  { name: 'producerReady', no: 6, kind: 'bool' },
]);

export type CommandPing = Record<string, never>;
export const CommandPing = defineMessage<CommandPing>('CommandPing', []);
export type CommandPong = Record<string, never>;
export const CommandPong = defineMessage<CommandPong>('CommandPong', []);

export interface CommandRedeliverUnacknowledgedMessages {
  consumerId: number;
  messageIds?: MessageIdData[];
  consumerEpoch?: number;
}
export const CommandRedeliverUnacknowledgedMessages = defineMessage<CommandRedeliverUnacknowledgedMessages>(
  'CommandRedeliverUnacknowledgedMessages',
  [
    { name: 'consumerId', no: 1, kind: 'int64', required: true },
    { name: 'messageIds', no: 2, kind: 'message', type: MessageIdData, repeated: true },
    { name: 'consumerEpoch', no: 3, kind: 'int64' },
  ],
);

export interface CommandPartitionedTopicMetadata {
  topic: string;
  requestId: number;
  metadataAutoCreationEnabled?: boolean;
}
export const CommandPartitionedTopicMetadata = defineMessage<CommandPartitionedTopicMetadata>(
  'CommandPartitionedTopicMetadata',
  [
    { name: 'topic', no: 1, kind: 'string', required: true },
    { name: 'requestId', no: 2, kind: 'int64', required: true },
    { name: 'metadataAutoCreationEnabled', no: 6, kind: 'bool' },
  ],
);

export interface CommandPartitionedTopicMetadataResponse {
  partitions?: number;
  requestId: number;
  response?: number;
  error?: number;
  message?: string;
}
export const CommandPartitionedTopicMetadataResponse = defineMessage<CommandPartitionedTopicMetadataResponse>(
  'CommandPartitionedTopicMetadataResponse',
  [
    { name: 'partitions', no: 1, kind: 'int32' },
    { name: 'requestId', no: 2, kind: 'int64', required: true },
    { name: 'response', no: 3, kind: 'int32' },
    { name: 'error', no: 4, kind: 'int32' },
    { name: 'message', no: 5, kind: 'string' },
  ],
);

export interface CommandLookupTopic {
  topic: string;
  requestId: number;
  authoritative?: boolean;
  advertisedListenerName?: string;
}
export const CommandLookupTopic = defineMessage<CommandLookupTopic>('CommandLookupTopic', [
  { name: 'topic', no: 1, kind: 'string', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
  { name: 'authoritative', no: 3, kind: 'bool' },
  { name: 'advertisedListenerName', no: 7, kind: 'string' },
]);

export interface CommandLookupTopicResponse {
  brokerServiceUrl?: string;
  brokerServiceUrlTls?: string;
  response?: number;
  requestId: number;
  authoritative?: boolean;
  error?: number;
  message?: string;
  proxyThroughServiceUrl?: boolean;
}
export const CommandLookupTopicResponse = defineMessage<CommandLookupTopicResponse>('CommandLookupTopicResponse', [
  { name: 'brokerServiceUrl', no: 1, kind: 'string' },
  { name: 'brokerServiceUrlTls', no: 2, kind: 'string' },
  { name: 'response', no: 3, kind: 'int32' },
  { name: 'requestId', no: 4, kind: 'int64', required: true },
  { name: 'authoritative', no: 5, kind: 'bool' },
  { name: 'error', no: 6, kind: 'int32' },
  { name: 'message', no: 7, kind: 'string' },
  { name: 'proxyThroughServiceUrl', no: 8, kind: 'bool' },
]);

export interface CommandReachedEndOfTopic {
  consumerId: number;
}
export const CommandReachedEndOfTopic = defineMessage<CommandReachedEndOfTopic>('CommandReachedEndOfTopic', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
]);

export interface CommandSeek {
  consumerId: number;
  requestId: number;
  messageId?: MessageIdData;
  messagePublishTime?: number;
}
export const CommandSeek = defineMessage<CommandSeek>('CommandSeek', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
  { name: 'messageId', no: 3, kind: 'message', type: MessageIdData },
  { name: 'messagePublishTime', no: 4, kind: 'int64' },
]);

export interface CommandGetLastMessageId {
  consumerId: number;
  requestId: number;
}
export const CommandGetLastMessageId = defineMessage<CommandGetLastMessageId>('CommandGetLastMessageId', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'requestId', no: 2, kind: 'int64', required: true },
]);

export interface CommandGetLastMessageIdResponse {
  lastMessageId: MessageIdData;
  requestId: number;
}
export const CommandGetLastMessageIdResponse = defineMessage<CommandGetLastMessageIdResponse>(
  'CommandGetLastMessageIdResponse',
  [
    { name: 'lastMessageId', no: 1, kind: 'message', type: MessageIdData, required: true },
    { name: 'requestId', no: 2, kind: 'int64', required: true },
  ],
);

export interface CommandActiveConsumerChange {
  consumerId: number;
  isActive?: boolean;
}
export const CommandActiveConsumerChange = defineMessage<CommandActiveConsumerChange>('CommandActiveConsumerChange', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'isActive', no: 2, kind: 'bool' },
]);

export interface CommandAckResponse {
  consumerId: number;
  error?: number;
  message?: string;
  requestId?: number;
}
export const CommandAckResponse = defineMessage<CommandAckResponse>('CommandAckResponse', [
  { name: 'consumerId', no: 1, kind: 'int64', required: true },
  { name: 'error', no: 4, kind: 'int32' },
  { name: 'message', no: 5, kind: 'string' },
  { name: 'requestId', no: 6, kind: 'int64' },
]);

export interface CommandTopicMigrated {
  resourceId: number;
  resourceType: number;
  brokerServiceUrl?: string;
  brokerServiceUrlTls?: string;
}
export const CommandTopicMigrated = defineMessage<CommandTopicMigrated>('CommandTopicMigrated', [
  { name: 'resourceId', no: 1, kind: 'int64', required: true },
  { name: 'resourceType', no: 2, kind: 'int32', required: true },
  { name: 'brokerServiceUrl', no: 3, kind: 'string' },
  { name: 'brokerServiceUrlTls', no: 4, kind: 'string' },
]);

/** `MessageMetadata`: the header of every published entry. */
export interface MessageMetadata {
  producerName: string;
  sequenceId: number;
  publishTime: number;
  properties: KeyValue[];
  partitionKey?: string;
  compression?: number;
  uncompressedSize?: number;
  numMessagesInBatch?: number;
  eventTime?: number;
  partitionKeyB64Encoded?: boolean;
  orderingKey?: Uint8Array;
  deliverAtTime?: number;
  markerType?: number;
  highestSequenceId?: number;
  nullValue?: boolean;
  numChunksFromMsg?: number;
  nullPartitionKey?: boolean;
  encryptionKeys?: Uint8Array[];
}
export const MessageMetadata = defineMessage<MessageMetadata>('MessageMetadata', [
  { name: 'producerName', no: 1, kind: 'string', required: true },
  { name: 'sequenceId', no: 2, kind: 'int64', required: true },
  { name: 'publishTime', no: 3, kind: 'int64', required: true },
  { name: 'properties', no: 4, kind: 'message', type: KeyValue, repeated: true },
  { name: 'partitionKey', no: 6, kind: 'string' },
  { name: 'compression', no: 8, kind: 'int32' },
  { name: 'uncompressedSize', no: 9, kind: 'int32' },
  { name: 'numMessagesInBatch', no: 11, kind: 'int32' },
  { name: 'eventTime', no: 12, kind: 'int64' },
  // Kept as raw bytes: only its presence matters (encrypted messages are not supported).
  { name: 'encryptionKeys', no: 13, kind: 'bytes', repeated: true },
  { name: 'partitionKeyB64Encoded', no: 17, kind: 'bool' },
  { name: 'orderingKey', no: 18, kind: 'bytes' },
  { name: 'deliverAtTime', no: 19, kind: 'int64' },
  { name: 'markerType', no: 20, kind: 'int32' },
  { name: 'highestSequenceId', no: 24, kind: 'int64' },
  { name: 'nullValue', no: 25, kind: 'bool' },
  { name: 'numChunksFromMsg', no: 27, kind: 'int32' },
  { name: 'nullPartitionKey', no: 30, kind: 'bool' },
]);

/** `SingleMessageMetadata`: the header of one message inside a batch entry. */
export interface SingleMessageMetadata {
  properties: KeyValue[];
  partitionKey?: string;
  payloadSize: number;
  compactedOut?: boolean;
  eventTime?: number;
  partitionKeyB64Encoded?: boolean;
  orderingKey?: Uint8Array;
  sequenceId?: number;
  nullValue?: boolean;
  nullPartitionKey?: boolean;
}
export const SingleMessageMetadata = defineMessage<SingleMessageMetadata>('SingleMessageMetadata', [
  { name: 'properties', no: 1, kind: 'message', type: KeyValue, repeated: true },
  { name: 'partitionKey', no: 2, kind: 'string' },
  { name: 'payloadSize', no: 3, kind: 'int32', required: true },
  { name: 'compactedOut', no: 4, kind: 'bool' },
  { name: 'eventTime', no: 5, kind: 'int64' },
  { name: 'partitionKeyB64Encoded', no: 6, kind: 'bool' },
  { name: 'orderingKey', no: 7, kind: 'bytes' },
  { name: 'sequenceId', no: 8, kind: 'int64' },
  { name: 'nullValue', no: 9, kind: 'bool' },
  { name: 'nullPartitionKey', no: 10, kind: 'bool' },
]);

/** The `BaseCommand` envelope: `type` plus the one sub-command it names. */
export interface BaseCommand {
  type: number;
  connect?: CommandConnect;
  connected?: CommandConnected;
  subscribe?: CommandSubscribe;
  producer?: CommandProducer;
  send?: CommandSend;
  sendReceipt?: CommandSendReceipt;
  sendError?: CommandSendError;
  message?: CommandMessage;
  ack?: CommandAck;
  flow?: CommandFlow;
  unsubscribe?: CommandUnsubscribe;
  success?: CommandSuccess;
  error?: CommandError;
  closeProducer?: CommandCloseProducer;
  closeConsumer?: CommandCloseConsumer;
  producerSuccess?: CommandProducerSuccess;
  ping?: CommandPing;
  pong?: CommandPong;
  redeliverUnacknowledgedMessages?: CommandRedeliverUnacknowledgedMessages;
  partitionMetadata?: CommandPartitionedTopicMetadata;
  partitionMetadataResponse?: CommandPartitionedTopicMetadataResponse;
  lookupTopic?: CommandLookupTopic;
  lookupTopicResponse?: CommandLookupTopicResponse;
  reachedEndOfTopic?: CommandReachedEndOfTopic;
  seek?: CommandSeek;
  getLastMessageId?: CommandGetLastMessageId;
  getLastMessageIdResponse?: CommandGetLastMessageIdResponse;
  activeConsumerChange?: CommandActiveConsumerChange;
  authChallenge?: CommandAuthChallenge;
  authResponse?: CommandAuthResponse;
  ackResponse?: CommandAckResponse;
  topicMigrated?: CommandTopicMigrated;
}

function sub(name: string, no: number, type: MessageType<object>) {
  return { name, no, kind: 'message' as const, type };
}

export const BaseCommand = defineMessage<BaseCommand>('BaseCommand', [
  { name: 'type', no: 1, kind: 'int32', required: true },
  sub('connect', 2, CommandConnect),
  sub('connected', 3, CommandConnected),
  sub('subscribe', 4, CommandSubscribe),
  sub('producer', 5, CommandProducer),
  sub('send', 6, CommandSend),
  sub('sendReceipt', 7, CommandSendReceipt),
  sub('sendError', 8, CommandSendError),
  sub('message', 9, CommandMessage),
  sub('ack', 10, CommandAck),
  sub('flow', 11, CommandFlow),
  sub('unsubscribe', 12, CommandUnsubscribe),
  sub('success', 13, CommandSuccess),
  sub('error', 14, CommandError),
  sub('closeProducer', 15, CommandCloseProducer),
  sub('closeConsumer', 16, CommandCloseConsumer),
  sub('producerSuccess', 17, CommandProducerSuccess),
  sub('ping', 18, CommandPing),
  sub('pong', 19, CommandPong),
  sub('redeliverUnacknowledgedMessages', 20, CommandRedeliverUnacknowledgedMessages),
  sub('partitionMetadata', 21, CommandPartitionedTopicMetadata),
  sub('partitionMetadataResponse', 22, CommandPartitionedTopicMetadataResponse),
  sub('lookupTopic', 23, CommandLookupTopic),
  sub('lookupTopicResponse', 24, CommandLookupTopicResponse),
  sub('reachedEndOfTopic', 27, CommandReachedEndOfTopic),
  sub('seek', 28, CommandSeek),
  sub('getLastMessageId', 29, CommandGetLastMessageId),
  sub('getLastMessageIdResponse', 30, CommandGetLastMessageIdResponse),
  sub('activeConsumerChange', 31, CommandActiveConsumerChange),
  sub('authChallenge', 36, CommandAuthChallenge),
  sub('authResponse', 37, CommandAuthResponse),
  sub('ackResponse', 38, CommandAckResponse),
  sub('topicMigrated', 68, CommandTopicMigrated),
]);
