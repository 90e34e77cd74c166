import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidUrlError, parseBrokerUrl, redactUrl, Secret } from '../src/index.js';

describe('parseBrokerUrl', () => {
  it('parses memory URLs, shared by name', () => {
    expect(parseBrokerUrl('memory://')).toEqual({ broker: 'memory', name: 'default', retention: 1_000 });
    expect(parseBrokerUrl('memory://tests?retention=10')).toEqual({ broker: 'memory', name: 'tests', retention: 10 });
  });

  it('parses a Kafka broker list with options and SASL', () => {
    const config = parseBrokerUrl(
      'kafka://k1:9092,k2:9093?clientId=billing&ssl=true&sasl=scram-sha-512&username=svc&password=s3cr3t',
    );
    expect(config).toMatchObject({
      broker: 'kafka',
      brokers: ['k1:9092', 'k2:9093'],
      clientId: 'billing',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'svc' },
    });
    if (config.broker !== 'kafka') throw new Error('unreachable');
    expect(config.sasl?.password.reveal()).toBe('s3cr3t');
    expect(parseBrokerUrl('kafka://127.0.0.1:9092')).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      clientId: 'polybus',
      ssl: false,
    });
  });

  it('parses amqp and amqps with vhost, credentials and defaults', () => {
    const config = parseBrokerUrl('amqp://guest:gu%40st@rabbit:5673/orders%2Fprod?heartbeat=30');
    expect(config).toMatchObject({
      broker: 'rabbitmq',
      tls: false,
      host: 'rabbit',
      port: 5673,
      vhost: 'orders/prod',
      username: 'guest',
      heartbeatSeconds: 30,
      exchange: 'polybus',
    });
    if (config.broker !== 'rabbitmq') throw new Error('unreachable');
    expect(config.password?.reveal()).toBe('gu@st');
    expect(parseBrokerUrl('amqps://host')).toMatchObject({ tls: true, port: 5671, vhost: '/' });
  });

  it('parses kinesis, pubsub and both pulsar transports', () => {
    expect(parseBrokerUrl('kinesis://eu-west-1?endpoint=http://127.0.0.1:4567&shards=2')).toMatchObject({
      broker: 'kinesis',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4567',
      shards: 2,
    });
    expect(parseBrokerUrl('pubsub://my-project?emulatorHost=127.0.0.1:8085')).toEqual({
      broker: 'pubsub',
      projectId: 'my-project',
      emulatorHost: '127.0.0.1:8085',
    });
    expect(parseBrokerUrl('pulsar://127.0.0.1')).toMatchObject({
      transport: 'binary',
      serviceUrl: 'pulsar://127.0.0.1:6650',
      tenant: 'public',
      namespace: 'default',
    });
    expect(parseBrokerUrl('pulsar+ws://127.0.0.1:8080?tenant=t&namespace=n')).toMatchObject({
      transport: 'websocket',
      serviceUrl: 'ws://127.0.0.1:8080',
      tenant: 't',
      namespace: 'n',
    });
    expect(parseBrokerUrl('pulsar+ssl://p')).toMatchObject({ tls: true, serviceUrl: 'pulsar+ssl://p:6651' });
  });

  it.each([
    ['', /empty/],
    ['redis://localhost', /unknown scheme "redis:" in/],
    [
      'rabbitmq://guest:secret@localhost',
      /unknown scheme "rabbitmq:" \(did you mean "amqp:\/\/"\?\) in "rabbitmq:\/\/\*\*\*@localhost"/,
    ],
    ['constructor://x', /unknown scheme "constructor:" in/],
    ['kafka://localhost', /broker address "localhost" must be host:port/],
    ['kafka://a:9092?clientid=x', /unknown query parameter "clientid"/],
    ['kafka://a:99999', /port 99999 is out of range/],
    ['kafka://a:9092?sasl=gssapi&username=u&password=p', /sasl must be plain/],
    ['kafka://a:9092?username=u&password=p', /need sasl=/],
    ['amqp://host/a/b', /must be one path segment/],
    ['amqp://host?heartbeat=-1', /heartbeat must be an integer/],
    ['kinesis://nowhere', /not an AWS region/],
    ['kinesis://us-east-1?accessKeyId=AKIA', /go together/],
    ['pubsub://X', /not a Google Cloud project id/],
    ['pubsub://my-project?emulatorHost=nohost', /emulatorHost "nohost" must be host:port/],
    ['pulsar://u:p@host', /credentials belong in \?token/],
  ])('rejects %s with a typed error naming the bad part and the expected form', (url, problem) => {
    const error = (() => {
      try {
        parseBrokerUrl(url);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidUrlError);
    expect((error as InvalidUrlError).message).toMatch(problem);
    expect((error as InvalidUrlError).message).toMatch(/Expected|Use one of/);
    expect((error as InvalidUrlError).code).toBe('INVALID_URL');
  });

  it('never shows passwords, tokens or keys in errors, toString, JSON or inspect', () => {
    const secrets = ['hunter2', 'tok3n-value', 'AKIAxyz', 'wJalrXUtnFEMI'];
    const bad = [
      'amqp://admin:hunter2@host/a/b',
      'pulsar://host:6650?token=tok3n-value&bogus=1',
      'kinesis://us-east-1?accessKeyId=AKIAxyz&secretAccessKey=wJalrXUtnFEMI&shards=0',
      'kafka://h:1?sasl=plain&username=u&password=hunter2&oops=1',
      'amqp://admin:hunter2@[bad',
      'kafka://h1:9092,h2:9092?sasl=plain&username=u&password=hunter2&oops=1',
      'kafka://u:hunter2@h1:9092,h2:9092',
    ];
    for (const url of bad) {
      try {
        parseBrokerUrl(url);
        expect.unreachable(url);
      } catch (error) {
        const text = [String(error), (error as Error).stack, inspect(error, { depth: 5 }), JSON.stringify(error)].join(
          '\n',
        );
        for (const secret of secrets) expect(text).not.toContain(secret);
      }
    }
    const good = [
      parseBrokerUrl('amqp://admin:hunter2@host'),
      parseBrokerUrl('pulsar://host?token=tok3n-value'),
      parseBrokerUrl('kinesis://us-east-1?accessKeyId=AKIAxyz&secretAccessKey=wJalrXUtnFEMI'),
      parseBrokerUrl('kafka://h:1?sasl=plain&username=u&password=hunter2'),
    ];
    for (const config of good) {
      const text = [JSON.stringify(config), inspect(config, { depth: 5 }), String(Object.values(config))].join('\n');
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  it('redacts user name and password, and every query value but known non-secret options', () => {
    // The user name is masked too: a token is often put there (kafka://TOKEN@host).
    expect(redactUrl('amqp://u:p4ss@h:5672/v')).toBe('amqp://***@h:5672/v');
    expect(redactUrl('kafka://a:1,b:2?sasl=plain&username=u&password=p@ss&x=1')).toBe(
      'kafka://a:1,b:2?sasl=plain&username=u&password=***&x=***',
    );
    expect(redactUrl('pulsar://h:6650?token=abc&tenant=t')).toBe('pulsar://h:6650?token=***&tenant=t');
    expect(String(new Secret('x'))).toBe('***');
  });
});

function parseError(url: string): InvalidUrlError {
  try {
    parseBrokerUrl(url);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidUrlError);
    return error as InvalidUrlError;
  }
  return expect.unreachable(`${url} was accepted`);
}

describe('parseBrokerUrl decoding', () => {
  it('percent-decodes query values only: "+" stays "+"', () => {
    const kinesis = parseBrokerUrl('kinesis://us-east-1?accessKeyId=AKIA&secretAccessKey=abcK7MDENG+bPx%2Fz');
    if (kinesis.broker !== 'kinesis') throw new Error('unreachable');
    expect(kinesis.secretAccessKey?.reveal()).toBe('abcK7MDENG+bPx/z');
    const kafka = parseBrokerUrl('kafka://h:9092?sasl=plain&username=a+b&password=Sup3r%23Secret+1');
    if (kafka.broker !== 'kafka') throw new Error('unreachable');
    expect(kafka.sasl?.username).toBe('a+b');
    expect(kafka.sasl?.password.reveal()).toBe('Sup3r#Secret+1');
    const rabbit = parseBrokerUrl('amqp://us+er:p+w%2F%3F%40@h');
    if (rabbit.broker !== 'rabbitmq') throw new Error('unreachable');
    expect([rabbit.username, rabbit.password?.reveal()]).toEqual(['us+er', 'p+w/?@']);
  });

  it('rejects a raw "#" instead of silently cutting the value short', () => {
    expect(parseError('kafka://h:9092?sasl=plain&username=u&password=Sup3r#Secret').message).toMatch(/%23/);
    expect(parseError('memory://x#y').message).toMatch(/"#"/);
  });

  it.each([
    'memory://x/%ZZ',
    'memory://x%',
    'amqp://us%ZZer:pw@host/',
    'amqp://u:p%E0%A4@host/',
    'amqp://host/v%Z1',
    'kafka://h:9092?clientId=a%2',
    'pulsar://h?token=%FF',
  ])('rejects the malformed escape in %s with an InvalidUrlError, not a URIError', (url) => {
    expect(parseError(url).message).toMatch(/"%"/);
  });

  it.each([
    ['amqp://guest:pa/ss@host', /unencoded "\/", "\?", "#" or "@"/],
    ['amqp://guest:p@ss@host', /%40/],
    ['amqp://u:pa?ss@h', /%3F/],
    ['amqp://u:pa#ss@h', /%23/],
  ])('rejects the unencoded reserved character in the password of %s', (url, problem) => {
    expect(parseError(url).message).toMatch(problem);
  });

  it('keeps an "@" in a query value apart from the credentials', () => {
    expect(parseBrokerUrl('kafka://h:9092?sasl=plain&username=svc@corp.com&password=p@ss')).toMatchObject({
      sasl: { username: 'svc@corp.com' },
    });
  });
});

describe('parseBrokerUrl strictness', () => {
  it('gives memory://team/a and memory://teama different brokers', () => {
    expect(parseBrokerUrl('memory://team/a')).toMatchObject({ name: 'team/a' });
    expect(parseBrokerUrl('memory://teama')).toMatchObject({ name: 'teama' });
    expect(parseBrokerUrl('memory://team/a/')).toMatchObject({ name: 'team/a' });
    expect(parseBrokerUrl('memory://my%20bus')).toMatchObject({ name: 'my bus' });
  });

  it.each([
    ['kinesis://AKIA:pw@us-east-1', /\?accessKeyId=…&secretAccessKey=…/],
    ['kinesis://us-east-1:4567', /endpoint=/],
    ['kinesis://us-east-1/stream', /path "\/stream" is not used/],
    ['kafka://h:9092/path', /path "\/path" is not used by kafka/],
    ['kafka://', /broker list is empty/],
    ['kafka://TOKEN@h:9092', /credentials belong in \?sasl=/],
    ['pubsub://my-project/extra', /path "\/extra" is not used/],
    ['pubsub://u@my-project', /Application Default Credentials/],
    ['pulsar://h/x', /path "\/x" is not used/],
    ['pulsar+ws://TOKEN@h:8080', /credentials belong in \?token/],
    ['memory://u:p@x', /takes no user name/],
    ['pulsar://h?tenant=', /"tenant" has no value/],
    ['pulsar://h?namespace=', /"namespace" has no value/],
    ['pulsar://h?namespace=a/b', /namespace "a\/b" may only hold .*tenant=/],
    ['pulsar://h?tenant=a%20b', /tenant "a b" may only hold/],
    ['kafka://h:9092?clientId=', /"clientId" has no value/],
    ['kafka://h:9092?ssl', /"ssl" has no value/],
    ['kafka://h:9092?ssl=true&ssl=false', /"ssl" is given twice/],
    ['kafka://h:9092?ClientId=a', /did you mean "clientId"/],
    ['amqp://', /host is missing/],
    ['amqp://h:x', /not a valid host\[:port\]/],
    ['amqp:/host', /does not start with a scheme/],
    ['rabbit:5672', /does not start with a scheme/],
  ])('rejects %s', (url, problem) => {
    const error = parseError(url);
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(/Expected|Use one of/);
  });

  it('accepts a trailing slash where no path is used', () => {
    expect(parseBrokerUrl('kafka://h:9092/')).toMatchObject({ brokers: ['h:9092'] });
    expect(parseBrokerUrl('pulsar://h/')).toMatchObject({ serviceUrl: 'pulsar://h:6650' });
  });

  it('keeps the unknown-scheme error short: the schemes only', () => {
    const message = parseError('redis://localhost:6379').message;
    expect(message.length).toBeLessThan(300);
    expect(message).toContain(
      'memory://, kafka://, amqp://, amqps://, kinesis://, pubsub://, pulsar://, pulsar+ssl://, pulsar+ws://, pulsar+wss://',
    );
  });

  it('throws InvalidUrlError for a non-string', () => {
    expect(parseError(42 as unknown as string).message).toMatch(/must be a string, not a number/);
  });
});

describe('adapter options in the URL', () => {
  it.each([
    ['kafka://127.0.0.1:9092?partitions=6&compression=gzip', { partitions: 6, compression: 'gzip' }],
    [
      'amqp://127.0.0.1?queueType=classic&singleActiveConsumer=true',
      { queueType: 'classic', singleActiveConsumer: true },
    ],
    ['pubsub://my-project?ackDeadlineSeconds=60&autoCreate=false', { ackDeadlineSeconds: 60, autoCreate: false }],
    [
      'pulsar://127.0.0.1:6650?subscriptionType=Shared&compression=lz4',
      { subscriptionType: 'Shared', compression: 'lz4' },
    ],
    ['pulsar+ws://127.0.0.1:8080?partitions=4', { partitions: 4 }],
    ['kinesis://eu-west-1?envelope=false&failoverTimeMs=5000', { envelope: false, failoverTimeMs: 5000 }],
  ])('reads the options of %s through the adapter', (url, expected) => {
    expect(parseBrokerUrl(url)).toMatchObject(expected);
  });

  it.each([
    'kafka://127.0.0.1:9092?partitions=many',
    'amqp://u:S3CRET@127.0.0.1?queueType=lazy',
    'pubsub://my-project?ackDeadlineSeconds=5',
    'kinesis://eu-west-1?sessionToken=S3CRET&pollIntervalMs=-1',
    'pulsar://127.0.0.1:6650?subscriptionType=Everyone&token=S3CRET',
  ])('rejects a bad adapter option in %s with an InvalidUrlError that quotes no secret', (url) => {
    let caught: unknown;
    try {
      parseBrokerUrl(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidUrlError);
    expect(String((caught as Error).message)).not.toContain('S3CRET');
  });
});
