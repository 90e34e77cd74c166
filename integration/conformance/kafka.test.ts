/** The conformance suite on the real Kafka broker that `npm run emulators` starts. */
import { KAFKA_CAPABILITIES } from '../../adapters/kafka/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

conformance({
  name: 'kafka',
  connect: () => connect(`kafka://${endpoint('KAFKA_BROKERS')}?clientId=polybus-conformance`),
  capabilities: KAFKA_CAPABILITIES,
  // Joining a group takes a rebalance (up to a heartbeat interval for existing members to notice).
  timeoutMs: 60_000,
  waitMs: 20_000,
});
