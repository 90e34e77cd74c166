/**
 * Vitest global setup for the integration project: starts (or reuses) every broker the tests
 * need and exports their endpoints. A broker that cannot start fails the run; nothing is skipped.
 */
import { BROKERS, loadEndpoints, up } from './emulators/index.js';

export default async function setup(): Promise<void> {
  const results = await up(BROKERS);
  for (const result of results) {
    const how = result.external ? 'external' : result.reused ? 'reused' : `started in ${result.seconds.toFixed(1)} s`;
    process.stderr.write(`[integration] ${result.broker}: ${how}\n`);
  }
  // Vitest passes the global setup's process.env on to the test workers.
  loadEndpoints();
}
