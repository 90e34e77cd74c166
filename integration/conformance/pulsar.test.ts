/**
 * The conformance suite on the real Pulsar that `npm run emulators` starts, over the binary
 * protocol (our client): every scenario, with the default Key_Shared subscriptions.
 */
import { PULSAR_CAPABILITIES } from '../../adapters/pulsar/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

conformance({
  name: 'pulsar',
  connect: () => connect(endpoint('PULSAR_URL')),
  capabilities: PULSAR_CAPABILITIES,
  timeoutMs: 60_000,
  waitMs: 20_000,
});
