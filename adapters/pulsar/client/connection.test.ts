/**
 * Connection behaviour against a small in-process fake broker: TLS verification, token
 * authentication and its refresh, lookup redirects and proxying, keep-alive, timeouts and
 * malformed input.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BaseCommand, CommandType, LookupType } from './commands.js';
import { Connection, type ConnectionOptions, parseBrokerUrl, parseServiceUrl, tokenAuth } from './connection.js';
import {
  PulsarAuthenticationError,
  PulsarConnectionError,
  PulsarProtocolError,
  PulsarTimeoutError,
  PulsarTlsError,
} from './errors.js';
import { encodeCommand, FrameDecoder } from './frame.js';
import { LookupService } from './lookup.js';
import { ConnectionPool, type PoolOptions } from './pool.js';

const poolOptions: PoolOptions = {
  connectionTimeoutMs: 2000,
  operationTimeoutMs: 2000,
  keepAliveIntervalMs: 0,
  clientVersion: 'test',
};

type Reply = (command: BaseCommand, socket: net.Socket) => BaseCommand | undefined;

/** A fake broker: answers CONNECT with CONNECTED and other commands with `reply`. */
class FakeBroker {
  readonly received: BaseCommand[] = [];
  readonly sockets = new Set<net.Socket>();
  server!: net.Server;
  port = 0;
  answerPings = true;
  token: string | undefined;

  constructor(
    private readonly reply: Reply = () => undefined,
    private readonly tlsOptions?: tls.TlsOptions,
  ) {}

  async start(): Promise<this> {
    const onSocket = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      const decoder = new FrameDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const { command } of decoder.push(chunk)) {
          this.received.push(command);
          const answer = this.answer(command, socket);
          if (answer) socket.write(encodeCommand(answer));
        }
      });
    };
    this.server = this.tlsOptions ? tls.createServer(this.tlsOptions, onSocket) : net.createServer(onSocket);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private answer(command: BaseCommand, socket: net.Socket): BaseCommand | undefined {
    if (command.type === CommandType.CONNECT) {
      const sent = command.connect?.authData ? Buffer.from(command.connect.authData).toString() : undefined;
      if (this.token !== undefined && sent !== this.token) {
        return {
          type: CommandType.ERROR,
          error: { requestId: 0, error: 3, message: 'Unable to authenticate' },
        };
      }
      return {
        type: CommandType.CONNECTED,
        connected: { serverVersion: 'fake', protocolVersion: 20, maxMessageSize: 1024 },
      };
    }
    if (command.type === CommandType.PING) return this.answerPings ? { type: CommandType.PONG, pong: {} } : undefined;
    return this.reply(command, socket);
  }

  send(command: BaseCommand): void {
    for (const socket of this.sockets) socket.write(encodeCommand(command));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const brokers: FakeBroker[] = [];
const connections: Connection[] = [];
async function broker(reply?: Reply, tlsOptions?: tls.TlsOptions): Promise<FakeBroker> {
  const b = await new FakeBroker(reply, tlsOptions).start();
  brokers.push(b);
  return b;
}

function options(url: string, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const address = parseBrokerUrl(url);
  return {
    logical: address,
    physical: address,
    connectionTimeoutMs: 2000,
    operationTimeoutMs: 2000,
    keepAliveIntervalMs: 0,
    clientVersion: 'test',
    ...extra,
  };
}

async function open(opts: ConnectionOptions): Promise<Connection> {
  const connection = await Connection.open(opts);
  connections.push(connection);
  return connection;
}

afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  for (const b of brokers.splice(0)) await b.stop();
});

describe('service URLs', () => {
  it('parses hosts, default ports and TLS', () => {
    expect(parseBrokerUrl('pulsar://h')).toMatchObject({ host: 'h', port: 6650, tls: false, url: 'pulsar://h:6650' });
    expect(parseBrokerUrl('pulsar+ssl://h')).toMatchObject({ port: 6651, tls: true });
    expect(parseBrokerUrl('pulsar://[::1]:7000')).toMatchObject({
      host: '::1',
      port: 7000,
      url: 'pulsar://[::1]:7000',
    });
    expect(parseServiceUrl('pulsar://a:1,b:2').map((a) => a.url)).toEqual(['pulsar://a:1', 'pulsar://b:2']);
    expect(() => parseServiceUrl('http://a:1')).toThrow(PulsarConnectionError);
  });
});

describe('token authentication', () => {
  it('sends the token in CONNECT and a fresh one when the broker challenges', async () => {
    const b = await broker();
    b.token = 'secret-1';
    let calls = 0;
    const auth = tokenAuth(() => `secret-${++calls}`);
    const connection = await open(options(`pulsar://127.0.0.1:${b.port}`, { auth }));
    expect(connection.serverVersion).toBe('fake');
    expect(connection.maxMessageSize).toBe(1024);
    const connect = b.received.find((c) => c.type === CommandType.CONNECT)?.connect;
    expect(connect).toMatchObject({
      authMethodName: 'token',
      protocolVersion: 20,
      featureFlags: { supportsAuthRefresh: true },
    });
    b.send({
      type: CommandType.AUTH_CHALLENGE,
      authChallenge: { challenge: { authMethodName: 'token', authData: Buffer.from('refresh') }, protocolVersion: 20 },
    });
    await expect.poll(() => b.received.find((c) => c.type === CommandType.AUTH_RESPONSE)).toBeDefined();
    const response = b.received.find((c) => c.type === CommandType.AUTH_RESPONSE)?.authResponse;
    expect(response?.response?.authMethodName).toBe('token');
    expect(Buffer.from(response?.response?.authData as Uint8Array).toString()).toBe('secret-2');
  });

  it('fails with a typed, non-retryable error that does not contain the token', async () => {
    const b = await broker();
    b.token = 'right';
    const error = await open(options(`pulsar://127.0.0.1:${b.port}`, { auth: tokenAuth('wrong-token-XYZ') })).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(PulsarAuthenticationError);
    expect((error as PulsarAuthenticationError).retryable).toBe(false);
    expect(String(error)).not.toContain('wrong-token-XYZ');
    expect(JSON.stringify(tokenAuth('wrong-token-XYZ'))).not.toContain('wrong-token-XYZ');
  });
});

describe('TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulsar-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    key = readFileSync(join(dir, 'key.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('connects over pulsar+ssl:// when the certificate is trusted and the name matches', async () => {
    const b = await broker(undefined, { cert, key });
    const connection = await open(options(`pulsar+ssl://localhost:${b.port}`, { tls: { ca: cert } }));
    expect(connection.serverVersion).toBe('fake');
  });

  it('refuses an untrusted certificate by default', async () => {
    const b = await broker(undefined, { cert, key });
    const error = await open(options(`pulsar+ssl://localhost:${b.port}`)).catch((e: Error) => e);
    expect(error).toBeInstanceOf(PulsarTlsError);
    expect((error as PulsarTlsError).retryable).toBe(false);
  });

  it('refuses a certificate for another host name', async () => {
    const b = await broker(undefined, { cert, key });
    const error = await open(
      options(`pulsar+ssl://localhost:${b.port}`, { tls: { ca: cert, servername: 'other.example' } }),
    ).catch((e: Error) => e);
    expect(error).toBeInstanceOf(PulsarTlsError);
    expect(String(error)).toMatch(/other\.example/);
  });
});

describe('lookup', () => {
  it('follows a redirect to the owning broker', async () => {
    const owner = await broker((c) =>
      c.type === CommandType.LOOKUP
        ? {
            type: CommandType.LOOKUP_RESPONSE,
            lookupTopicResponse: {
              requestId: c.lookupTopic?.requestId as number,
              response: LookupType.Connect,
              brokerServiceUrl: `pulsar://127.0.0.1:${owner.port}`,
              authoritative: true,
            },
          }
        : undefined,
    );
    const front = await broker((c) =>
      c.type === CommandType.LOOKUP
        ? {
            type: CommandType.LOOKUP_RESPONSE,
            lookupTopicResponse: {
              requestId: c.lookupTopic?.requestId as number,
              response: LookupType.Redirect,
              brokerServiceUrl: `pulsar://127.0.0.1:${owner.port}`,
              authoritative: true,
            },
          }
        : undefined,
    );
    const pool = new ConnectionPool(poolOptions);
    try {
      const lookup = new LookupService(pool, [parseBrokerUrl(`pulsar://127.0.0.1:${front.port}`)], false);
      const result = await lookup.lookup('persistent://public/default/t');
      expect(result.logical.port).toBe(owner.port);
      expect(result.physical.port).toBe(owner.port);
      expect(owner.received.find((c) => c.type === CommandType.LOOKUP)?.lookupTopic?.authoritative).toBe(true);
    } finally {
      pool.close();
    }
  });

  it('keeps dialling the service URL when told to proxy, naming the broker in CONNECT', async () => {
    const proxy = await broker((c) =>
      c.type === CommandType.LOOKUP
        ? {
            type: CommandType.LOOKUP_RESPONSE,
            lookupTopicResponse: {
              requestId: c.lookupTopic?.requestId as number,
              response: LookupType.Connect,
              brokerServiceUrl: 'pulsar://broker-7.internal:6650',
              proxyThroughServiceUrl: true,
            },
          }
        : undefined,
    );
    const pool = new ConnectionPool(poolOptions);
    try {
      const lookup = new LookupService(pool, [parseBrokerUrl(`pulsar://127.0.0.1:${proxy.port}`)], false);
      const result = await lookup.lookup('persistent://public/default/t');
      expect(result.logical.url).toBe('pulsar://broker-7.internal:6650');
      expect(result.physical.port).toBe(proxy.port);
      await pool.get(result.logical, result.physical);
      const connects = proxy.received.filter((c) => c.type === CommandType.CONNECT);
      expect(connects.map((c) => c.connect?.proxyToBrokerUrl)).toEqual([undefined, 'broker-7.internal:6650']);
      expect(pool.size).toBe(2);
    } finally {
      pool.close();
    }
  });

  it('maps a failed lookup to the broker error', async () => {
    const b = await broker((c) =>
      c.type === CommandType.LOOKUP
        ? {
            type: CommandType.LOOKUP_RESPONSE,
            lookupTopicResponse: {
              requestId: c.lookupTopic?.requestId as number,
              response: LookupType.Failed,
              error: 11,
              message: 'no such topic',
            },
          }
        : undefined,
    );
    const pool = new ConnectionPool(poolOptions);
    try {
      const lookup = new LookupService(pool, [parseBrokerUrl(`pulsar://127.0.0.1:${b.port}`)], false);
      await expect(lookup.lookup('persistent://public/default/t')).rejects.toMatchObject({
        code: 'TopicNotFound',
        retryable: false,
      });
    } finally {
      pool.close();
    }
  });
});

describe('liveness and bad input', () => {
  it('times out a request the broker never answers', async () => {
    const b = await broker();
    const connection = await open(options(`pulsar://127.0.0.1:${b.port}`, { operationTimeoutMs: 100 }));
    await expect(
      connection.request((requestId) => ({ type: CommandType.LOOKUP, lookupTopic: { topic: 't', requestId } })),
    ).rejects.toBeInstanceOf(PulsarTimeoutError);
  });

  it('pings, and drops a connection whose broker stops answering', async () => {
    const b = await broker();
    const connection = await open(options(`pulsar://127.0.0.1:${b.port}`, { keepAliveIntervalMs: 50 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connection.closed).toBe(false);
    expect(b.received.filter((c) => c.type === CommandType.PING).length).toBeGreaterThanOrEqual(2);
    b.answerPings = false;
    const closed = new Promise<Error>((resolve) => connection.onClose(resolve));
    expect(await closed).toBeInstanceOf(PulsarConnectionError);
    expect(String(await closed)).toMatch(/no response/);
  });

  it('closes on a malformed frame, failing pending requests without crashing', async () => {
    const b = await broker();
    const connection = await open(options(`pulsar://127.0.0.1:${b.port}`));
    const pending = connection.request((requestId) => ({
      type: CommandType.LOOKUP,
      lookupTopic: { topic: 't', requestId },
    }));
    for (const socket of b.sockets) socket.write(Buffer.from('00000006' + '00000002' + 'ffff', 'hex'));
    await expect(pending).rejects.toBeInstanceOf(PulsarProtocolError);
    expect(connection.closed).toBe(true);
  });

  it('refuses a frame over the broker-announced size limit', async () => {
    const b = await broker();
    const connection = await open(options(`pulsar://127.0.0.1:${b.port}`));
    const closed = new Promise<Error>((resolve) => connection.onClose(resolve));
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(50 * 1024 * 1024, 0);
    for (const socket of b.sockets) socket.write(huge);
    expect(String(await closed)).toMatch(/exceeds the limit/);
  });
});
