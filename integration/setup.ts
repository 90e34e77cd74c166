/**
 * Vitest global setup for the integration project: starts (or reuses) every broker the tests
 * need and exports their endpoints. A broker that cannot start fails the run; nothing is skipped.
 * POLYBUS_TEST_BROKERS=kafka[,rabbitmq…] limits which brokers it starts (default: all of them),
 * for running one broker's files alone.
 */
import { BROKERS, loadEndpoints, parseBrokers, up } from './emulators/index.js';

export default async function setup(): Promise<void> {
  const only = (process.env.POLYBUS_TEST_BROKERS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const results = await up(only.length > 0 ? parseBrokers(only) : BROKERS);
  for (const result of results) {
    const how = result.external ? 'external' : result.reused ? 'reused' : `started in ${result.seconds.toFixed(1)} s`;
    process.stderr.write(`[integration] ${result.broker}: ${how}\n`);
  }
  // Vitest passes the global setup's process.env on to the test workers.
  loadEndpoints();
}
