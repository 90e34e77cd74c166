import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import type { KafkaConfig } from '../../src/url.js';

const base: KafkaConfig = { broker: 'kafka', brokers: ['127.0.0.1:1'], clientId: 'unit', ssl: false };

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

describe('createAdapter (kafka)', () => {
  it('declares what Kafka can do, and reports the configured size limit', async () => {
    const { createAdapter, KAFKA_CAPABILITIES } = await import('./index.js');
    expect(KAFKA_CAPABILITIES).toMatchObject({
      perKeyOrdering: true,
      persistent: true,
      replay: true,
      nativeDelay: false,
      nativeDeadLetter: false,
      maxMessageBytes: 1_046_528,
    });
    const adapter = await createAdapter({ ...base, maxMessageBytes: 2_000_000 });
    expect(adapter.broker).toBe('kafka');
    expect(adapter.capabilities.maxMessageBytes).toBe(2_000_000);
    await adapter.close();
    expect((await adapter.health()).ok).toBe(false);
  });

  it('checks the config before loading anything', async () => {
    const { createAdapter } = await import('./index.js');
    await expect(createAdapter({ ...base, broker: 'memory' } as unknown as KafkaConfig)).rejects.toBeInstanceOf(
      InvalidConfigError,
    );
    await expect(createAdapter({ ...base, brokers: [] })).rejects.toThrow(/brokers must be a non-empty list/);
    await expect(createAdapter({ ...base, partitions: 0 })).rejects.toThrow(/partitions must be an integer/);
    await expect(createAdapter({ ...base, acks: 1 })).rejects.toThrow(/idempotent producer/);
    await expect(createAdapter({ ...base, partitionz: 3 } as unknown as KafkaConfig)).rejects.toThrow(
      /unknown option "partitionz"/,
    );
  });

  it('can be imported without kafkajs, and says what to install when it is missing', async () => {
    // A child process where resolving "kafkajs" fails exactly as it does when it is not installed.
    const dir = mkdtempSync(join(tmpdir(), 'polybus-no-kafkajs-'));
    const hook = `export async function resolve(specifier, context, next) {
      if (specifier === 'kafkajs') {
        const error = new Error("Cannot find package 'kafkajs' imported from " + context.parentURL);
        error.code = 'ERR_MODULE_NOT_FOUND';
        throw error;
      }
      return next(specifier, context);
    }`;
    writeFileSync(
      join(dir, 'hide.mjs'),
      `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
    );
    const script = `
      const { createAdapter } = await import(${JSON.stringify(pathToFileURL(join(here, 'index.ts')).href)});
      const error = await createAdapter({ broker: 'kafka', brokers: ['127.0.0.1:1'], clientId: 'x', ssl: false }).catch((e) => e);
      console.log(JSON.stringify({ name: error?.name, packageName: error?.packageName, message: error?.message }));`;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', '--import', pathToFileURL(join(dir, 'hide.mjs')).href, '--input-type=module', '-e', script],
      { cwd: join(here, '..', '..') },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    expect(result.name).toBe('AdapterNotInstalledError');
    expect(result.packageName).toBe('kafkajs');
    expect(result.message).toMatch(/npm install kafkajs/);
  }, 30_000);

  it('refuses topic names Kafka would reject, before any request', async () => {
    const { createAdapter } = await import('./index.js');
    const adapter = await createAdapter(base);
    await expect(
      adapter.publish('bad topic!', [{ value: new Uint8Array(1), headers: {}, timestamp: 0 }]),
    ).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(
      adapter.subscribe({
        topic: 'x'.repeat(250),
        group: 'g',
        prefetch: 1,
        from: 'latest',
        onDelivery: () => {},
        onError: () => {},
      }),
    ).rejects.toThrow(/not a valid Kafka topic name/);
    await adapter.close();
  });
});
