/**
 * Pulsar errors as polybus errors: what the client or the WebSocket proxy reported, whether it is
 * worth retrying, and what to do. No client import here: client errors are recognised by their
 * `name` and `retryable` fields, so that this works for both transports. No message ever holds
 * the token: neither transport puts it in a URL or an error text.
 */
import { BrokerError, ClosedError, MessageTooLargeError, PolybusError } from '../../src/errors.js';

export { TopicNotFoundError } from '../shared/errors.js';

interface ClientErrorShape {
  name?: unknown;
  code?: unknown;
  retryable?: unknown;
}

/** Server error codes after which the same call can only fail again. */
const AUTH_CODES = new Set(['AuthenticationError', 'AuthorizationError']);

/** A Pulsar client or WebSocket error as a polybus error (polybus errors pass through). */
export function toPolybusError(operation: string, error: unknown): PolybusError {
  if (error instanceof PolybusError) return error;
  const shape = (error ?? {}) as ClientErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.code === 'string' ? shape.code : '';
  const retryable = typeof shape.retryable === 'boolean' ? shape.retryable : true;
  if (name === 'PulsarMessageTooLargeError') {
    const [size, limit] = (/(\d+) bytes exceeds .* (\d+) bytes/.exec((error as Error).message) ?? [])
      .slice(1)
      .map(Number);
    return new MessageTooLargeError('pulsar', size ?? 0, limit ?? 0);
  }
  if (name === 'PulsarAuthenticationError' || AUTH_CODES.has(code)) {
    return new BrokerError(
      'pulsar',
      operation,
      error,
      'Pulsar refused the credentials or the role lacks a permission: check the token (?token=…) and grant the role produce/consume on the namespace.',
      false,
    );
  }
  if (name === 'PulsarTlsError') {
    return new BrokerError(
      'pulsar',
      operation,
      error,
      "The broker's TLS certificate did not verify: pass the CA in tlsOptions.ca (config object), or fix the host name (tlsOptions.servername).",
      false,
    );
  }
  if (name === 'PulsarTimeoutError') {
    return new BrokerError(
      'pulsar',
      operation,
      error,
      'Pulsar did not answer in time (it may be down or restarting); retry: the adapter reconnects by itself.',
      true,
    );
  }
  if (name === 'PulsarTopicTerminatedError') {
    return new BrokerError('pulsar', operation, error, 'The topic was terminated: publish to another topic.', false);
  }
  if (code === 'InvalidTopicName' || code === 'NotAllowedError' || code === 'IncompatibleSchema') {
    return new BrokerError('pulsar', operation, error, 'Pulsar refused the request: see the cause.', false);
  }
  return new BrokerError(
    'pulsar',
    operation,
    error,
    retryable
      ? 'Pulsar or the network is unavailable for now; retry: the adapter reconnects by itself.'
      : 'Pulsar refused the request; see the cause.',
    retryable,
  );
}

/** The error for work given to a closed adapter. */
export function closedError(operation: string): ClosedError {
  return new ClosedError('connection', operation, 'pulsar');
}
