/**
 * Pub/Sub's errors as polybus errors: gRPC status codes decide what is retryable, and each error
 * names the operation and what to do. No client import here.
 */
import { BrokerError, errorText, PolybusError } from '../../src/errors.js';

/** gRPC status codes the Pub/Sub client reports in `error.code`. */
export const GRPC = Object.freeze({
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

/** Codes after which the same call may succeed later (Google's own retry guidance for Pub/Sub). */
const RETRYABLE: ReadonlySet<number> = new Set([
  GRPC.CANCELLED,
  GRPC.UNKNOWN,
  GRPC.DEADLINE_EXCEEDED,
  GRPC.RESOURCE_EXHAUSTED,
  GRPC.ABORTED,
  GRPC.INTERNAL,
  GRPC.UNAVAILABLE,
]);

/** The gRPC status code of a client error, if it has one. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A subscription does not exist and the adapter was told not to create it (`autoCreate: false`).
 * Not retryable: create it, or let the adapter create it.
 */
export class SubscriptionNotFoundError extends BrokerError {
  /** The missing subscription's name. */
  readonly subscription: string;
  constructor(subscription: string, topic: string, operation: string) {
    super(
      'pubsub',
      operation,
      new Error(`subscription "${subscription}" (for topic "${topic}") does not exist`),
      `Create it with message ordering on (gcloud pubsub subscriptions create ${subscription} --topic=${topic} --enable-message-ordering), or set autoCreate=true.`,
      false,
    );
    this.subscription = subscription;
  }
}

/** A Pub/Sub client error as a {@link BrokerError}: retryable where the status code says so. */
export function toBrokerError(operation: string, error: unknown): PolybusError {
  if (error instanceof PolybusError) return error;
  const code = grpcCode(error);
  const retryable = code === undefined || RETRYABLE.has(code);
  return new BrokerError('pubsub', operation, error, hintFor(code, retryable), retryable);
}

function hintFor(code: number | undefined, retryable: boolean): string {
  switch (code) {
    case GRPC.PERMISSION_DENIED:
      return 'The credentials lack a Pub/Sub permission for this call: grant the service account roles/pubsub.publisher, roles/pubsub.subscriber (and roles/pubsub.editor for autoCreate), or create topics and subscriptions yourself and set autoCreate=false.';
    case GRPC.UNAUTHENTICATED:
      return 'Check the credentials (keyFilename, credentials or Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login).';
    case GRPC.INVALID_ARGUMENT:
      return 'Pub/Sub rejected the request: check topic and subscription names, attribute limits (100 per message, name ≤ 256 B, value ≤ 1024 B) and the message size.';
    case GRPC.NOT_FOUND:
      return 'The topic or subscription does not exist: create it, or set autoCreate=true.';
    case GRPC.RESOURCE_EXHAUSTED:
      return 'Pub/Sub is throttling or the message is too large for the server (the emulator refuses messages over ~4 MiB); slow down and retry, or send smaller messages.';
    default:
      return retryable
        ? 'Pub/Sub or the network is unavailable for now; retry (the adapter reconnects by itself).'
        : `Pub/Sub refused the call (${errorText(code ?? 'no status code')}); see the cause.`;
  }
}
