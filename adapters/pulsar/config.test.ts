import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import {
  maxMessageBytesOf,
  PULSAR_BINARY_MAX_MESSAGE_BYTES,
  PULSAR_DEFAULTS,
  PULSAR_WS_MAX_MESSAGE_BYTES,
  parsePulsarOptions,
  resolvePulsarOptions,
} from './config.js';

const query = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('parsePulsarOptions', () => {
  it('reads every URL option, typed, and skips the base parameters', () => {
    const options = parsePulsarOptions(
      query({
        tenant: 't',
        namespace: 'ns',
        token: 'secret',
        subscriptionType: 'Failover',
        partitions: '4',
        autoCreate: 'false',
        compression: 'zstd',
        batching: '0',
        batchingMaxDelayMs: '5',
        sendTimeoutMs: '15000',
        operationTimeoutMs: '20000',
        connectTimeoutMs: '3000',
        maxMessageBytes: '1048576',
        adminUrl: 'https://pulsar.internal:8443/',
      }),
    );
    expect(options).toEqual({
      subscriptionType: 'Failover',
      partitions: 4,
      autoCreate: false,
      compression: 'zstd',
      batching: false,
      batchingMaxDelayMs: 5,
      sendTimeoutMs: 15_000,
      operationTimeoutMs: 20_000,
      connectTimeoutMs: 3000,
      maxMessageBytes: 1_048_576,
      adminUrl: 'https://pulsar.internal:8443',
    });
  });

  it('accepts typed values and a whole PulsarConfig in a config object', () => {
    const options = parsePulsarOptions({
      broker: 'pulsar',
      transport: 'binary',
      serviceUrl: 'pulsar://h:6650',
      tls: true,
      tenant: 'public',
      namespace: 'default',
      token: new Secret('x'),
      subscriptionType: 'Shared',
      partitions: 3,
      batching: true,
      tlsOptions: { ca: '-----BEGIN CERTIFICATE-----', rejectUnauthorized: true },
    });
    expect(options.subscriptionType).toBe('Shared');
    expect(options.partitions).toBe(3);
    expect(options.batching).toBe(true);
    expect(options.tlsOptions?.rejectUnauthorized).toBe(true);
    expect(options.tlsOptions?.ca).toEqual(['-----BEGIN CERTIFICATE-----']);
  });

  it('gives URL errors for a query and config errors for an object, naming the option', () => {
    expect(() => parsePulsarOptions(query({ subscriptionType: 'key_shared' }))).toThrow(InvalidUrlError);
    expect(() => parsePulsarOptions(query({ subscriptionType: 'key_shared' }))).toThrow(
      /subscriptionType must be one of Key_Shared/,
    );
    expect(() => parsePulsarOptions({ subscriptionType: 'Keyed' })).toThrow(InvalidConfigError);
    expect(() => parsePulsarOptions(query({ partitions: '-1' }))).toThrow(/partitions must be an integer from 0/);
    expect(() => parsePulsarOptions(query({ partitions: '1.5' }))).toThrow(/partitions/);
    expect(() => parsePulsarOptions({ partitions: 10_001 })).toThrow(/partitions/);
    expect(() => parsePulsarOptions(query({ autoCreate: 'yes' }))).toThrow(/autoCreate must be true or false/);
    expect(() => parsePulsarOptions(query({ compression: 'gzip' }))).toThrow(/compression must be one of none, lz4/);
    expect(() => parsePulsarOptions(query({ sendTimeoutMs: '10' }))).toThrow(
      /sendTimeoutMs must be an integer from 100/,
    );
    expect(() => parsePulsarOptions(query({ maxMessageBytes: '100' }))).toThrow(/maxMessageBytes/);
  });

  it('refuses unknown options, and tlsOptions in a URL with the way to pass them', () => {
    expect(() => parsePulsarOptions(query({ subscriptiontype: 'Shared' }))).toThrow(
      /unknown query parameter "subscriptiontype"/,
    );
    expect(() => parsePulsarOptions(query({ tlsOptions: 'x' }))).toThrow(/cannot go in a URL/);
    expect(() => parsePulsarOptions({ partition: 2 })).toThrow(/unknown option "partition"/);
    expect(() => parsePulsarOptions(null as unknown as Record<string, unknown>)).toThrow(InvalidConfigError);
  });

  it('checks adminUrl and never quotes a value that looks like credentials', () => {
    expect(() => parsePulsarOptions(query({ adminUrl: 'ftp://h' }))).toThrow(/adminUrl must be http\(s\):\/\/host/);
    expect(() => parsePulsarOptions(query({ adminUrl: 'http://h:99999' }))).toThrow(/adminUrl/);
    let message = '';
    try {
      parsePulsarOptions(query({ adminUrl: 'http://user:hunter2@h:8080' }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('(value not shown)');
    expect(message).not.toContain('hunter2');
  });

  it('checks tlsOptions like every adapter (cert and key together)', () => {
    expect(() => parsePulsarOptions({ tlsOptions: { cert: 'PEM' } })).toThrow(/go together/);
    expect(() => parsePulsarOptions({ tlsOptions: 'yes' })).toThrow(/tlsOptions must be an object/);
  });
});

describe('resolvePulsarOptions', () => {
  it('fills in the defaults', () => {
    expect(resolvePulsarOptions({})).toEqual(PULSAR_DEFAULTS);
    expect(PULSAR_DEFAULTS.subscriptionType).toBe('Key_Shared');
    expect(PULSAR_DEFAULTS.sendTimeoutMs).toBe(30_000);
  });

  it('refuses tlsOptions without TLS', () => {
    expect(() => resolvePulsarOptions({ tls: false, tlsOptions: { rejectUnauthorized: false } })).toThrow(
      /tlsOptions are given but TLS is off/,
    );
    expect(resolvePulsarOptions({ tls: true, tlsOptions: { rejectUnauthorized: false } }).tlsOptions).toEqual({
      rejectUnauthorized: false,
    });
  });
});

describe('maxMessageBytesOf', () => {
  it('is 5 MiB on the binary transport and fits one 1 MiB base64 frame over WebSocket', () => {
    expect(maxMessageBytesOf({ maxMessageBytes: undefined }, 'binary')).toBe(PULSAR_BINARY_MAX_MESSAGE_BYTES);
    expect(maxMessageBytesOf({ maxMessageBytes: undefined }, 'websocket')).toBe(PULSAR_WS_MAX_MESSAGE_BYTES);
    expect(Math.ceil(PULSAR_WS_MAX_MESSAGE_BYTES / 3) * 4 + 1024).toBeLessThanOrEqual(1024 * 1024);
    expect(maxMessageBytesOf({ maxMessageBytes: 2048 }, 'websocket')).toBe(2048);
  });
});
