/**
 * The conformance suite on the real Pulsar that `npm run emulators` starts, over the broker's
 * WebSocket API (`pulsar+ws://`): every scenario, with the default Key_Shared subscriptions.
 */
import { PULSAR_WS_CAPABILITIES } from '../../adapters/pulsar/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

/** PULSAR_WS_URL is ws://host:port; polybus spells the WebSocket transport pulsar+ws://host:port. */
const url = endpoint('PULSAR_WS_URL').replace(/^ws(s?):\/\//, 'pulsar+ws$1://');

conformance({
  name: 'pulsar+ws',
  connect: () => connect(url),
  capabilities: PULSAR_WS_CAPABILITIES,
  timeoutMs: 60_000,
  waitMs: 20_000,
});
