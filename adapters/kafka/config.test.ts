import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { KAFKA_DEFAULTS, KAFKA_URL_PARAMS, parseKafkaOptions, resolveKafkaOptions } from './config.js';

const url = (query: string) => new URLSearchParams(query);

describe('parseKafkaOptions', () => {
  it('returns only what was given, typed, from a URL query', () => {
    expect(
      parseKafkaOptions(
        url(
          'clientId=app&partitions=6&replicationFactor=3&autoCreateTopics=false&compression=gzip&sessionTimeoutMs=45000&heartbeatIntervalMs=5000&maxMessageBytes=2000000&sendTimeoutMs=10000&logLevel=warn',
        ),
      ),
    ).toEqual({
      partitions: 6,
      replicationFactor: 3,
      autoCreateTopics: false,
      compression: 'gzip',
      sessionTimeoutMs: 45_000,
      heartbeatIntervalMs: 5_000,
      maxMessageBytes: 2_000_000,
      sendTimeoutMs: 10_000,
      logLevel: 'warn',
    });
    expect(parseKafkaOptions(url(''))).toEqual({});
  });

  it('reads a query already split into a Map (as src/url.ts holds it) like a URL', () => {
    expect(
      parseKafkaOptions(
        new Map([
          ['partitions', '6'],
          ['clientId', 'x'],
        ]),
      ),
    ).toEqual({ partitions: 6 });
    expect(() => parseKafkaOptions(new Map([['partitions', 'x']]))).toThrow(InvalidUrlError);
    expect(() => parseKafkaOptions(new Map([['nope', '1']]))).toThrow(/unknown query parameter "nope"/);
  });

  it('ignores the parameters the base URL parser handles', () => {
    expect(parseKafkaOptions(url('clientId=a&ssl=true&sasl=plain&username=u&password=p'))).toEqual({});
  });

  it('accepts -1 for the broker defaults and acks=all', () => {
    expect(parseKafkaOptions(url('partitions=-1&replicationFactor=-1&acks=all'))).toEqual({
      partitions: -1,
      replicationFactor: -1,
      acks: -1,
    });
  });

  it('reports unknown parameters and repeated ones as InvalidUrlError', () => {
    expect(() => parseKafkaOptions(url('partition=3'))).toThrow(InvalidUrlError);
    expect(() => parseKafkaOptions(url('partition=3'))).toThrow(/unknown query parameter "partition".*partitions/);
    expect(() => parseKafkaOptions(url('partitions=1&partitions=2'))).toThrow(/given 2 times/);
    expect(() => parseKafkaOptions(url('tls=1'))).toThrow(/config object/);
  });

  it.each([
    ['partitions=0', /partitions must be an integer from 1 to 100000 or -1, not "0"/],
    ['partitions=2.5', /partitions must be an integer/],
    ['partitions=abc', /partitions must be an integer/],
    ['replicationFactor=0', /replicationFactor/],
    ['autoCreateTopics=yes', /autoCreateTopics must be true or false, not "yes"/],
    ['compression=lz4', /compression must be none or gzip, not "lz4"/],
    ['acks=2', /acks must be an integer from -1 to 1/],
    ['sessionTimeoutMs=10', /sessionTimeoutMs must be an integer from 1000/],
    ['maxMessageBytes=10', /maxMessageBytes must be an integer from 1024/],
    ['sendTimeoutMs=5', /sendTimeoutMs/],
    ['logLevel=loud', /logLevel must be one of nothing, error, warn, info, debug/],
  ])('rejects %s', (query, message) => {
    expect(() => parseKafkaOptions(url(query))).toThrow(InvalidUrlError);
    expect(() => parseKafkaOptions(url(query))).toThrow(message);
  });

  it('refuses acks 0/1 with the idempotent producer, and allows them without it', () => {
    expect(() => parseKafkaOptions(url('acks=1'))).toThrow(/acks 1 does not go with the idempotent producer/);
    expect(() => parseKafkaOptions({ acks: 0, idempotent: true })).toThrow(InvalidConfigError);
    expect(parseKafkaOptions(url('acks=1&idempotent=false'))).toEqual({ acks: 1, idempotent: false });
  });

  it('requires the heartbeat interval below the session timeout, defaults included', () => {
    expect(() => parseKafkaOptions(url('heartbeatIntervalMs=30000'))).toThrow(
      /must be below sessionTimeoutMs \(30000\)/,
    );
    expect(() => parseKafkaOptions(url('sessionTimeoutMs=2000'))).toThrow(/heartbeatIntervalMs \(3000\)/);
    expect(parseKafkaOptions(url('sessionTimeoutMs=6000&heartbeatIntervalMs=1000'))).toEqual({
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 1000,
    });
  });

  it('reads a config object with typed values, ignoring the base KafkaConfig keys', () => {
    const onLog = () => {};
    expect(
      parseKafkaOptions({
        broker: 'kafka',
        brokers: ['h:9092'],
        clientId: 'x',
        ssl: false,
        partitions: 12,
        autoCreateTopics: false,
        onLog,
        compression: undefined,
      }),
    ).toEqual({ partitions: 12, autoCreateTopics: false, onLog });
  });

  it('reports unknown or mistyped config keys as InvalidConfigError', () => {
    expect(() => parseKafkaOptions({ partitionz: 3 })).toThrow(InvalidConfigError);
    expect(() => parseKafkaOptions({ partitionz: 3 })).toThrow(/unknown option "partitionz"/);
    expect(() => parseKafkaOptions({ partitions: '3x' })).toThrow(/not "3x"/);
    expect(() => parseKafkaOptions({ partitions: {} })).toThrow(/not a object/);
    expect(() => parseKafkaOptions({ onLog: 'console' })).toThrow(/onLog must be a function/);
  });

  it('wraps TLS keys in Secrets and never quotes them in errors or output', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY\n-----END PRIVATE KEY-----';
    const options = parseKafkaOptions({
      tls: { ca: 'CA-PEM', cert: Buffer.from('CERT-PEM'), key: Buffer.from(key), passphrase: 'pass-phrase-123' },
    });
    expect(options.tls?.key).toBeInstanceOf(Secret);
    expect(options.tls?.key?.reveal()).toBe(key);
    expect(options.tls?.passphrase?.reveal()).toBe('pass-phrase-123');
    expect(options.tls?.ca).toEqual(['CA-PEM']);
    expect(options.tls?.rejectUnauthorized).toBe(true);
    const printed = `${inspect(options, { depth: 5 })} ${JSON.stringify(options)}`;
    expect(printed).not.toContain('TOP-SECRET-KEY');
    expect(printed).not.toContain('pass-phrase-123');

    let message = '';
    try {
      parseKafkaOptions({ tls: { cert: 'CERT', key: 12345678 } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/tls.key must be a non-empty PEM string, Buffer or Secret/);
    expect(message).not.toContain('12345678');
  });

  it('checks the TLS object', () => {
    expect(() => parseKafkaOptions({ tls: 'yes' })).toThrow(/tls must be an object/);
    expect(() => parseKafkaOptions({ tls: { cafile: 'x' } })).toThrow(/unknown tls option "cafile"/);
    expect(() => parseKafkaOptions({ tls: { cert: 'CERT' } })).toThrow(/tls.cert and tls.key go together/);
    expect(() => parseKafkaOptions({ tls: { ca: [] } })).toThrow(/tls.ca/);
    expect(() => parseKafkaOptions({ tls: { rejectUnauthorized: 'no' } })).toThrow(/rejectUnauthorized/);
    expect(parseKafkaOptions({ tls: { rejectUnauthorized: false, servername: 'kafka.internal' } }).tls).toEqual({
      rejectUnauthorized: false,
      servername: 'kafka.internal',
    });
  });

  it('covers every URL parameter it declares', () => {
    for (const name of KAFKA_URL_PARAMS) {
      expect(() => parseKafkaOptions(url(`${name}=@@@`))).toThrow(InvalidUrlError);
    }
  });
});

describe('resolveKafkaOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveKafkaOptions({})).toEqual(KAFKA_DEFAULTS);
    expect(resolveKafkaOptions({ partitions: 6 })).toEqual({ ...KAFKA_DEFAULTS, partitions: 6 });
    expect(KAFKA_DEFAULTS.maxMessageBytes).toBe(1_048_576 - 2_048);
  });
});
