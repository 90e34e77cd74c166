import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { CACHE, isBuilt, launch, ROOT, runLogged, say, stopDetached, tcpOpen } from './common.js';
import type { Launcher } from './launcher.js';

const SOURCE = join(ROOT, 'integration/emulators/pubsub');
/** The pstest version comes from go.mod (cloud.google.com/go/pubsub/v2), pinned with go.sum. */
const VERSION = 'v2.8.1';
const BINARY = join(CACHE, `pstest-${VERSION}`, 'pstest-server');
const PORT = Number(process.env.POLYBUS_PUBSUB_PORT ?? 8085);
const HOST = `127.0.0.1:${PORT}`;

function goEnvironment(): NodeJS.ProcessEnv {
  return {
    GOPATH: join(CACHE, 'go'),
    GOMODCACHE: join(CACHE, 'go', 'mod'),
    GOCACHE: join(CACHE, 'go', 'build-cache'),
    GOFLAGS: '-modcacherw -mod=readonly',
    GOTOOLCHAIN: 'local',
  };
}

async function answers(): Promise<boolean> {
  // The client retries a closed port for a minute: look first.
  if (!(await tcpOpen('127.0.0.1', PORT))) return false;
  // No Google credentials or metadata server here; the emulator needs none.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const client = new PubSub({ projectId: 'polybus-emulators', apiEndpoint: HOST, emulatorMode: true });
  try {
    await client.getTopics({ pageSize: 1 });
    return true;
  } finally {
    await client.close().catch(() => {});
  }
}

export const pubsub: Launcher = {
  name: 'pubsub',
  externalVariable: 'PUBSUB_EMULATOR_HOST',
  endpoints: { PUBSUB_EMULATOR_HOST: HOST, PUBSUB_PROJECT_ID: 'polybus-test' },

  async install() {
    if (isBuilt(BINARY)) return;
    say(`building pstest ${VERSION} with Go (first run only)`);
    await runLogged('pubsub', 'go-build', 'go', ['build', '-trimpath', '-o', BINARY, '.'], {
      cwd: SOURCE,
      env: goEnvironment(),
    });
  },

  async start() {
    await this.stop();
    await launch(
      'pubsub',
      { command: BINARY, args: ['-address', HOST] },
      { what: 'answering ListTopics', check: answers, timeoutMs: 60_000 },
    );
  },

  async stop() {
    await stopDetached('pubsub');
  },

  ready: answers,
};
