import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import type { PubSubConfig } from '../../src/url.js';
import { createAdapter, PUBSUB_CAPABILITIES, type PubSubAdapterConfig } from './index.js';

const base: PubSubConfig = { broker: 'pubsub', projectId: 'polybus-test', emulatorHost: '127.0.0.1:1' };

describe('createAdapter (pubsub)', () => {
  it('declares honest capabilities: ordered, persistent, no replay, delays held by the core', () => {
    expect(PUBSUB_CAPABILITIES).toEqual({
      perKeyOrdering: true,
      persistent: true,
      replay: false,
      nativeDelay: false,
      nativeDeadLetter: false,
      maxMessageBytes: 10_000_000,
      maxBatch: 10_000,
    });
    expect(Object.isFrozen(PUBSUB_CAPABILITIES)).toBe(true);
  });

  it('refuses a config of another broker, a bad project id or emulator host, and bad options', async () => {
    await expect(createAdapter({ broker: 'kafka' } as unknown as PubSubAdapterConfig)).rejects.toThrow(
      /the pubsub adapter got a kafka config/,
    );
    await expect(createAdapter({ ...base, projectId: 'Bad_Project' })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(createAdapter({ ...base, emulatorHost: 'http://x' })).rejects.toThrow(
      /emulatorHost must be host:port/,
    );
    await expect(createAdapter({ ...base, ackDeadlineSeconds: 5 })).rejects.toThrow(
      /ackDeadlineSeconds must be an integer from 10 to 600/,
    );
    await expect(createAdapter({ ...base, tls: true } as unknown as PubSubAdapterConfig)).rejects.toThrow(
      /unknown option "tls"/,
    );
  });

  it('makes an adapter without touching the network, reporting its configured size limit', async () => {
    const adapter = await createAdapter({ ...base, maxMessageBytes: 4_000_000, autoCreate: false });
    expect(adapter.broker).toBe('pubsub');
    expect(adapter.capabilities).toEqual({ ...PUBSUB_CAPABILITIES, maxMessageBytes: 4_000_000 });
    await adapter.close();
    expect(await adapter.health()).toEqual({ ok: false, broker: 'pubsub', detail: 'closed' });
    await expect(adapter.publish('orders', [])).rejects.toThrow(/closed/);
  });
});

describe('the client is optional', () => {
  it('is loaded only through importClient: no module here imports it at run time', () => {
    const dir = dirname(fileURLToPath(import.meta.url));
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const line of source.split('\n').filter((l) => l.includes("'@google-cloud/pubsub'"))) {
        expect(line, `${file}: ${line}`).toMatch(/^import type |importClient|typeof import\(/);
      }
    }
    const index = readFileSync(join(dir, 'index.ts'), 'utf8');
    expect(index).toMatch(/importClient<[^>]+>\('pubsub', '@google-cloud\/pubsub'\)/);
    expect(readFileSync(join(dir, 'config.ts'), 'utf8')).not.toMatch(/from '@google-cloud\/pubsub'/);
  });
});
