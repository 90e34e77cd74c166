import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { checkName, defaultAdminUrl, fullTopicName, PulsarTopology } from './topology.js';

describe('names', () => {
  it('maps a topic into the tenant and namespace', () => {
    expect(fullTopicName('public', 'default', 'orders.dlq')).toBe('persistent://public/default/orders.dlq');
  });

  it('accepts polybus-style names', () => {
    for (const name of ['orders', 'orders.dlq', 'conf-1a2b-x-3', 'a:b=c_d']) {
      expect(() => checkName('topic', name, 'send')).not.toThrow();
    }
  });

  it('refuses what Pulsar would misread, saying why', () => {
    expect(() => checkName('topic', 'tenant/ns/orders', 'send')).toThrow(/namespace separator/);
    expect(() => checkName('topic', 'orders-partition-3', 'send')).toThrow(/partition of a partitioned topic/);
    expect(() => checkName('topic', '', 'send')).toThrow(InvalidConfigError);
    expect(() => checkName('group', 'billing team', 'subscribe')).toThrow(/not a valid Pulsar group name/);
    expect(() => checkName('topic', 'x'.repeat(201), 'send')).toThrow(/at most 200/);
    expect(() => checkName('group', 'g-partition-1', 'subscribe')).not.toThrow();
  });
});

describe('defaultAdminUrl', () => {
  it('is the web service of the broker host, or the WebSocket URL itself', () => {
    expect(defaultAdminUrl('pulsar://pulsar.local:6650', false, 'binary')).toBe('http://pulsar.local:8080');
    expect(defaultAdminUrl('pulsar+ssl://a:6651,b:6651', true, 'binary')).toBe('https://a:8443');
    expect(defaultAdminUrl('ws://h:9090', false, 'websocket')).toBe('http://h:9090');
    expect(defaultAdminUrl('wss://h:8443', true, 'websocket')).toBe('https://h:8443');
  });
});

describe('PulsarTopology', () => {
  it('needs no admin call for non-partitioned topics the broker creates', async () => {
    const topology = new PulsarTopology({
      tenant: 'public',
      namespace: 'default',
      partitions: 0,
      autoCreate: true,
      // Nothing listens here: ensure() must not call it.
      adminUrl: 'http://127.0.0.1:1',
      token: undefined,
      tlsOptions: undefined,
      timeoutMs: 1000,
    });
    expect(topology.usesAdmin).toBe(false);
    await expect(topology.ensure('orders', 'send')).resolves.toBeUndefined();
    expect(topology.topicName('orders', 'send')).toBe('persistent://public/default/orders');
  });

  it('reports an unreachable admin API as a retryable BrokerError', async () => {
    const topology = new PulsarTopology({
      tenant: 'public',
      namespace: 'default',
      partitions: 2,
      autoCreate: true,
      adminUrl: 'http://127.0.0.1:1',
      token: undefined,
      tlsOptions: undefined,
      timeoutMs: 1000,
    });
    await expect(topology.ensure('orders', 'send')).rejects.toMatchObject({ code: 'BROKER_ERROR', retryable: true });
  });
});
