import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CACHE, ensureDir, launch, ROOT, stopDetached, tcpOpen } from './common.js';
import type { Launcher } from './launcher.js';
import { copyDependencies, pomProperty } from './maven.js';

const CONF_DIR = join(ROOT, 'integration/emulators/pulsar');
const VERSION = pomProperty(CONF_DIR, 'pulsar.version');
const LIBS = join(CACHE, `pulsar-${VERSION}`, 'libs');
const DATA = join(CACHE, 'data', 'pulsar');
const BROKER_PORT = Number(process.env.POLYBUS_PULSAR_PORT ?? 6650);
const WEB_PORT = Number(process.env.POLYBUS_PULSAR_WEB_PORT ?? 8080);
const WEB = `http://127.0.0.1:${WEB_PORT}`;
const WS = `ws://127.0.0.1:${WEB_PORT}`;

/** Sends one message through the WebSocket API and waits for the broker's ack. */
function websocketRoundTrip(): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${WS}/ws/v2/producer/persistent/public/default/polybus-ready`);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no ack within 10 s'));
    }, 10_000);
    socket.once('open', () => socket.send(JSON.stringify({ payload: Buffer.from('ready').toString('base64') })));
    socket.once('message', (data) => {
      clearTimeout(timer);
      socket.close();
      const reply = JSON.parse(String(data)) as { result?: string; errorMsg?: string };
      if (reply.result === 'ok') resolve(true);
      else reject(new Error(reply.errorMsg ?? String(data)));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function ready(): Promise<boolean> {
  if (!(await tcpOpen('127.0.0.1', WEB_PORT))) return false;
  const response = await fetch(`${WEB}/admin/v2/namespaces/public`, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) return false;
  const namespaces = (await response.json()) as string[];
  if (!namespaces.includes('public/default')) return false;
  return websocketRoundTrip();
}

export const pulsar: Launcher = {
  name: 'pulsar',
  externalVariable: 'PULSAR_URL',
  endpoints: {
    PULSAR_URL: `pulsar://127.0.0.1:${BROKER_PORT}`,
    PULSAR_WS_URL: WS,
    PULSAR_ADMIN_URL: WEB,
  },

  async install() {
    await copyDependencies('pulsar', CONF_DIR, LIBS);
  },

  async start() {
    await this.stop();
    ensureDir(DATA);
    const config = join(DATA, 'standalone.conf');
    writeFileSync(
      config,
      readFileSync(join(CONF_DIR, 'standalone.conf'), 'utf8')
        .replaceAll('@DATA@', DATA)
        .replaceAll('@BROKER_PORT@', String(BROKER_PORT))
        .replaceAll('@WEB_PORT@', String(WEB_PORT)),
    );
    await launch(
      'pulsar',
      {
        // The starter resolves some data paths against the working directory.
        cwd: DATA,
        command: 'java',
        args: [
          '-Xms512m',
          '-Xmx1g',
          '-XX:MaxDirectMemorySize=512m',
          '-Dpulsar.allocator.exit_on_oom=true',
          `-Dlog4j2.configurationFile=${join(CONF_DIR, 'log4j2.properties')}`,
          '-cp',
          `${LIBS}/*`,
          'org.apache.pulsar.PulsarStandaloneStarter',
          '--config',
          config,
          '--no-functions-worker',
          '--no-stream-storage',
          '--bookkeeper-dir',
          join(DATA, 'bookkeeper'),
          '--bookkeeper-port',
          String(BROKER_PORT + 100),
          // Given so the starter does not try to parse a port out of the rocksdb:// metadata URL.
          '--zookeeper-port',
          String(BROKER_PORT + 200),
        ],
      },
      { what: 'acknowledging a WebSocket publish', check: ready, timeoutMs: 240_000 },
    );
  },

  async stop() {
    await stopDetached('pulsar', 30_000);
  },

  ready,
};
