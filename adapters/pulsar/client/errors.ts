/**
 * Typed errors of the Pulsar client. Every error says whether retrying can help (`retryable`);
 * errors from the broker carry its `ServerError` code by name. No error message ever contains
 * an authentication token.
 */

/** The broker's error codes (`ServerError` in the protocol definition). */
export const SERVER_ERRORS = [
  'UnknownError',
  'MetadataError',
  'PersistenceError',
  'AuthenticationError',
  'AuthorizationError',
  'ConsumerBusy',
  'ServiceNotReady',
  'ProducerBlockedQuotaExceededError',
  'ProducerBlockedQuotaExceededException',
  'ChecksumError',
  'UnsupportedVersionError',
  'TopicNotFound',
  'SubscriptionNotFound',
  'ConsumerNotFound',
  'TooManyRequests',
  'TopicTerminatedError',
  'ProducerBusy',
  'InvalidTopicName',
  'IncompatibleSchema',
  'ConsumerAssignError',
  'TransactionCoordinatorNotFound',
  'InvalidTxnStatus',
  'NotAllowedError',
  'TransactionConflict',
  'TransactionNotFound',
  'ProducerFenced',
] as const;

/** A broker error code name. */
export type ServerErrorCode = (typeof SERVER_ERRORS)[number];

/** Broker errors after which the same request may succeed later (after a reconnect or a wait). */
const RETRYABLE: ReadonlySet<ServerErrorCode> = new Set<ServerErrorCode>([
  'UnknownError',
  'MetadataError',
  'PersistenceError',
  'ServiceNotReady',
  'TooManyRequests',
  'ConsumerBusy',
  'ProducerBusy',
  'ChecksumError',
  'ConsumerNotFound',
]);

/** The code's name for a numeric `ServerError`. */
export function serverErrorName(code: number | undefined): ServerErrorCode {
  return SERVER_ERRORS[code ?? 0] ?? 'UnknownError';
}

/** Base class of every error the client throws. */
export class PulsarClientError extends Error {
  /** Whether the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.retryable = retryable;
  }
}

/** The broker answered with an error. `code` is the protocol's `ServerError` name. */
export class PulsarServerError extends PulsarClientError {
  readonly code: ServerErrorCode;

  constructor(code: ServerErrorCode, message: string) {
    super(`${code}: ${message}`, RETRYABLE.has(code));
    this.code = code;
  }
}

/** Authentication or authorization was refused: check the token and the role's permissions. */
export class PulsarAuthenticationError extends PulsarServerError {
  override readonly retryable = false;
}

/** The TCP/TLS connection failed or was lost. Retry: the client reconnects by itself. */
export class PulsarConnectionError extends PulsarClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, true, options);
  }
}

/** TLS verification failed (unknown CA, wrong host name, expired certificate): fix the configuration. */
export class PulsarTlsError extends PulsarClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

/** An operation did not complete within its timeout. */
export class PulsarTimeoutError extends PulsarClientError {
  constructor(message: string) {
    super(message, true);
  }
}

/** The peer sent bytes that do not follow the protocol (bad frame, bad checksum, bad protobuf). */
export class PulsarProtocolError extends PulsarClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

/** A received message's CRC32C did not match; the message is dropped and redelivered. */
export class PulsarChecksumError extends PulsarProtocolError {}

/** The client, producer or consumer was closed; the operation will never complete. */
export class PulsarClosedError extends PulsarClientError {
  constructor(message: string) {
    super(message, false);
  }
}

/** The topic was terminated: no more messages can be published to it. */
export class PulsarTopicTerminatedError extends PulsarClientError {
  constructor(topic: string) {
    super(`topic ${topic} is terminated`, false);
  }
}

/** A compression codec is unavailable (an optional package is not installed) or the data is corrupt. */
export class PulsarCompressionError extends PulsarClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

/** The message is larger than the broker's `maxMessageSize` (chunking is not supported). */
export class PulsarMessageTooLargeError extends PulsarClientError {
  constructor(size: number, max: number) {
    super(`message of ${size} bytes exceeds the broker's maximum of ${max} bytes`, false);
  }
}

/** Invalid options or arguments given to the client. */
export class PulsarConfigError extends PulsarClientError {
  constructor(message: string) {
    super(message, false);
  }
}

/** Maps a broker error to the right class. */
export function serverError(code: number | undefined, message: string | undefined): PulsarServerError {
  const name = serverErrorName(code);
  const text = message ?? '';
  if (name === 'AuthenticationError' || name === 'AuthorizationError') return new PulsarAuthenticationError(name, text);
  return new PulsarServerError(name, text);
}
