/** How amqplib errors become polybus errors: which are worth retrying, and what to tell the user. */
import { BrokerError, PolybusError } from '../../src/errors.js';

/** AMQP reply codes that retrying the same operation will not fix. */
const PERMANENT_CODES = new Set([
  403, // ACCESS_REFUSED: login or permission
  404, // NOT_FOUND: queue or exchange
  406, // PRECONDITION_FAILED: inequivalent arguments, message too large, unknown delivery tag
  501, // FRAME_ERROR
  502, // SYNTAX_ERROR
  503, // COMMAND_INVALID
  530, // NOT_ALLOWED: vhost
  540, // NOT_IMPLEMENTED: e.g. an exchange type whose plugin is missing
]);

/** TLS certificate failures: retrying does not help until the certificates change. */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The AMQP reply code of an amqplib error (404, 406, 320…), or undefined for socket errors. */
export function amqpCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  const match = /\b(\d{3}) \([A-Z_-]+\)/.exec(error instanceof Error ? error.message : '');
  return match ? Number(match[1]) : undefined;
}

/** Whether retrying may succeed: dropped connections, restarts and timeouts yes; permissions, missing queues, bad arguments no. */
export function isRetryableAmqpError(error: unknown): boolean {
  if (error instanceof PolybusError) return error.retryable;
  const code = amqpCode(error);
  if (code !== undefined) return !PERMANENT_CODES.has(code);
  const socketCode = (error as { code?: unknown } | null)?.code;
  return !(typeof socketCode === 'string' && TLS_CODES.has(socketCode));
}

/** A polybus {@link BrokerError} for a failed amqplib operation, with advice that fits the failure. */
export function toBrokerError(operation: string, error: unknown, hint?: string): BrokerError {
  if (error instanceof BrokerError) return error;
  const retryable = isRetryableAmqpError(error);
  return new BrokerError('rabbitmq', operation, error, hint ?? adviceFor(error, retryable), retryable);
}

function adviceFor(error: unknown, retryable: boolean): string {
  const code = amqpCode(error);
  const text = error instanceof Error ? error.message : '';
  if (code === 403) {
    return 'RabbitMQ refused the user or the operation: check the user name and password in the URL and the user’s permissions on the vhost (with autoDeclare=false polybus needs only read and write).';
  }
  if (code === 530)
    return 'The vhost does not exist or the user may not use it: check the URL path (encode "/" as %2F).';
  if (code === 406 && /inequivalent arg/i.test(text)) {
    return 'The queue or exchange already exists with other arguments (queue type, x-delivery-limit, x-single-active-consumer, exchange type): use matching options, or delete it so polybus can declare it.';
  }
  if (code === 406 && /larger than configured max size/i.test(text)) {
    return "The broker's max_message_size is below polybus's maxMessageBytes: lower maxMessageBytes to match the broker, or raise max_message_size.";
  }
  if (code === 540) return 'The broker does not implement this (a plugin may be missing).';
  const socketCode = (error as { code?: unknown } | null)?.code;
  if (typeof socketCode === 'string' && TLS_CODES.has(socketCode)) {
    return "The broker's TLS certificate did not verify: pass its CA in tlsOptions.ca, or set tlsOptions.servername to the name in the certificate.";
  }
  if (retryable) {
    return 'RabbitMQ is unreachable or dropped the connection; polybus reconnects by itself and retrying is safe (at-least-once: the message may already be stored).';
  }
  return 'Retrying will not help; fix the request or the broker configuration.';
}

/** A queue polybus was told not to declare (`autoDeclare=false`) does not exist. Not retryable. */
export class QueueNotFoundError extends BrokerError {
  /** The missing queue's name. */
  readonly queue: string;
  constructor(queue: string, vhost: string, cause?: unknown) {
    super(
      'rabbitmq',
      'subscribe',
      new Error(`queue "${queue}" does not exist in vhost "${vhost}"`, { cause }),
      `Declare it (durable, bound to the exchange with the topic as routing key), or drop autoDeclare=false so polybus declares it.`,
      false,
    );
    this.queue = queue;
  }
}

/** The exchange polybus publishes to does not exist and polybus was told not to declare it. Not retryable. */
export class ExchangeNotFoundError extends BrokerError {
  /** The missing exchange's name. */
  readonly exchange: string;
  constructor(exchange: string, vhost: string, cause?: unknown) {
    super(
      'rabbitmq',
      'connect',
      new Error(`exchange "${exchange}" does not exist in vhost "${vhost}"`, { cause }),
      'Declare it (durable, type direct), or drop autoDeclare=false so polybus declares it.',
      false,
    );
    this.exchange = exchange;
  }
}
