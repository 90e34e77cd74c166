import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect, InvalidUrlError, PolybusError, parseBrokerUrl, redactUrl } from '../src/index.js';

const MARKER = 'S3CRET';

/** Careless URLs: each holds the marker where a credential would be. */
const CARELESS_URLS = [
  // no scheme
  `guest:${MARKER}@rabbit:5672`,
  `//guest:${MARKER}@rabbit`,
  `amqp:/guest:${MARKER}@rabbit`,
  `${MARKER}`,
  `  ${MARKER}/x?y=1  `,
  // unknown scheme
  `redis://u:${MARKER}@localhost`,
  `AMQ://u:${MARKER}@localhost`,
  // a token as user name where the scheme takes none
  `kafka://${MARKER}@h:9092`,
  `kafka://u:${MARKER}@h1:9092,h2:9092`,
  `pulsar+ws://${MARKER}@h:8080`,
  `pulsar://u:${MARKER}@h`,
  `pubsub://${MARKER}@my-project`,
  `memory://${MARKER}@shared`,
  `kinesis://AKIA:${MARKER}@us-east-1`,
  // unencoded "/", "?", "@" or "#" in a password
  `amqp://guest:pa/${MARKER}@host`,
  `amqp://guest:${MARKER}/x@host/vhost`,
  `amqp://guest:p@${MARKER}@host`,
  `amqp://guest:${MARKER}@x@host`,
  `amqp://u:pa?${MARKER}@h`,
  `amqp://u:${MARKER}?x@h`,
  `amqp://u:pa#${MARKER}@h`,
  `amqp://u:${MARKER}#x@h`,
  `kafka://u:${MARKER}/x@h1:9092,h2:9092`,
  // misspelt or unknown secret parameters
  `kafka://h:9092?pw=${MARKER}`,
  `kafka://h:9092?passwd=${MARKER}`,
  `kafka://h:9092?sasl=plain&username=u&auth=${MARKER}`,
  `pulsar://h?authToken=${MARKER}&tenant=t`,
  `kinesis://us-east-1?aws_secret_access_key=${MARKER}`,
  `pulsar://h?keyFile=${MARKER}`,
  `kafka://h:9092?password%3D${MARKER}`,
  `kafka://h:9092?${MARKER}`,
  // fragments
  `kafka://h:9092?sasl=plain&username=u&password=Sup3r#${MARKER}`,
  `kafka://h:9092?sasl=plain&username=u&password=${MARKER}#x`,
  // malformed escapes
  `amqp://us%ZZer:${MARKER}@host/`,
  `amqp://u:${MARKER}%ZZ@host/`,
  `amqp://u:${MARKER}%FF@host/`,
  `kafka://h:9092?sasl=plain&username=u&password=${MARKER}%G1`,
  // a valid secret next to another mistake
  `kinesis://us-east-1?accessKeyId=AKIA&secretAccessKey=${MARKER}&shards=0`,
  `kinesis://us-east-1?endpoint=http://AKIA:${MARKER}@localhost:4567`,
  `pulsar://h?token=${MARKER}&namespace=a/b`,
  `pulsar://h?token=${MARKER}&token=again`,
  `kafka://h:9092?sasl=plain&username=u&password=${MARKER}&oops=1`,
  `kafka://h:9092?sasl=plain&username=svc@${MARKER}&password=p&oops=1`,
  `kafka://h:9092?clientId=${MARKER}@x&oops=1`,
];

/** Every way an error reaches a log: message, stack, String(), inspect, JSON, and its causes. */
function everyRendering(error: unknown): string {
  const texts: string[] = [];
  for (let current = error; current !== undefined && current !== null; ) {
    texts.push(String(current), inspect(current, { depth: 10 }), JSON.stringify(current) ?? '');
    if (current instanceof Error) texts.push(current.message, current.stack ?? '');
    current = current instanceof Error ? current.cause : undefined;
  }
  return texts.join('\n');
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('no secret in any error, log or inspect output', () => {
  it.each(CARELESS_URLS)('parseBrokerUrl(%j) rejects it without quoting the secret', (url) => {
    const error = thrownBy(() => parseBrokerUrl(url));
    expect(error).toBeInstanceOf(InvalidUrlError);
    expect(everyRendering(error)).not.toContain(MARKER);
  });

  // Without "://" or "@", nothing marks a part as secret: parse errors then quote none of the input.
  const urlLike = CARELESS_URLS.filter((url) => url.includes('://') || url.includes('@'));
  it.each(urlLike)('redactUrl(%j) masks the secret', (url) => {
    expect(redactUrl(url)).not.toContain(MARKER);
  });

  it('rejects careless URLs in connect() the same way', async () => {
    for (const url of CARELESS_URLS) {
      const error = await connect(url).catch((caught: unknown) => caught);
      expect(error, url).toBeInstanceOf(PolybusError);
      expect(everyRendering(error), url).not.toContain(MARKER);
    }
  });

  it('keeps accepted credentials out of the config when printed, and intact when revealed', () => {
    const accepted: Array<[string, (config: ReturnType<typeof parseBrokerUrl>) => string | undefined]> = [
      [`amqp://u:${MARKER}+x@h`, (c) => (c.broker === 'rabbitmq' ? c.password?.reveal() : undefined)],
      [`amqp://u:${MARKER}%23%2F%3F%40@h`, (c) => (c.broker === 'rabbitmq' ? c.password?.reveal() : undefined)],
      [`pulsar+ws://h?token=${MARKER}+/=`, (c) => (c.broker === 'pulsar' ? c.token?.reveal() : undefined)],
      [
        `kinesis://us-east-1?accessKeyId=AKIA&secretAccessKey=${MARKER}+b`,
        (c) => (c.broker === 'kinesis' ? c.secretAccessKey?.reveal() : undefined),
      ],
    ];
    const expected = [`${MARKER}+x`, `${MARKER}#/?@`, `${MARKER}+/=`, `${MARKER}+b`];
    accepted.forEach(([url, reveal], i) => {
      const config = parseBrokerUrl(url);
      expect(reveal(config)).toBe(expected[i]);
      expect(
        [JSON.stringify(config), inspect(config, { depth: 10 }), String(Object.values(config))].join(),
      ).not.toContain(MARKER);
    });
  });
});

describe('redactUrl', () => {
  it.each([
    ['amqp://u:p4ss@h:5672/v', 'amqp://***@h:5672/v'],
    ['kafka://TOKEN@h:9092', 'kafka://***@h:9092'],
    ['guest:pw@rabbit:5672', '***@rabbit:5672'],
    ['amqp://guest:pa/ss@host/v', 'amqp://***@host/v'],
    ['amqp://u:pa?ss@h?heartbeat=30', 'amqp://***@h?heartbeat=30'],
    ['amqp://guest:p@ss@host', 'amqp://***@host'],
    [
      'kafka://a:1,b:2?sasl=plain&username=u&password=p@ss&x=1',
      'kafka://a:1,b:2?sasl=plain&username=u&password=***&x=***',
    ],
    ['pulsar://h:6650?token=abc&tenant=t&namespace=n', 'pulsar://h:6650?token=***&tenant=t&namespace=n'],
    [
      'kinesis://us-east-1?endpoint=http://127.0.0.1:4567&shards=2',
      'kinesis://us-east-1?endpoint=http://127.0.0.1:4567&shards=2',
    ],
    ['kinesis://us-east-1?endpoint=http://k:s@h:1', 'kinesis://us-east-1?endpoint=***'],
    ['kafka://h:9092?pw=x&passwd=y&auth=z', 'kafka://h:9092?pw=***&passwd=***&auth=***'],
    ['kafka://h:9092?password%3Dx&ssl', 'kafka://h:9092?***&ssl'],
    ['kafka://h:9092?clientId=app#frag', 'kafka://h:9092?clientId=app#***'],
    ['memory://team/a?retention=5', 'memory://team/a?retention=5'],
  ])('redactUrl(%j) is %j', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});
