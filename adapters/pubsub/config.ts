/**
 * The Pub/Sub adapter's own options: their types, defaults and validation. No
 * `@google-cloud/pubsub` import here, so that URL parsing (src/url.ts) can use it without loading
 * the client.
 */
import { Secret } from '../../src/secret.js';
import {
  boolean,
  collectOptions,
  exampleOf,
  fail,
  integer,
  type OptionContext,
  type OptionParams,
  type OptionsSpec,
  quote,
  showName,
} from '../shared/options.js';

/** A service account key given inline (config object only): the two fields Pub/Sub needs. */
export interface PubSubServiceAccountCredentials {
  /** The service account's e-mail, e.g. `svc@project.iam.gserviceaccount.com`. */
  client_email: string;
  /** Its PEM private key. Kept as a {@link Secret}: never printed, logged or quoted in errors. */
  private_key: string | Secret;
}

/** {@link PubSubServiceAccountCredentials} after validation: the key wrapped. */
export interface ResolvedPubSubCredentials {
  client_email: string;
  private_key: Secret;
}

/** Batching of publish requests (the client's `batching` publish option). */
export interface PubSubBatching {
  /** Most messages in one publish request (1–1000; default 100, the client's default). */
  maxMessages: number;
  /** Longest a message waits for its batch to fill, in ms (0–10,000; default 10, the client's default). */
  maxMilliseconds: number;
}

/** Batching of acknowledgements (the client's `batching` subscriber option). */
export interface PubSubAckBatching {
  /** Most acks (or nacks) in one request (1–2500; default 2500). */
  maxMessages: number;
  /**
   * Longest an ack waits before it is sent, in ms (0–1,000; default 10). The client's own default
   * is 100 ms; polybus sends sooner because the service (and the emulator even more: one unacked
   * message per ordering key) only delivers the next message of a key once the previous one is
   * acknowledged.
   */
  maxMilliseconds: number;
}

/** The Pub/Sub options besides the URL's project id and emulatorHost. Every one has a default. */
export interface PubSubOptions {
  /**
   * Create missing topics (on first send or subscribe) and subscriptions (on subscribe); default
   * true. With false, a missing topic is a `TopicNotFoundError` and a missing subscription a
   * `SubscriptionNotFoundError`, each naming the resource to create.
   */
  autoCreate: boolean;
  /**
   * Ack deadline of subscriptions polybus creates, and the least the client extends a lease by,
   * in seconds (10–600; default 10). A message whose consumer dies comes back after about this
   * long.
   */
  ackDeadlineSeconds: number;
  /**
   * Prepended to every subscription name: a group's subscription is
   * `<subscriptionPrefix><topic>.<group>` (default empty). Names are checked against Pub/Sub's
   * rules before any call.
   */
  subscriptionPrefix: string;
  /** Publish batching. */
  batching: PubSubBatching;
  /** Ack batching. */
  ackBatching: PubSubAckBatching;
  /**
   * Largest message (data + attribute names and values + ordering key) polybus sends, in bytes
   * (default 10,000,000: Pub/Sub's limit). Larger messages are refused before sending.
   */
  maxMessageBytes: number;
  /**
   * A send resolves, or rejects with a retryable error, within this time, even while the service
   * is unreachable (1,000–600,000 ms; default 30,000).
   */
  sendTimeoutMs: number;
  /** Path of a service account key file (config object only; default: Application Default Credentials). */
  keyFilename: string | undefined;
  /** An inline service account key (config object only; default: Application Default Credentials). */
  credentials: ResolvedPubSubCredentials | undefined;
}

/** What a user passes: any subset of the options, in their input forms. */
export type PubSubOptionsInput = Partial<Omit<PubSubOptions, 'credentials' | 'batching' | 'ackBatching'>> & {
  credentials?: PubSubServiceAccountCredentials;
  batching?: Partial<PubSubBatching>;
  ackBatching?: Partial<PubSubAckBatching>;
};

/** Pub/Sub's own limit on one message (data, attributes and ordering key), in bytes. */
export const PUBSUB_MAX_MESSAGE_BYTES = 10_000_000;

/** The defaults of every option. */
export const PUBSUB_DEFAULTS: Readonly<PubSubOptions> = Object.freeze({
  autoCreate: true,
  ackDeadlineSeconds: 10,
  subscriptionPrefix: '',
  batching: Object.freeze({ maxMessages: 100, maxMilliseconds: 10 }),
  ackBatching: Object.freeze({ maxMessages: 2500, maxMilliseconds: 10 }),
  maxMessageBytes: PUBSUB_MAX_MESSAGE_BYTES,
  sendTimeoutMs: 30_000,
  keyFilename: undefined,
  credentials: undefined,
});

/** Query parameters of a `pubsub://` URL the base parser already handles (src/url.ts). */
export const PUBSUB_BASE_URL_PARAMS: ReadonlySet<string> = new Set(['emulatorHost']);

/** Query parameters {@link parsePubSubOptions} reads from a `pubsub://` URL. */
export const PUBSUB_URL_PARAMS: ReadonlySet<string> = new Set([
  'autoCreate',
  'ackDeadlineSeconds',
  'subscriptionPrefix',
  'batchMaxMessages',
  'batchMaxMilliseconds',
  'ackBatchMaxMessages',
  'ackBatchMaxMilliseconds',
  'maxMessageBytes',
  'sendTimeoutMs',
]);

/** Characters Pub/Sub allows in topic and subscription names. */
const NAME_CHARACTERS = /^[A-Za-z0-9\-_.~+%]*$/;

/** Longest option name quoted in errors (a longer one may be a pasted secret). */
const MAX_SHOWN_NAME = 41;

const PUBSUB_SPEC: OptionsSpec = {
  broker: 'pubsub',
  title: 'Pub/Sub',
  objectHint: "Pass { broker: 'pubsub', projectId, autoCreate, … } or a pubsub:// URL.",
  urlParams: PUBSUB_URL_PARAMS,
  baseUrlParams: PUBSUB_BASE_URL_PARAMS,
  // Credentials, and the nested forms of the batching options.
  objectOnly: new Set(['keyFilename', 'credentials', 'batching', 'ackBatching']),
  baseConfigKeys: new Set(['broker', 'projectId', 'emulatorHost']),
  examples: {
    autoCreate: 'autoCreate=false',
    ackDeadlineSeconds: 'ackDeadlineSeconds=60',
    subscriptionPrefix: 'subscriptionPrefix=billing- (subscriptions are then billing-<topic>.<group>)',
    maxMessageBytes: 'maxMessageBytes=1000000',
    sendTimeoutMs: 'sendTimeoutMs=30000',
    batchMaxMessages: 'batchMaxMessages=100 (or batching: { maxMessages: 100 })',
    batchMaxMilliseconds: 'batchMaxMilliseconds=10 (or batching: { maxMilliseconds: 10 })',
    ackBatchMaxMessages: 'ackBatchMaxMessages=2500 (or ackBatching: { maxMessages: 2500 })',
    ackBatchMaxMilliseconds: 'ackBatchMaxMilliseconds=10 (or ackBatching: { maxMilliseconds: 10 })',
    batching: 'batching: { maxMessages: 100, maxMilliseconds: 10 }',
    ackBatching: 'ackBatching: { maxMessages: 2500, maxMilliseconds: 10 }',
  },
  // Pub/Sub's wording from before the shared module.
  quoteRule: { maxLength: 60, longer: 'hide' },
  showName: (name) => showName(name, MAX_SHOWN_NAME),
  objectOnlyHint: (name) =>
    `${name} cannot go in a URL (credentials never do); pass it in the config object: connect({ broker: 'pubsub', projectId, ${name} })`,
};

/** Credentials and the nested batching options come from a config object only. */
const OBJECT_CONTEXT: OptionContext = { spec: PUBSUB_SPEC, source: 'config' };

/**
 * Reads and checks the Pub/Sub options from a URL's query (strings: a `ReadonlyMap` or
 * `URLSearchParams`) or a config object (typed values; numeric and boolean strings accepted
 * too). Returns only the options given, validated. Credentials (`keyFilename`, `credentials`)
 * are accepted from a config object only, never from a URL, and are never quoted in errors.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object: naming the
 *   option and what it must be.
 */
export function parsePubSubOptions(params: OptionParams): Partial<PubSubOptions> {
  const context = collectOptions(PUBSUB_SPEC, params);
  const options: Partial<PubSubOptions> = {};
  let batching: Partial<PubSubBatching> | undefined;
  let ackBatching: Partial<PubSubAckBatching> | undefined;
  for (const [name, value] of context.entries) {
    switch (name) {
      case 'autoCreate':
        options.autoCreate = boolean(context, name, value);
        break;
      case 'ackDeadlineSeconds':
        options.ackDeadlineSeconds = integer(context, name, value, 10, 600);
        break;
      case 'subscriptionPrefix':
        options.subscriptionPrefix = subscriptionPrefix(context, value);
        break;
      case 'maxMessageBytes':
        options.maxMessageBytes = integer(context, name, value, 1_024, PUBSUB_MAX_MESSAGE_BYTES);
        break;
      case 'sendTimeoutMs':
        options.sendTimeoutMs = integer(context, name, value, 1_000, 600_000);
        break;
      case 'batchMaxMessages':
        batching = { ...batching, maxMessages: integer(context, name, value, 1, 1_000) };
        break;
      case 'batchMaxMilliseconds':
        batching = { ...batching, maxMilliseconds: integer(context, name, value, 0, 10_000) };
        break;
      case 'ackBatchMaxMessages':
        ackBatching = { ...ackBatching, maxMessages: integer(context, name, value, 1, 2_500) };
        break;
      case 'ackBatchMaxMilliseconds':
        ackBatching = { ...ackBatching, maxMilliseconds: integer(context, name, value, 0, 1_000) };
        break;
      case 'batching':
        batching = { ...nested(value, 'batching', 'batchMaxMessages', 'batchMaxMilliseconds'), ...batching };
        break;
      case 'ackBatching':
        ackBatching = {
          ...nested(value, 'ackBatching', 'ackBatchMaxMessages', 'ackBatchMaxMilliseconds'),
          ...ackBatching,
        };
        break;
      case 'keyFilename':
        if (typeof value !== 'string' || value.trim() === '') {
          throw fail(context, 'keyFilename must be a non-empty path', 'Example: keyFilename: "/secrets/sa.json".');
        }
        options.keyFilename = value;
        break;
      case 'credentials':
        options.credentials = credentials(value);
        break;
    }
  }
  if (batching !== undefined) options.batching = { ...PUBSUB_DEFAULTS.batching, ...batching };
  if (ackBatching !== undefined) options.ackBatching = { ...PUBSUB_DEFAULTS.ackBatching, ...ackBatching };
  if (options.keyFilename !== undefined && options.credentials !== undefined) {
    throw fail(
      context,
      'keyFilename and credentials are both given',
      'Give one of them, or neither to use Application Default Credentials',
    );
  }
  return options;
}

/** All options: those given (validated by {@link parsePubSubOptions}) over the defaults. */
export function resolvePubSubOptions(
  input: ReadonlyMap<string, string> | Readonly<Record<string, unknown>> = {},
): PubSubOptions {
  return { ...PUBSUB_DEFAULTS, ...parsePubSubOptions(input) };
}

/** The nested `batching` / `ackBatching` object, checked field by field. */
function nested(
  value: unknown,
  name: 'batching' | 'ackBatching',
  messagesParam: string,
  millisecondsParam: string,
): Partial<PubSubBatching> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(
      OBJECT_CONTEXT,
      `${name} must be an object { maxMessages, maxMilliseconds }`,
      exampleOf(OBJECT_CONTEXT, name),
    );
  }
  const fields = value as Record<string, unknown>;
  const result: Partial<PubSubBatching> = {};
  for (const [field, fieldValue] of Object.entries(fields)) {
    if (fieldValue === undefined) continue;
    const ack = name === 'ackBatching';
    if (field === 'maxMessages') {
      result.maxMessages = integer(
        OBJECT_CONTEXT,
        `${name}.maxMessages`,
        fieldValue,
        1,
        ack ? 2_500 : 1_000,
        [],
        messagesParam,
      );
    } else if (field === 'maxMilliseconds') {
      const max = ack ? 1_000 : 10_000;
      result.maxMilliseconds = integer(
        OBJECT_CONTEXT,
        `${name}.maxMilliseconds`,
        fieldValue,
        0,
        max,
        [],
        millisecondsParam,
      );
    } else {
      throw fail(
        OBJECT_CONTEXT,
        `unknown option ${showName(`${name}.${field}`, MAX_SHOWN_NAME)}`,
        exampleOf(OBJECT_CONTEXT, name),
      );
    }
  }
  return result;
}

function credentials(value: unknown): ResolvedPubSubCredentials {
  const hint =
    'Pass { client_email, private_key } from a service account key (or keyFilename), or leave both out to use Application Default Credentials';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(OBJECT_CONTEXT, 'credentials must be an object { client_email, private_key }', hint);
  }
  const fields = value as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (field !== 'client_email' && field !== 'private_key') {
      // Not quoted: a pasted key file may hold more secrets than the two fields.
      throw fail(OBJECT_CONTEXT, 'credentials may hold only client_email and private_key', hint);
    }
  }
  const email = fields.client_email;
  if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw fail(OBJECT_CONTEXT, 'credentials.client_email must be a service account e-mail', hint);
  }
  const key = fields.private_key;
  if (key instanceof Secret) {
    if (!key.reveal().includes('PRIVATE KEY')) {
      throw fail(OBJECT_CONTEXT, 'credentials.private_key must be a PEM private key (value not shown)', hint);
    }
    return { client_email: email, private_key: key };
  }
  if (typeof key !== 'string' || !key.includes('PRIVATE KEY')) {
    throw fail(OBJECT_CONTEXT, 'credentials.private_key must be a PEM private key (value not shown)', hint);
  }
  return { client_email: email, private_key: new Secret(key) };
}

function subscriptionPrefix(context: OptionContext, value: unknown): string {
  if (typeof value !== 'string') {
    throw fail(
      context,
      `subscriptionPrefix must be a string, not ${quote(context, value)}`,
      exampleOf(context, 'subscriptionPrefix'),
    );
  }
  if (value.length > 200 || !NAME_CHARACTERS.test(value)) {
    throw fail(
      context,
      `subscriptionPrefix ${quote(context, value)} may hold at most 200 of the characters Pub/Sub allows in names (letters, digits, "-", "_", ".", "~", "+", "%")`,
      exampleOf(context, 'subscriptionPrefix'),
    );
  }
  if (value !== '' && (!/^[A-Za-z]/.test(value) || value.startsWith('goog'))) {
    throw fail(
      context,
      `subscriptionPrefix ${quote(context, value)} must start with a letter and not with "goog" (subscription names start with it)`,
      exampleOf(context, 'subscriptionPrefix'),
    );
  }
  return value;
}
