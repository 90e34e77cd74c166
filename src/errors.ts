/**
 * One error hierarchy for polybus. Every error names the broker and the operation that failed
 * and says what to do about it. Messages never contain secrets: URLs are redacted before they
 * are quoted (see {@link redactUrl}).
 */

/** Names of the brokers polybus knows, plus `core` for errors raised before any broker is involved. */
export type BrokerName = 'memory' | 'kafka' | 'rabbitmq' | 'kinesis' | 'pubsub' | 'pulsar' | 'core';

/** Stable, machine-readable error codes. */
export type PolybusErrorCode =
  | 'INVALID_URL'
  | 'INVALID_CONFIG'
  | 'ADAPTER_NOT_INSTALLED'
  | 'PEER_DEPENDENCY_MISSING'
  | 'DECODE_FAILED'
  | 'ENCODE_FAILED'
  | 'VALIDATION_FAILED'
  | 'MESSAGE_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'DELIVERY_LIMIT'
  | 'CLOSED'
  | 'TIMEOUT'
  | 'BROKER_ERROR';

/** Options shared by all polybus errors. */
export interface PolybusErrorOptions {
  broker?: BrokerName;
  operation: string;
  /** What the user should do about it. */
  hint: string;
  cause?: unknown;
  /** Whether retrying the same operation may succeed. */
  retryable?: boolean;
}

/** Base class of every error polybus throws. */
export class PolybusError extends Error {
  readonly code: PolybusErrorCode;
  readonly broker: BrokerName;
  readonly operation: string;
  readonly hint: string;
  readonly retryable: boolean;

  constructor(code: PolybusErrorCode, message: string, options: PolybusErrorOptions) {
    const broker = options.broker ?? 'core';
    super(`[polybus:${broker}] ${options.operation}: ${message}. ${options.hint}`, {
      cause: options.cause,
    });
    this.name = new.target.name;
    this.code = code;
    this.broker = broker;
    this.operation = options.operation;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }
}

/** A connection URL could not be parsed. Names the bad part and the expected form. */
export class InvalidUrlError extends PolybusError {
  constructor(message: string, options: PolybusErrorOptions) {
    super('INVALID_URL', message, options);
  }
}

/** An option has a wrong type or value. */
export class InvalidConfigError extends PolybusError {
  constructor(message: string, options: PolybusErrorOptions) {
    super('INVALID_CONFIG', message, options);
  }
}

/** A package an adapter needs, with the version range polybus supports (when known). */
export interface RequiredPackage {
  name: string;
  range?: string | undefined;
}

/**
 * What {@link AdapterNotInstalledError} found missing: the adapter itself (this polybus version
 * does not include it), or the broker client package(s) it loads.
 */
export type MissingAdapterPart =
  | { kind: 'adapter'; polybusVersion?: string | undefined }
  | { kind: 'client'; packages: readonly RequiredPackage[] };

/**
 * A broker cannot be used because its adapter is not part of this polybus version, or because
 * the client package(s) the adapter loads are not installed. {@link AdapterNotInstalledError.missing}
 * says which; the message and hint differ accordingly.
 */
export class AdapterNotInstalledError extends PolybusError {
  /** What is missing. */
  readonly missing: MissingAdapterPart;
  /** The first package to install, or `polybus` when the adapter itself is missing. */
  readonly packageName: string;
  /**
   * @param missing - a package name (shorthand for one missing client package), or what is missing.
   */
  constructor(broker: BrokerName, missing: string | MissingAdapterPart, cause?: unknown) {
    const part: MissingAdapterPart =
      typeof missing === 'string' ? { kind: 'client', packages: [{ name: missing }] } : missing;
    super('ADAPTER_NOT_INSTALLED', missingText(broker, part), {
      broker,
      operation: 'connect',
      hint: missingHint(part),
      cause,
    });
    this.missing = part;
    this.packageName = part.kind === 'adapter' ? 'polybus' : (part.packages[0]?.name ?? 'polybus');
  }
}

function missingText(broker: BrokerName, missing: MissingAdapterPart): string {
  if (missing.kind === 'adapter') {
    return `polybus ${missing.polybusVersion ?? '(this version)'} does not include the ${broker} adapter yet`;
  }
  const names = missing.packages.map((p) => `"${p.name}"${p.range === undefined ? '' : ` (${p.range})`}`);
  const plural = names.length > 1;
  return `the ${broker} adapter needs the package${plural ? 's' : ''} ${names.join(', ')}, which ${plural ? 'are' : 'is'} not installed`;
}

function missingHint(missing: MissingAdapterPart): string {
  if (missing.kind === 'adapter') {
    return 'Pass an adapter of your own with `connect(url, { adapter })`; installing a client library alone does not help.';
  }
  const specs = missing.packages.map((p) => installSpec(p.name, p.range));
  return `Install ${specs.length > 1 ? 'them' : 'it'} with \`npm install ${specs.join(' ')}\`.`;
}

/** `name@"range"` for an `npm install` command, or just the name when the range is unknown. */
export function installSpec(packageName: string, range?: string): string {
  return range === undefined ? packageName : `${packageName}@"${range}"`;
}

/** An optional peer dependency (avsc, protobufjs, @opentelemetry/api) is missing. */
export class PeerDependencyMissingError extends PolybusError {
  readonly packageName: string;
  constructor(feature: string, packageName: string, cause?: unknown) {
    super('PEER_DEPENDENCY_MISSING', `${feature} needs the package "${packageName}"`, {
      operation: feature,
      hint: `Install it with \`npm install ${packageName}\`.`,
      cause,
    });
    this.packageName = packageName;
  }
}

/** A payload could not be decoded by the consumer's codec. Never retried. */
export class DecodeError extends PolybusError {
  constructor(codec: string, cause: unknown, broker?: BrokerName) {
    super('DECODE_FAILED', `the ${codec} codec could not decode the payload (${errorText(cause)})`, {
      broker,
      operation: 'decode',
      hint: 'The message was sent with another codec or is corrupt; add deadLetter() to keep such messages, and check the producer codec.',
      cause,
      retryable: false,
    });
  }
}

/** A value could not be encoded by the producer's codec. */
export class EncodeError extends PolybusError {
  constructor(codec: string, cause: unknown) {
    super('ENCODE_FAILED', `the ${codec} codec could not encode the value (${errorText(cause)})`, {
      operation: 'encode',
      hint: 'Pass a value the codec accepts (json: serialisable; bytes: Uint8Array; string: string).',
      cause,
    });
  }
}

/** One validation issue reported by a Standard Schema validator. */
export interface ValidationIssue {
  message: string;
  path?: ReadonlyArray<PropertyKey>;
}

/** A decoded value did not match the consumer's schema. Never retried. */
export class ValidationError extends PolybusError {
  readonly issues: ReadonlyArray<ValidationIssue>;
  constructor(issues: ReadonlyArray<ValidationIssue>) {
    const summary = issues
      .slice(0, 3)
      .map((issue) => (issue.path?.length ? `${issue.path.map(String).join('.')}: ` : '') + issue.message)
      .join('; ');
    super('VALIDATION_FAILED', `the message does not match the schema (${summary})`, {
      operation: 'validate',
      hint: 'Fix the producer or the schema; add deadLetter() to keep invalid messages.',
      retryable: false,
    });
    this.issues = issues;
  }
}

/** A message is larger than the broker accepts. */
export class MessageTooLargeError extends PolybusError {
  readonly size: number;
  readonly limit: number;
  constructor(broker: BrokerName, size: number, limit: number) {
    super('MESSAGE_TOO_LARGE', `a message of ${size} bytes exceeds the ${broker} limit of ${limit} bytes`, {
      broker,
      operation: 'send',
      hint: 'Store large payloads elsewhere (object storage) and send a reference, or compress them.',
    });
    this.size = size;
    this.limit = limit;
  }
}

/** A message was delivered more often than the consumer's `maxDeliveries` (a crash loop, or timeouts). */
export class DeliveryLimitError extends PolybusError {
  readonly deliveries: number;
  constructor(deliveries: number, limit: number, broker?: BrokerName) {
    super('DELIVERY_LIMIT', `the message was delivered ${deliveries} times, more than maxDeliveries (${limit})`, {
      broker,
      operation: 'consume',
      hint: 'It went to the dead-letter topic without running the handler: inspect it there; raise maxDeliveries if handlers need more tries.',
      retryable: false,
    });
    this.deliveries = deliveries;
  }
}

/** The producer, consumer or broker was already closed. */
export class ClosedError extends PolybusError {
  constructor(what: string, operation: string, broker?: BrokerName) {
    super('CLOSED', `the ${what} is closed`, {
      broker,
      operation,
      hint: `Create a new ${what} (or call connect() again) instead of reusing a closed one.`,
    });
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends PolybusError {
  constructor(operation: string, ms: number, hint: string, broker?: BrokerName) {
    super('TIMEOUT', `did not finish within ${ms} ms`, { broker, operation, hint, retryable: true });
  }
}

/** The broker or its client reported an error. */
export class BrokerError extends PolybusError {
  constructor(broker: BrokerName, operation: string, cause: unknown, hint: string, retryable = true) {
    super('BROKER_ERROR', errorText(cause), { broker, operation, hint, cause, retryable });
  }
}

/** Short description of any thrown value, for error messages and dead-letter headers. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** Whether retrying after this error may help. Errors that say otherwise are not retried. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof PolybusError) return error.retryable || error.code === 'BROKER_ERROR';
  return true;
}
