import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { CACHE, EmulatorError, ensureDir, execFileAsync, launch, ROOT, stopDetached, tcpOpen } from './common.js';
import type { Launcher } from './launcher.js';
import { copyDependencies, pomProperty } from './maven.js';

const POM_DIR = join(ROOT, 'integration/emulators/kafka');
const VERSION = pomProperty(POM_DIR, 'kafka.version');
const HOME = join(CACHE, `kafka-${VERSION}`);
const LIBS = join(HOME, 'libs');
const DATA = join(CACHE, 'data', 'kafka');
const PORT = Number(process.env.POLYBUS_KAFKA_PORT ?? 9092);
const CONTROLLER_PORT = PORT + 1;
const HOST = '127.0.0.1';

function serverProperties(): string {
  return `# Written by integration/emulators/kafka.ts: single-node KRaft broker on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${join(DATA, 'logs')}
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
message.max.bytes=1048588
`;
}

function java(args: string[]): [string, string[]] {
  return [
    'java',
    [
      '-Xms256m',
      '-Xmx768m',
      `-Dlog4j2.configurationFile=${join(POM_DIR, 'log4j2.properties')}`,
      '-cp',
      `${LIBS}/*`,
      ...args,
    ],
  ];
}

async function roundTrip(): Promise<boolean> {
  if (!(await tcpOpen(HOST, PORT))) return false;
  const kafka = new Kafka({
    clientId: 'polybus-emulators',
    brokers: [`${HOST}:${PORT}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer();
  try {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'polybus.ready', numPartitions: 1 }], waitForLeaders: true });
    await producer.connect();
    await producer.send({ topic: 'polybus.ready', messages: [{ value: 'ready' }] });
    return true;
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

export const kafka: Launcher = {
  name: 'kafka',
  externalVariable: 'KAFKA_BROKERS',
  endpoints: { KAFKA_BROKERS: `${HOST}:${PORT}` },

  async install() {
    await copyDependencies('kafka', POM_DIR, LIBS);
  },

  async start() {
    await this.stop();
    ensureDir(DATA);
    const config = join(DATA, 'server.properties');
    writeFileSync(config, serverProperties());
    if (!existsSync(join(DATA, 'logs', 'meta.properties'))) {
      const [command, uuidArgs] = java(['kafka.tools.StorageTool', 'random-uuid']);
      const clusterId = (await execFileAsync(command, uuidArgs)).stdout.trim().split('\n').pop() ?? '';
      const [, formatArgs] = java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config]);
      try {
        await execFileAsync(command, formatArgs);
      } catch (error) {
        throw new EmulatorError('kafka', `storage format failed: ${(error as Error).message}`);
      }
    }
    const [command, args] = java(['kafka.Kafka', config]);
    await launch(
      'kafka',
      { command, args },
      { what: 'accepting produce requests', check: roundTrip, timeoutMs: 120_000 },
    );
  },

  async stop() {
    await stopDetached('kafka');
  },

  ready: roundTrip,
};
