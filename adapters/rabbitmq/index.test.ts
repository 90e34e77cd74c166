import { describe, expect, it } from 'vitest';
import { BrokerError, InvalidConfigError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import type { RabbitMqConfig } from '../../src/url.js';
import { createAdapter, RABBITMQ_CAPABILITIES, rabbitMqCapabilities } from './index.js';

const base: RabbitMqConfig = {
  broker: 'rabbitmq',
  tls: false,
  host: '127.0.0.1',
  port: 1,
  vhost: '/',
  exchange: 'polybus',
};

describe('createAdapter', () => {
  it('states what holds in each mode', () => {
    expect(RABBITMQ_CAPABILITIES).toMatchObject({
      perKeyOrdering: false,
      replay: false,
      nativeDelay: true,
      persistent: true,
    });
    expect(RABBITMQ_CAPABILITIES.maxMessageBytes).toBe(16 * 1024 * 1024);
    expect(rabbitMqCapabilities({ singleActiveConsumer: true, maxMessageBytes: 2048 })).toMatchObject({
      perKeyOrdering: true,
      maxMessageBytes: 2048,
    });
  });

  it('refuses another broker’s config and bad options before connecting', async () => {
    await expect(createAdapter({ ...base, broker: 'kafka' } as unknown as RabbitMqConfig)).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    await expect(createAdapter({ ...base, queueType: 'stream' } as unknown as RabbitMqConfig)).rejects.toThrow(
      /queueType must be quorum or classic/,
    );
    await expect(createAdapter({ ...base, exchange: '' })).rejects.toThrow(/exchange name/);
  });

  it('fails connect() with a retryable BrokerError naming the broker, never the password', async () => {
    const error = await createAdapter({
      ...base,
      username: 'app',
      password: new Secret('hunter2-secret'),
      connectTimeoutMs: 2_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).retryable).toBe(true);
    expect(String(error)).toContain('amqp://127.0.0.1:1');
    expect(String(error)).not.toContain('hunter2');
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });
});
