import { join } from 'node:path';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CACHE, ensureDir, launch, ROOT, stopDetached, tcpOpen } from './common.js';
import type { Launcher } from './launcher.js';

const PORT = Number(process.env.POLYBUS_KINESIS_PORT ?? 4567);
const ENDPOINT = `http://127.0.0.1:${PORT}`;
const DATA = join(CACHE, 'data', 'kinesalite');

/** A client for the emulator: HTTP/1.1 (kinesalite does not speak HTTP/2) and dummy credentials. */
export function kinesisClient(endpoint = ENDPOINT): KinesisClient {
  return new KinesisClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2000, requestTimeout: 10_000 }),
    maxAttempts: 1,
  });
}

async function answers(): Promise<boolean> {
  if (!(await tcpOpen('127.0.0.1', PORT))) return false;
  const client = kinesisClient();
  try {
    await client.send(new ListStreamsCommand({}));
    return true;
  } finally {
    client.destroy();
  }
}

export const kinesis: Launcher = {
  name: 'kinesis',
  externalVariable: 'KINESIS_ENDPOINT',
  endpoints: { KINESIS_ENDPOINT: ENDPOINT },

  async install() {
    // kinesalite is an npm devDependency (pinned in package-lock.json), installed by `npm ci`.
  },

  async start() {
    await this.stop();
    ensureDir(DATA);
    await launch(
      'kinesis',
      {
        command: process.execPath,
        args: [join(ROOT, 'integration/emulators/kinesis/server.mjs'), String(PORT), DATA],
      },
      { what: 'answering ListStreams', check: answers, timeoutMs: 60_000 },
    );
  },

  async stop() {
    await stopDetached('kinesis');
  },

  ready: answers,
};
