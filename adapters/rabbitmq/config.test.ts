import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { parseRabbitMqOptions, RABBITMQ_DEFAULTS, resolveRabbitMqOptions } from './config.js';

describe('parseRabbitMqOptions', () => {
  it('reads every URL option, skipping the base ones', () => {
    const params = new URLSearchParams(
      'heartbeat=30&exchange=x&queueType=classic&singleActiveConsumer=true&confirmTimeoutMs=5000&maxMessageBytes=2048&autoDeclare=false&connectTimeoutMs=3000',
    );
    expect(parseRabbitMqOptions(params)).toEqual({
      queueType: 'classic',
      singleActiveConsumer: true,
      confirmTimeoutMs: 5000,
      maxMessageBytes: 2048,
      autoDeclare: false,
      connectTimeoutMs: 3000,
    });
    expect(parseRabbitMqOptions(new URLSearchParams('deliveryLimit=20'))).toEqual({ deliveryLimit: 20 });
  });

  it('rejects unknown, repeated and malformed URL options with InvalidUrlError', () => {
    const bad = [
      'queuetype=quorum',
      'queueType=stream',
      'deliveryLimit=0',
      'deliveryLimit=-1',
      'deliveryLimit=1.5',
      'singleActiveConsumer=yes',
      'confirmTimeoutMs=10',
      'maxMessageBytes=999999999999',
      'autoDeclare=true&autoDeclare=false',
      'tlsOptions=x',
    ];
    for (const query of bad) {
      expect(() => parseRabbitMqOptions(new URLSearchParams(query)), query).toThrow(InvalidUrlError);
    }
    expect(() => parseRabbitMqOptions(new URLSearchParams('tlsOptions=x'))).toThrow(/config object/);
  });

  it('takes typed values and numeric strings from a config object, skipping the base fields', () => {
    expect(
      parseRabbitMqOptions({
        broker: 'rabbitmq',
        host: 'h',
        password: new Secret('pw'),
        deliveryLimit: '50',
        singleActiveConsumer: 'true',
        maxMessageBytes: 4096,
      }),
    ).toEqual({ deliveryLimit: 50, singleActiveConsumer: true, maxMessageBytes: 4096 });
  });

  it('rejects unknown fields and wrong types in a config object with InvalidConfigError', () => {
    expect(() => parseRabbitMqOptions({ prefetch: 10 })).toThrow(InvalidConfigError);
    expect(() => parseRabbitMqOptions({ autoDeclare: 'sometimes' })).toThrow(/autoDeclare must be true or false/);
    expect(() => parseRabbitMqOptions({ confirmTimeoutMs: Number.NaN })).toThrow(InvalidConfigError);
    expect(() => parseRabbitMqOptions({ queueType: 'classic', deliveryLimit: 5 })).toThrow(/quorum queues only/);
  });

  it('never quotes a value that may carry credentials', () => {
    try {
      parseRabbitMqOptions(new URLSearchParams('queueType=user:secret@host'));
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain('secret');
    }
  });

  it('checks TLS options and keeps the key secret', () => {
    const options = resolveRabbitMqOptions({ tls: true, tlsOptions: { ca: 'PEM', cert: 'CERT', key: 'KEY-SECRET' } });
    expect(options.tlsOptions?.rejectUnauthorized).toBe(true);
    expect(options.tlsOptions?.key).toBeInstanceOf(Secret);
    expect(JSON.stringify(options)).not.toContain('KEY-SECRET');
    expect(() => resolveRabbitMqOptions({ tlsOptions: { cert: 'CERT' } })).toThrow(/go together/);
    expect(() => resolveRabbitMqOptions({ tlsOptions: { verify: false } })).toThrow(/unknown tlsOptions option/);
    expect(() => resolveRabbitMqOptions({ tls: false, tlsOptions: { ca: 'PEM' } })).toThrow(/TLS is off/);
    expect(() => resolveRabbitMqOptions({ tlsOptions: { key: 42, cert: 'c' } })).toThrow(/key must be/);
  });

  it('fills in the defaults', () => {
    expect(resolveRabbitMqOptions({})).toEqual(RABBITMQ_DEFAULTS);
    expect(RABBITMQ_DEFAULTS.queueType).toBe('quorum');
    expect(RABBITMQ_DEFAULTS.maxMessageBytes).toBe(16 * 1024 * 1024);
  });
});
