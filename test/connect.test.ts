import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryTopicSizes, resetMemoryBroker } from '../adapters/memory/index.js';
import packageJson from '../package.json' with { type: 'json' };
import { loadFactory } from '../src/broker.js';
import {
  type Adapter,
  AdapterNotInstalledError,
  type BrokerConfig,
  BrokerError,
  ClosedError,
  connect,
  InvalidConfigError,
  InvalidUrlError,
  PolybusError,
  parseBrokerUrl,
  retry,
  Secret,
  TimeoutError,
} from '../src/index.js';
import { importClient, requireClient } from '../src/optional-require.js';
import { spyHandler } from '../src/testing/index.js';

const { version } = packageJson;

afterEach(() => resetMemoryBroker());

describe('connect', () => {
  // A build without an adapter for the URL's transport says so, instead of asking to install a
  // client library that would not help (the old message named kafkajs, pulsar-client…).
  it.each([
    ['kafka://127.0.0.1:9092', 'kafka'],
    ['amqp://127.0.0.1', 'rabbitmq'],
    ['kinesis://us-east-1', 'kinesis'],
    ['pubsub://my-project', 'pubsub'],
    ['pulsar://127.0.0.1:6650', 'pulsar'],
    ['pulsar+ws://127.0.0.1:8080', 'pulsar'],
  ])('says that %s has no adapter when the build has none for it', async (url, broker) => {
    const error = await loadFactory(parseBrokerUrl(url), new Map()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as AdapterNotInstalledError).missing).toEqual({ kind: 'adapter', polybusVersion: version });
    expect((error as Error).message).toContain(`polybus ${version} does not include the ${broker} adapter yet`);
    expect((error as Error).message).toContain('connect(url, { adapter })');
    expect((error as Error).message).not.toContain('npm install');
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'nope', 'core', 42])(
    'rejects the broker name %j with the list of valid names',
    async (broker) => {
      const error = await connect({ broker } as unknown as BrokerConfig).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect((error as Error).message).toContain('memory, kafka, rabbitmq, kinesis, pubsub, pulsar');
      expect((error as Error).message).not.toContain('undefined');
    },
  );

  it.each([undefined, null, 42, [], 'not-a-url'])('rejects the target %j with a typed error', async (target) => {
    const error = await connect(target as unknown as string).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PolybusError);
  });

  it('fills in the defaults of a partial config object', async () => {
    const bus = await connect({ broker: 'memory' } as BrokerConfig);
    await bus.producer().send('t', { value: 1 });
    expect(memoryTopicSizes('default')).toEqual({ t: 1 });
    await bus.close();
  });

  it.each([
    [{ broker: 'memory', name: 7 }, /"name" must be a non-empty string/],
    [{ broker: 'memory', retention: 0 }, /"retention" must be an integer from 1/],
    [{ broker: 'memory', nmae: 'x' }, /unknown field "nmae"/],
    [{ broker: 'kafka' }, /"brokers" must be a non-empty array of "host:port"/],
    [{ broker: 'kafka', brokers: ['h:1'], sasl: { mechanism: 'plain', username: 'u' } }, /"sasl.password"/],
    [{ broker: 'rabbitmq' }, /"host" must be a non-empty string/],
    [{ broker: 'rabbitmq', host: 'h', password: 42 }, /"password" must be a Secret or a non-empty string/],
    [{ broker: 'kinesis', region: 'us-east-1', accessKeyId: 'AKIA' }, /go together/],
    [{ broker: 'pulsar', serviceUrl: 'pulsar://h:6650', namespace: 'a/b' }, /"namespace" must be a string matching/],
  ])('rejects the malformed config %j with an InvalidConfigError', async (config, problem) => {
    const error = await connect(config as unknown as BrokerConfig).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toMatch(problem);
  });

  it('never quotes a config value, and wraps string credentials in Secrets', async () => {
    const bad = { broker: 'rabbitmq', host: 'h', password: 'S3CRET', port: 'S3CRET' };
    const error = await connect(bad as unknown as BrokerConfig).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(inspect(error)).not.toContain('S3CRET');
    const seen: BrokerConfig[] = [];
    const bus = await connect(
      { broker: 'kinesis', region: 'us-east-1', accessKeyId: 'A', secretAccessKey: 'S3CRET' } as never,
      {
        adapter: async (config) => {
          seen.push(config);
          return (await import('../adapters/memory/index.js')).createAdapter({
            broker: 'memory',
            name: 'x',
            retention: 1,
          });
        },
      },
    );
    const config = seen[0];
    if (config?.broker !== 'kinesis') throw new Error('unreachable');
    expect(config.secretAccessKey).toBeInstanceOf(Secret);
    expect(config.secretAccessKey?.reveal()).toBe('S3CRET');
    expect(config.shards).toBe(1);
    await bus.close();
  });

  it('hands fields it does not know on to the adapter, which checks its own options', async () => {
    const seen: unknown[] = [];
    const bus = await connect({ broker: 'kafka', brokers: ['h:9092'], partitions: 6 } as unknown as BrokerConfig, {
      adapter: async (config) => {
        seen.push(config);
        return (await import('../adapters/memory/index.js')).createAdapter({
          broker: 'memory',
          name: 'x',
          retention: 1,
        });
      },
    });
    expect(seen).toEqual([{ broker: 'kafka', brokers: ['h:9092'], clientId: 'polybus', ssl: false, partitions: 6 }]);
    await bus.close();
  });

  it('checks its options', async () => {
    await expect(connect('memory://', { adapter: 'memory' } as never)).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(connect('memory://', { adpater: async () => undefined } as never)).rejects.toThrow(/adapter\?/);
    await expect(connect('memory://', null as never)).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it('rejects a bad URL with a typed error', async () => {
    await expect(connect('nats://x')).rejects.toBeInstanceOf(InvalidUrlError);
  });

  it('shares one in-memory broker between connections with the same name', async () => {
    const a = await connect('memory://shared');
    const b = await connect('memory://shared');
    const spy = spyHandler<{ n: number }>();
    await b.consumer<{ n: number }>({ topic: 't', group: 'g' }).run(spy.handler);
    await a.producer<{ n: number }>().send('t', { value: { n: 1 } });
    await spy.waitForHandled(1);
    expect(memoryTopicSizes('shared')).toEqual({ t: 1 });
    expect(memoryTopicSizes('other')).toEqual({});
    await Promise.all([a.close(), b.close()]);
  });

  it('accepts a custom adapter', async () => {
    const published: string[] = [];
    const adapter: Adapter = {
      broker: 'memory',
      capabilities: {
        perKeyOrdering: false,
        persistent: false,
        replay: false,
        nativeDelay: false,
        nativeDeadLetter: false,
        maxMessageBytes: 100,
        maxBatch: 2,
      },
      publish: async (topic, records) => {
        published.push(...records.map(() => topic));
        return records.map((_, i) => ({ id: `${published.length}-${i}`, topic }));
      },
      subscribe: async () => ({ pause() {}, resume() {}, close: async () => {} }),
      health: async () => ({ ok: true, broker: 'memory' }),
      close: async () => {},
    };
    const bus = await connect('memory://', { adapter: async () => adapter });
    const receipts = await bus.producer().send('x', [{ value: 1 }, { value: 2 }, { value: 3 }]);
    expect(receipts).toHaveLength(3); // split into batches of maxBatch = 2
    expect(published).toEqual(['x', 'x', 'x']);
    await bus.close();
  });
});

describe('client packages', () => {
  const NO_SUCH_PACKAGE = '@polybus-test/no-such-client';

  it('requireClient names the missing package and its range', () => {
    const error = (() => {
      try {
        requireClient('pulsar', NO_SUCH_PACKAGE, '^9.1.0');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as AdapterNotInstalledError).packageName).toBe(NO_SUCH_PACKAGE);
    expect((error as AdapterNotInstalledError).missing).toEqual({
      kind: 'client',
      packages: [{ name: NO_SUCH_PACKAGE, range: '^9.1.0' }],
    });
    expect((error as Error).message).toContain(`npm install ${NO_SUCH_PACKAGE}@"^9.1.0"`);
  });

  it('importClient does the same for ESM imports', async () => {
    const error = await importClient('kafka', NO_SUCH_PACKAGE, '^1.0.0').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as Error).message).toContain(`the kafka adapter needs the package "${NO_SUCH_PACKAGE}" (^1.0.0)`);
  });

  it('loads an installed client, with the range from peerDependencies by default', async () => {
    expect(requireClient<{ Kafka: unknown }>('kafka', 'kafkajs').Kafka).toBeTypeOf('function');
    expect((await importClient<{ WebSocket: unknown }>('pulsar', 'ws')).WebSocket).toBeTypeOf('function');
  });

  function moduleNotFound(specifier: string): Error {
    return Object.assign(new Error(`Cannot find package '${specifier}' imported from /x/adapter.js`), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
  }

  it('names the client of the transport when an adapter module cannot import it', async () => {
    const loaders = new Map([['pulsar+ws', () => Promise.reject(moduleNotFound('ws'))]] as const);
    const config = parseBrokerUrl('pulsar+ws://h:8080');
    const error = await loadFactory(config, loaders).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as AdapterNotInstalledError).missing).toEqual({
      kind: 'client',
      packages: [{ name: 'ws', range: packageJson.peerDependencies.ws }],
    });
    expect((error as Error).message).toContain(`npm install ws@"${packageJson.peerDependencies.ws}"`);
    expect((error as Error).message).not.toContain('pulsar-client');
  });

  it('lists every missing client of a transport with its range', async () => {
    const loaders = new Map([['kinesis', () => Promise.reject(moduleNotFound('@aws-sdk/client-kinesis'))]] as const);
    const error = await loadFactory(parseBrokerUrl('kinesis://us-east-1'), loaders).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AdapterNotInstalledError);
    expect((error as Error).message).toContain(
      `@aws-sdk/client-kinesis@"${packageJson.peerDependencies['@aws-sdk/client-kinesis']}"`,
    );
  });

  it('wraps other load failures in a typed error instead of blaming a client', async () => {
    const loaders = new Map([
      ['kafka', () => Promise.reject(moduleNotFound('left-pad'))],
      ['rabbitmq', () => Promise.reject(new SyntaxError('Unexpected token'))],
    ] as const);
    // An adapter module that calls requireClient() at its top level: its error passes unchanged.
    const fromRequireClient = await loadFactory(
      parseBrokerUrl('pubsub://my-project'),
      new Map([['pubsub', async () => requireClient('pubsub', NO_SUCH_PACKAGE)]] as const),
    ).catch((caught: unknown) => caught);
    expect(fromRequireClient).toBeInstanceOf(AdapterNotInstalledError);
    for (const url of ['kafka://h:9092', 'amqp://h']) {
      const error = await loadFactory(parseBrokerUrl(url), loaders).catch((caught: unknown) => caught);
      expect(error, url).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).retryable).toBe(false);
    }
  });
});

describe('consumer', () => {
  it('validates its options', async () => {
    const bus = await connect('memory://opts');
    expect(() => bus.consumer({ topic: '', group: 'g' })).toThrow(InvalidConfigError);
    expect(() => bus.consumer({ topic: 't', group: 'g', concurrency: 0 })).toThrow(/concurrency/);
    expect(() => bus.consumer({ topic: 't', group: 'g', concurrency: 4, prefetch: 2 })).toThrow(/prefetch/);
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    await consumer.run(async () => {});
    await expect(consumer.run(async () => {})).rejects.toThrow(/already called/);
    await bus.close();
  });

  it('reports failed messages to onError and the diagnostics channel', async () => {
    const bus = await connect('memory://errors');
    const seen: unknown[] = [];
    const onChannel = (event: unknown) => seen.push(event);
    subscribe('polybus:consumer:error', onChannel);
    const errors: unknown[] = [];
    let calls = 0;
    await bus.consumer({ topic: 't', group: 'g', onError: (error) => errors.push(error) }).run(() => {
      if (calls++ === 0) throw new Error('boom');
    });
    await bus.producer().send('t', { value: 1 });
    while (calls < 2) await sleep(5);
    unsubscribe('polybus:consumer:error', onChannel);
    expect((errors[0] as Error).message).toBe('boom');
    expect(seen).toHaveLength(1);
    await bus.close();
  });

  it('gives up a retry backoff on close and leaves the message for redelivery', async () => {
    const bus = await connect('memory://backoff');
    const attempts: number[] = [];
    const consumer = bus.consumer({
      topic: 't',
      group: 'g',
      use: [retry({ attempts: 5, initialDelayMs: 60_000, jitter: 'none' })],
    });
    await consumer.run((m) => {
      attempts.push(m.attempt);
      throw new Error('down');
    });
    await bus.producer().send('t', { value: 1 });
    while (attempts.length < 1) await sleep(5);
    const started = Date.now();
    await consumer.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(consumer.stats.nacked).toBe(1);
    const again = spyHandler();
    await bus.consumer({ topic: 't', group: 'g' }).run(again.handler);
    const [redelivered] = await again.waitForHandled(1);
    expect(redelivered?.attempt).toBe(2);
    await bus.close();
  });

  it('bounds close() by closeTimeoutMs and reports the handlers it left', async () => {
    const bus = await connect('memory://timeout');
    const errors: unknown[] = [];
    const consumer = bus.consumer({ topic: 't', group: 'g', closeTimeoutMs: 100, onError: (e) => errors.push(e) });
    let started = false;
    await consumer.run(async () => {
      started = true;
      await sleep(2000);
    });
    await bus.producer().send('t', { value: 1 });
    while (!started) await sleep(5);
    const begin = Date.now();
    await consumer.close();
    expect(Date.now() - begin).toBeLessThan(1000);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
    await bus.close();
  });

  it('lets run() be called again after the subscription failed', async () => {
    let attempts = 0;
    const adapter: Adapter = {
      broker: 'memory',
      capabilities: {
        perKeyOrdering: true,
        persistent: true,
        replay: true,
        nativeDelay: false,
        nativeDeadLetter: false,
        maxMessageBytes: 1000,
        maxBatch: 10,
      },
      publish: async () => [],
      subscribe: async () => {
        if (attempts++ === 0) throw new Error('broker unavailable');
        return { pause() {}, resume() {}, close: async () => {} };
      },
      health: async () => ({ ok: true, broker: 'memory' }),
      close: async () => {},
    };
    const bus = await connect('memory://', { adapter: async () => adapter });
    const consumer = bus.consumer({ topic: 't', group: 'g' });
    await expect(consumer.run(async () => {})).rejects.toThrow('broker unavailable');
    await expect(consumer.run(async () => {})).resolves.toBeUndefined();
    await bus.close();
  });

  it('refuses producers and consumers after broker close', async () => {
    const bus = await connect('memory://closed');
    await bus.close();
    expect(() => bus.consumer({ topic: 't', group: 'g' })).toThrow(ClosedError);
    await bus.close();
  });
});
