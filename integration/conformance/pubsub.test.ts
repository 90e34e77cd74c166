/** The conformance suite on pstest, the Pub/Sub emulator that `npm run emulators` starts. */
import { PUBSUB_CAPABILITIES } from '../../adapters/pubsub/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

/**
 * pstest refuses messages over ~4 MiB (gRPC's default receive limit) with RESOURCE_EXHAUSTED,
 * where the real service takes 10 MB: the adapter is configured (and declares) 4,000,000 bytes.
 */
const EMULATOR_MAX_MESSAGE_BYTES = 4_000_000;

conformance({
  name: 'pubsub',
  connect: () =>
    connect(
      `pubsub://${endpoint('PUBSUB_PROJECT_ID')}?emulatorHost=${endpoint('PUBSUB_EMULATOR_HOST')}&maxMessageBytes=${EMULATOR_MAX_MESSAGE_BYTES}`,
    ),
  capabilities: { ...PUBSUB_CAPABILITIES, maxMessageBytes: EMULATOR_MAX_MESSAGE_BYTES },
  timeoutMs: 60_000,
  waitMs: 15_000,
});
