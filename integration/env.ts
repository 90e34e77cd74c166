import { loadEndpoints } from './emulators/index.js';

/** The endpoint variables of the running brokers (the environment's own values win). */
export function endpoint(name: string): string {
  const value = process.env[name] ?? loadEndpoints()[name];
  if (!value) throw new Error(`${name} is not set: run \`npm run emulators -- up\` or set it to your broker`);
  return value;
}
