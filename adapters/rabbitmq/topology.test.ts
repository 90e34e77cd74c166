import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { checkExchangeName, checkQueueName, queueArguments, queueName } from './topology.js';

describe('queue names', () => {
  it('is <topic>.<group> with dots and percents in the group escaped', () => {
    expect(queueName('orders', 'billing')).toBe('orders.billing');
    expect(queueName('a.b', 'c')).toBe('a.b.c');
    expect(queueName('a', 'b.c')).toBe('a.b%2Ec');
    expect(queueName('a', 'b%2Ec')).toBe('a.b%252Ec');
  });

  it('never gives two topic/group pairs the same queue', () => {
    const parts = ['a', 'b', 'a.b', 'b.c', 'c', '%2E', '.', 'a.', '.b', '%', 'a%2Eb'];
    const seen = new Map<string, string>();
    for (const topic of parts) {
      for (const group of parts) {
        const name = queueName(topic, group);
        const pair = JSON.stringify([topic, group]);
        expect(seen.get(name) ?? pair, name).toBe(pair);
        seen.set(name, pair);
      }
    }
  });

  it('refuses names RabbitMQ would refuse', () => {
    expect(() => checkQueueName('t'.repeat(256), 'g')).toThrow(/255/);
    expect(() => checkQueueName('t'.repeat(200), 'g'.repeat(60))).toThrow(InvalidConfigError);
    expect(() => checkQueueName('amq.x', 'g')).toThrow(/reserves/);
    expect(checkQueueName('orders.v1', 'billing')).toBe('orders.v1.billing');
    expect(() => checkExchangeName('')).toThrow(InvalidConfigError);
  });
});

describe('queue arguments', () => {
  it('sets the type, the delivery limit and single active consumer explicitly', () => {
    expect(queueArguments({ queueType: 'quorum', deliveryLimit: 7, singleActiveConsumer: false })).toEqual({
      'x-queue-type': 'quorum',
      'x-delivery-limit': 7,
    });
    expect(queueArguments({ queueType: 'classic', deliveryLimit: 7, singleActiveConsumer: true })).toEqual({
      'x-single-active-consumer': true,
    });
  });
});
