import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, ENV_FILE, ensureDir, say } from './common.js';
import { kafka } from './kafka.js';
import { kinesis } from './kinesis.js';
import { BROKERS, type BrokerId, type Launcher } from './launcher.js';
import { pubsub } from './pubsub.js';
import { pulsar } from './pulsar.js';
import { rabbitmq } from './rabbitmq.js';

export { BROKERS, type BrokerId } from './launcher.js';

const LAUNCHERS: Record<BrokerId, Launcher> = { kafka, rabbitmq, kinesis, pubsub, pulsar };

export function launcher(name: BrokerId): Launcher {
  return LAUNCHERS[name];
}

export function parseBrokers(names: readonly string[]): BrokerId[] {
  if (names.length === 0) return [...BROKERS];
  for (const name of names) {
    if (!(BROKERS as readonly string[]).includes(name)) {
      throw new Error(`unknown broker "${name}"; expected one or more of: ${BROKERS.join(', ')}`);
    }
  }
  return names as BrokerId[];
}

/** Whether the user pointed this broker at one of their own (docker compose, a remote one). */
function external(broker: Launcher): boolean {
  return process.env[broker.externalVariable] !== undefined && process.env.POLYBUS_EMULATORS_FORCE !== '1';
}

export interface UpResult {
  broker: BrokerId;
  seconds: number;
  reused: boolean;
  external: boolean;
}

/**
 * Installs (cached) and starts the brokers, waits until each accepts work, writes the endpoint
 * file and returns how long each took. Brokers already running are reused. Installs run one
 * after another (they share the Maven cache); starts run in parallel.
 */
export async function up(names: readonly BrokerId[] = BROKERS): Promise<UpResult[]> {
  const started = Date.now();
  const results: UpResult[] = [];
  const local = names.map(launcher).filter((broker) => !external(broker));
  for (const broker of local) {
    const begin = Date.now();
    await broker.install();
    const seconds = (Date.now() - begin) / 1000;
    if (seconds > 1) say(`${broker.name}: installed in ${seconds.toFixed(1)} s`);
  }
  const outcomes = await Promise.allSettled(
    names.map(async (name): Promise<UpResult> => {
      const broker = launcher(name);
      const begin = Date.now();
      if (external(broker)) {
        say(`${name}: using ${broker.externalVariable}=${process.env[broker.externalVariable]} as is`);
        return { broker: name, seconds: 0, reused: true, external: true };
      }
      const wasReady = await broker.ready().catch(() => false);
      if (!wasReady) await broker.start();
      const seconds = (Date.now() - begin) / 1000;
      say(`${name}: ${wasReady ? 'already running' : `ready in ${seconds.toFixed(1)} s`}`);
      return { broker: name, seconds, reused: wasReady, external: false };
    }),
  );
  const failures = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  for (const outcome of outcomes) if (outcome.status === 'fulfilled') results.push(outcome.value);
  writeEndpoints();
  if (failures.length > 0) {
    throw new Error(failures.map((failure) => String(failure.reason?.message ?? failure.reason)).join('\n\n'));
  }
  say(`all ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return results;
}

export async function down(names: readonly BrokerId[] = BROKERS): Promise<void> {
  await Promise.all(names.map((name) => launcher(name).stop()));
}

/** Stops and starts one broker (for tests that check behaviour across a broker restart). */
export async function restart(name: BrokerId): Promise<void> {
  const broker = launcher(name);
  await broker.stop();
  await broker.start();
}

/** Stops the brokers and deletes their data (topics, queues, streams); downloads stay cached. */
export async function reset(names: readonly BrokerId[] = BROKERS): Promise<void> {
  await down(names);
  for (const name of names)
    rmSync(join(CACHE, 'data', name === 'kinesis' ? 'kinesalite' : name), { recursive: true, force: true });
  if (names.includes('rabbitmq')) rmSync(join(CACHE, 'rabbitmq', 'mnesia'), { recursive: true, force: true });
}

export async function status(names: readonly BrokerId[] = BROKERS): Promise<Record<BrokerId, boolean>> {
  const entries = await Promise.all(
    names.map(
      async (name) =>
        [
          name,
          await launcher(name)
            .ready()
            .catch(() => false),
        ] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<BrokerId, boolean>;
}

/** Endpoints of every broker: the environment's own values win over the emulators'. */
export function endpoints(): Record<string, string> {
  const all: Record<string, string> = {};
  for (const broker of Object.values(LAUNCHERS)) {
    for (const [name, value] of Object.entries(broker.endpoints)) all[name] = process.env[name] ?? value;
  }
  return all;
}

function writeEndpoints(): void {
  ensureDir(CACHE);
  const lines = Object.entries(endpoints()).map(([name, value]) => `${name}=${value}`);
  writeFileSync(ENV_FILE, `${lines.join('\n')}\n`);
}

/** Reads the endpoint file into process.env (values already set stay). */
export function loadEndpoints(): Record<string, string> {
  const values = endpoints();
  if (existsSync(ENV_FILE)) {
    for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) values[match[1]] = process.env[match[1]] ?? match[2];
    }
  }
  for (const [name, value] of Object.entries(values)) process.env[name] ??= value;
  return values;
}
