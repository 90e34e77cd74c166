import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { nodeTlsOptions, parseTlsOptions } from './tls.js';

describe('parseTlsOptions', () => {
  it('normalises the CA list, wraps key and passphrase, verifies by default', () => {
    const tls = parseTlsOptions('rabbitmq', 'tlsOptions', {
      ca: Buffer.from('CA'),
      cert: 'CERT',
      key: Buffer.from('KEY'),
      passphrase: 'pass-secret',
      servername: 'broker.internal',
    });
    expect(tls.ca).toHaveLength(1);
    expect(tls.key).toBeInstanceOf(Secret);
    expect(tls.rejectUnauthorized).toBe(true);
    expect(inspect(tls)).not.toContain('pass-secret');
    expect(nodeTlsOptions(tls)).toMatchObject({ key: 'KEY', passphrase: 'pass-secret', servername: 'broker.internal' });
    expect(parseTlsOptions('kafka', 'tls', { rejectUnauthorized: false }).rejectUnauthorized).toBe(false);
  });

  it('names the bad field and never quotes a key', () => {
    expect(() => parseTlsOptions('rabbitmq', 'tlsOptions', 'yes')).toThrow(/tlsOptions must be an object/);
    expect(() => parseTlsOptions('rabbitmq', 'tlsOptions', { ca: [] })).toThrow(/tlsOptions.ca/);
    expect(() => parseTlsOptions('rabbitmq', 'tlsOptions', { servername: '' })).toThrow(InvalidConfigError);
    expect(() => parseTlsOptions('rabbitmq', 'tlsOptions', { rejectUnauthorized: 'no' })).toThrow(/true or false/);
    try {
      parseTlsOptions('rabbitmq', 'tlsOptions', { cert: 'c', key: { secret: 'top-secret-key' } });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/tlsOptions.key must be/);
      expect(String(error)).not.toContain('top-secret-key');
    }
  });
});
