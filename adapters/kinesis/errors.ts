/** How AWS SDK errors become polybus errors: which are worth retrying, and what to tell the user. */
import { BrokerError, InvalidConfigError, PolybusError } from '../../src/errors.js';

/** Error names that mean "too many requests": retry later, slower. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'LimitExceededException',
  'KMSThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ThrottledException',
]);

/** Error names that mean the credentials are missing, wrong or not allowed: retrying does not help. */
const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'AccessDeniedException',
  'ExpiredTokenException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'KMSAccessDeniedException',
]);

/** Error names of requests that are wrong as made: retrying the same request does not help. */
const PERMANENT = new Set([
  'ValidationException',
  'InvalidArgumentException',
  'SerializationException',
  'KMSInvalidStateException',
  'KMSDisabledException',
  'KMSNotFoundException',
  'KMSOptInRequired',
]);

/** Network error codes: the endpoint is unreachable or went away. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ERR_HTTP2_ERROR',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

interface AwsErrorShape {
  name?: unknown;
  code?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

/** The AWS error name (`ProvisionedThroughputExceededException`, …) or Node error code of an error. */
export function awsErrorName(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const shape = error as AwsErrorShape;
  if (typeof shape.code === 'string' && NETWORK.has(shape.code)) return shape.code;
  return typeof shape.name === 'string' ? shape.name : undefined;
}

/** Whether an AWS service said "too many requests". */
export function isThrottling(error: unknown): boolean {
  const name = awsErrorName(error);
  return name !== undefined && THROTTLING.has(name);
}

/** Whether the resource (stream, shard, table) does not exist. */
export function isNotFound(error: unknown): boolean {
  return awsErrorName(error) === 'ResourceNotFoundException';
}

/** Whether a DynamoDB conditional write found the item changed. */
export function isConditionFailed(error: unknown): boolean {
  const name = awsErrorName(error);
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
}

/** Whether the credentials are the problem. */
export function isCredentialsError(error: unknown): boolean {
  const name = awsErrorName(error);
  return name !== undefined && CREDENTIALS.has(name);
}

/** Whether a request timed out or was aborted by our own deadline. */
export function isTimeout(error: unknown): boolean {
  const name = awsErrorName(error);
  return name === 'AbortError' || name === 'TimeoutError' || name === 'RequestTimeout';
}

/** Whether trying the same request again may succeed: throttling, network trouble, server faults, timeouts. */
export function isRetryableAwsError(error: unknown): boolean {
  if (error instanceof PolybusError) return error.retryable;
  if (error === null || typeof error !== 'object') return true;
  const name = awsErrorName(error);
  if (name !== undefined) {
    if (CREDENTIALS.has(name) || PERMANENT.has(name)) return false;
    if (THROTTLING.has(name) || NETWORK.has(name)) return true;
    if (name === 'ResourceInUseException' || name === 'InternalFailure' || name === 'ServiceUnavailable') return true;
  }
  if (isTimeout(error)) return true;
  const shape = error as AwsErrorShape;
  if (shape.$retryable !== undefined && shape.$retryable !== null) return true;
  if (shape.$fault === 'server') return true;
  const status = shape.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500 || status === 429;
  // No HTTP response at all: the request did not get through (socket closed, DNS…).
  return shape.$metadata === undefined || status === undefined;
}

/** What to tell the user about an error, by kind. */
function hintFor(error: unknown, service: 'Kinesis' | 'DynamoDB'): string {
  if (isCredentialsError(error)) {
    return `Check the AWS credentials (accessKeyId/secretAccessKey in the URL or config, or the AWS credential chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, an instance role) and that they may use ${service}.`;
  }
  if (isThrottling(error)) {
    return service === 'Kinesis'
      ? 'The stream is over its limits (1 MiB/s or 1,000 records/s written per shard, 5 GetRecords calls/s per shard shared by every group): polybus retries with backoff; add shards or slow down if it persists.'
      : 'The lease table is throttled: polybus retries with backoff; use on-demand capacity (the default for tables it creates) or raise the provisioned capacity.';
  }
  if (isTimeout(error))
    return `${service} did not answer in time: polybus retries; check the network and the endpoint.`;
  if (isRetryableAwsError(error))
    return `${service} is unreachable or failing: polybus retries with backoff; check the endpoint and the network.`;
  return `The request was refused by ${service}: see the cause.`;
}

/** Wraps an AWS SDK error in a {@link BrokerError} naming the operation, retryable where it is. */
export function toBrokerError(
  error: unknown,
  operation: string,
  service: 'Kinesis' | 'DynamoDB' = 'Kinesis',
): PolybusError {
  if (error instanceof PolybusError) return error;
  return new BrokerError('kinesis', operation, error, hintFor(error, service), isRetryableAwsError(error));
}

/**
 * A consumer group's lease table does not exist and `autoCreate` is off. Not retryable: create the
 * table (hash key `leaseKey`, a string) or turn `autoCreate` on.
 */
export class LeaseTableNotFoundError extends BrokerError {
  /** The missing table's name. */
  readonly table: string;
  constructor(table: string) {
    super(
      'kinesis',
      'subscribe',
      new Error(`the lease table "${table}" does not exist`),
      `Create it (aws dynamodb create-table --table-name ${table} --attribute-definitions AttributeName=leaseKey,AttributeType=S --key-schema AttributeName=leaseKey,KeyType=HASH --billing-mode PAY_PER_REQUEST), or set autoCreate=true.`,
      false,
    );
    this.table = table;
  }
}

/**
 * Headers were sent on a connection with `envelope=false`: raw Kinesis records cannot carry them.
 */
export class HeadersNotSupportedError extends InvalidConfigError {
  /** The header names that were refused. */
  readonly headerNames: readonly string[];
  constructor(names: readonly string[]) {
    const tracing = names.some((name) => name === 'traceparent' || name === 'tracestate');
    const listed = names.slice(0, 5).map((name) => `"${name.length > 40 ? `${name.slice(0, 40)}…` : name}"`);
    const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
    const why = tracing
      ? '; tracing() adds a W3C "traceparent" header to every send, so trace context cannot propagate through a stream written without the envelope'
      : '';
    super(
      `this connection writes raw records (envelope=false), which have no place for headers, and the message has ${listed.join(', ')}${more}${why}`,
      {
        broker: 'kinesis',
        operation: 'send',
        hint: tracing
          ? 'Remove tracing() from this producer (and any headers), or drop envelope=false so that records carry the polybus envelope (readers that are not polybus must then unwrap it, see the README).'
          : 'Send without headers, or drop envelope=false so that records carry the polybus envelope (readers that are not polybus must then unwrap it, see the README).',
      },
    );
    this.headerNames = names;
  }
}
