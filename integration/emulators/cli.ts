/**
 * npm run emulators -- up [kafka|rabbitmq|kinesis|pubsub|pulsar ...]
 * npm run emulators -- down [...]
 * npm run emulators -- status [...]
 * npm run emulators -- reset [...]   (down, then delete their data; downloads stay cached)
 *
 * `up` prints the endpoints as `export NAME=value` lines on stdout (progress goes to stderr),
 * so `eval "$(npm run -s emulators -- up)"` sets them in a shell.
 */
import { ENV_FILE } from './common.js';
import { down, endpoints, parseBrokers, reset, status, up } from './index.js';

const [command, ...names] = process.argv.slice(2);

try {
  const brokers = parseBrokers(names);
  switch (command) {
    case 'up': {
      await up(brokers);
      for (const [name, value] of Object.entries(endpoints())) console.log(`export ${name}=${value}`);
      console.error(`[emulators] endpoints written to ${ENV_FILE}`);
      break;
    }
    case 'down':
      await down(brokers);
      console.error(`[emulators] stopped: ${brokers.join(', ')}`);
      break;
    case 'reset':
      await reset(brokers);
      console.error(`[emulators] stopped and wiped: ${brokers.join(', ')}`);
      break;
    case 'status': {
      const ready = await status(brokers);
      for (const [name, ok] of Object.entries(ready)) console.log(`${name.padEnd(9)} ${ok ? 'ready' : 'down'}`);
      if (!Object.values(ready).every(Boolean)) process.exitCode = 1;
      break;
    }
    default:
      console.error('usage: npm run emulators -- up|down|status|reset [kafka|rabbitmq|kinesis|pubsub|pulsar ...]');
      process.exitCode = 2;
  }
} catch (error) {
  console.error(`[emulators] ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
