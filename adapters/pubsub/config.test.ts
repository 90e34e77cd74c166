import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { PUBSUB_DEFAULTS, PUBSUB_URL_PARAMS, parsePubSubOptions, resolvePubSubOptions } from './config.js';

const query = (text: string): ReadonlyMap<string, string> => new Map(new URLSearchParams(text));
const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';

describe('parsePubSubOptions', () => {
  it('returns only what was given, typed, from a URL query (a Map, as parseQuery makes)', () => {
    expect(
      parsePubSubOptions(
        query(
          'emulatorHost=127.0.0.1:8085&autoCreate=false&ackDeadlineSeconds=60&subscriptionPrefix=billing-&batchMaxMessages=500&batchMaxMilliseconds=5&ackBatchMaxMessages=100&ackBatchMaxMilliseconds=50&maxMessageBytes=1000000&sendTimeoutMs=10000',
        ),
      ),
    ).toEqual({
      autoCreate: false,
      ackDeadlineSeconds: 60,
      subscriptionPrefix: 'billing-',
      batching: { maxMessages: 500, maxMilliseconds: 5 },
      ackBatching: { maxMessages: 100, maxMilliseconds: 50 },
      maxMessageBytes: 1_000_000,
      sendTimeoutMs: 10_000,
    });
    expect(parsePubSubOptions(query(''))).toEqual({});
    expect(parsePubSubOptions(new URLSearchParams('autoCreate=0'))).toEqual({ autoCreate: false });
  });

  it('fills the other half of a batching pair from the defaults', () => {
    expect(parsePubSubOptions(query('batchMaxMessages=1000'))).toEqual({
      batching: { maxMessages: 1000, maxMilliseconds: PUBSUB_DEFAULTS.batching.maxMilliseconds },
    });
    expect(parsePubSubOptions({ ackBatching: { maxMilliseconds: 0 } })).toEqual({
      ackBatching: { maxMessages: PUBSUB_DEFAULTS.ackBatching.maxMessages, maxMilliseconds: 0 },
    });
  });

  it('reads a config object, ignoring the base fields, with typed or string values', () => {
    expect(
      parsePubSubOptions({
        broker: 'pubsub',
        projectId: 'my-project',
        emulatorHost: '127.0.0.1:8085',
        autoCreate: 'true',
        ackDeadlineSeconds: 600,
        batching: { maxMessages: 10, maxMilliseconds: 0 },
        keyFilename: '/secrets/sa.json',
        sendTimeoutMs: undefined,
      }),
    ).toEqual({
      autoCreate: true,
      ackDeadlineSeconds: 600,
      batching: { maxMessages: 10, maxMilliseconds: 0 },
      keyFilename: '/secrets/sa.json',
    });
  });

  it('resolves every option over the defaults', () => {
    expect(resolvePubSubOptions()).toEqual(PUBSUB_DEFAULTS);
    expect(resolvePubSubOptions({ autoCreate: false })).toEqual({ ...PUBSUB_DEFAULTS, autoCreate: false });
    expect(PUBSUB_DEFAULTS).toMatchObject({
      autoCreate: true,
      ackDeadlineSeconds: 10,
      subscriptionPrefix: '',
      maxMessageBytes: 10_000_000,
      sendTimeoutMs: 30_000,
    });
  });

  it.each([
    ['autoCreate=yes', /autoCreate must be true or false, not "yes"/],
    ['ackDeadlineSeconds=9', /ackDeadlineSeconds must be an integer from 10 to 600, not "9"/],
    ['ackDeadlineSeconds=601', /from 10 to 600/],
    ['ackDeadlineSeconds=1.5', /ackDeadlineSeconds must be an integer/],
    ['batchMaxMessages=1001', /batchMaxMessages must be an integer from 1 to 1000/],
    ['batchMaxMilliseconds=-1', /batchMaxMilliseconds must be an integer from 0 to 10000/],
    ['ackBatchMaxMessages=0', /ackBatchMaxMessages must be an integer from 1 to 2500/],
    ['ackBatchMaxMilliseconds=5000', /ackBatchMaxMilliseconds must be an integer from 0 to 1000/],
    ['maxMessageBytes=10000001', /maxMessageBytes must be an integer from 1024 to 10000000/],
    ['sendTimeoutMs=10', /sendTimeoutMs must be an integer from 1000 to 600000/],
    ['subscriptionPrefix=1abc', /subscriptionPrefix "1abc" must start with a letter/],
    ['subscriptionPrefix=google-', /not with "goog"/],
    ['subscriptionPrefix=a%2Fb', /may hold at most 200 of the characters/],
    ['partitions=3', /unknown query parameter "partitions"/],
  ])('rejects %s with an InvalidUrlError naming the option', (text, message) => {
    const parse = () => parsePubSubOptions(query(text));
    expect(parse).toThrow(InvalidUrlError);
    expect(parse).toThrow(message);
  });

  it('keeps credentials out of URLs, and says where they go', () => {
    for (const name of ['keyFilename', 'credentials', 'batching']) {
      const parse = () => parsePubSubOptions(query(`${name}=x`));
      expect(parse).toThrow(InvalidUrlError);
      expect(parse).toThrow(/pass it in the config object/);
    }
  });

  it('rejects a parameter given twice in URLSearchParams', () => {
    expect(() => parsePubSubOptions(new URLSearchParams('autoCreate=true&autoCreate=false'))).toThrow(
      /autoCreate is given 2 times/,
    );
  });

  it('rejects bad config object fields with an InvalidConfigError', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ autoCreate: 1 }, /autoCreate must be true or false, not 1/],
      [{ batching: [] }, /batching must be an object/],
      [{ batching: { maxMessages: 0 } }, /batching.maxMessages must be an integer from 1 to 1000/],
      [{ batching: { maxBytes: 5 } }, /unknown option "batching.maxBytes"/],
      [{ ackBatching: { maxMilliseconds: 2000 } }, /ackBatching.maxMilliseconds must be an integer from 0 to 1000/],
      [{ keyFilename: '' }, /keyFilename must be a non-empty path/],
      [{ subscriptionPrefix: 5 }, /subscriptionPrefix must be a string/],
      [{ partitions: 3 }, /unknown option "partitions"/],
      [{ credentials: 'x' }, /credentials must be an object/],
      [{ credentials: { client_email: 'svc@p.iam.gserviceaccount.com' } }, /private_key must be a PEM private key/],
      [{ credentials: { client_email: 'nope', private_key: PEM } }, /client_email must be a service account e-mail/],
      [
        { credentials: { client_email: 'a@b', private_key: PEM, private_key_id: 'k' } },
        /only client_email and private_key/,
      ],
      [
        { keyFilename: '/k.json', credentials: { client_email: 'a@b', private_key: PEM } },
        /keyFilename and credentials are both given/,
      ],
    ];
    for (const [input, message] of cases) {
      const parse = () => parsePubSubOptions(input);
      expect(parse).toThrow(InvalidConfigError);
      expect(parse).toThrow(message);
    }
    expect(() => parsePubSubOptions(null as unknown as Record<string, unknown>)).toThrow(InvalidConfigError);
  });

  it('wraps the private key in a Secret and never shows it, valid or not', () => {
    const options = parsePubSubOptions({
      credentials: { client_email: 'svc@p.iam.gserviceaccount.com', private_key: PEM },
    });
    expect(options.credentials?.private_key).toBeInstanceOf(Secret);
    expect(options.credentials?.private_key.reveal()).toBe(PEM);
    expect(JSON.stringify(options)).not.toContain('MIIE');
    expect(inspect(options, { depth: 5 })).not.toContain('MIIE');
    const secret = new Secret(PEM);
    expect(
      parsePubSubOptions({ credentials: { client_email: 'a@b', private_key: secret } }).credentials?.private_key,
    ).toBe(secret);
    const notAKey = 'super-secret-value-1234';
    try {
      parsePubSubOptions({ credentials: { client_email: 'a@b', private_key: notAKey } });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(notAKey);
      expect(inspect(error)).not.toContain(notAKey);
    }
  });

  it('does not quote a value that may carry credentials, or a long unknown name', () => {
    const parse = () => parsePubSubOptions(query('subscriptionPrefix=user:pass@host'));
    expect(parse).toThrow(/\(value not shown\)/);
    expect(parse).not.toThrow(/pass@host/);
    expect(() => parsePubSubOptions({ 'ya29.a0AfH6SMBxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx': 1 })).toThrow(
      /unknown option \(name not shown\)/,
    );
  });

  it('lists its URL parameters', () => {
    expect([...PUBSUB_URL_PARAMS].sort()).toEqual(
      [
        'ackBatchMaxMessages',
        'ackBatchMaxMilliseconds',
        'ackDeadlineSeconds',
        'autoCreate',
        'batchMaxMessages',
        'batchMaxMilliseconds',
        'maxMessageBytes',
        'sendTimeoutMs',
        'subscriptionPrefix',
      ].sort(),
    );
  });
});
