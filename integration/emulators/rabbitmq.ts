import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import {
  CACHE,
  ensureDir,
  execFileAsync,
  launch,
  runLogged,
  runningPid,
  say,
  stopDetached,
  tcpOpen,
} from './common.js';
import type { Launcher } from './launcher.js';

/** Debian bookworm's package, pinned. */
const PACKAGE_VERSION = '3.10.8-1.1+deb12u1';
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const HOME = join(CACHE, 'rabbitmq');
const PORT = Number(process.env.POLYBUS_RABBITMQ_PORT ?? 5672);
const DIST_PORT = PORT + 20000;
const NODE = 'polybus@localhost';
const URL = `amqp://guest:guest@127.0.0.1:${PORT}`;

/** Everything on loopback: AMQP, Erlang distribution and epmd. */
function environment(): NodeJS.ProcessEnv {
  return {
    HOME,
    RABBITMQ_NODENAME: NODE,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(PORT),
    RABBITMQ_DIST_PORT: String(DIST_PORT),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_MNESIA_BASE: join(HOME, 'mnesia'),
    RABBITMQ_LOG_BASE: join(HOME, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(HOME, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(HOME, 'rabbitmq'),
    RABBITMQ_LOGS: '-',
  };
}

async function roundTrip(): Promise<boolean> {
  if (!(await tcpOpen('127.0.0.1', PORT))) return false;
  const connection = await amqp.connect(URL);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('ready'));
    for (let i = 0; i < 20; i++) {
      if (await channel.get(queue, { noAck: true })) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  } finally {
    await connection.close().catch(() => {});
  }
}

export const rabbitmq: Launcher = {
  name: 'rabbitmq',
  externalVariable: 'AMQP_URL',
  endpoints: { AMQP_URL: URL },

  async install() {
    if (existsSync(SERVER)) return;
    say(`installing rabbitmq-server ${PACKAGE_VERSION} with apt-get`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await runLogged('rabbitmq', 'apt-update', 'apt-get', ['update', '-qq'], { env });
    await runLogged(
      'rabbitmq',
      'apt-install',
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', `rabbitmq-server=${PACKAGE_VERSION}`],
      { env },
    );
  },

  async start() {
    await this.stop();
    ensureDir(join(HOME, 'log'));
    writeFileSync(join(HOME, 'enabled_plugins'), '[].\n');
    // loopback_users = none: guest may log in over 127.0.0.1 only anyway, since we listen nowhere else.
    writeFileSync(join(HOME, 'rabbitmq.conf'), 'loopback_users = none\nlog.console.level = warning\n');
    await launch(
      'rabbitmq',
      { command: SERVER, args: [], env: environment() },
      { what: 'accepting AMQP publishes', check: roundTrip, timeoutMs: 120_000 },
    );
  },

  async stop() {
    const pid = runningPid('rabbitmq');
    if (pid !== undefined) {
      await execFileAsync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', NODE, 'stop'], {
        env: { ...process.env, ...environment() },
      }).catch(() => {});
    }
    await stopDetached('rabbitmq');
  },

  ready: roundTrip,
};
