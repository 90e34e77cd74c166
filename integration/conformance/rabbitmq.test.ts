/**
 * The conformance suite on the real RabbitMQ that `npm run emulators` starts, through
 * `connect('amqp://…')` as a user would: every scenario in the default mode (quorum queues,
 * members of a group share the queue round-robin), and the per-key scenarios again with
 * `singleActiveConsumer=true`, where per-key order holds across a group.
 */
import { RABBITMQ_CAPABILITIES, rabbitMqCapabilities } from '../../adapters/rabbitmq/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

conformance({
  name: 'rabbitmq',
  connect: () => connect(endpoint('AMQP_URL')),
  capabilities: RABBITMQ_CAPABILITIES,
  timeoutMs: 60_000,
  waitMs: 20_000,
});

/** The scenarios about per-key order (one key, or order checked per key). */
const PER_KEY_SCENARIOS = new Set([
  'publishes a batch in order and returns one receipt per message',
  'redelivers a message whose handler threw (nack), with the same id and attempt 2',
  'redelivers a nacked message before the later messages of its key',
  'keeps per-key order with concurrency > 1',
  'loses nothing across a consumer close and reopen in the same group',
]);

conformance({
  name: 'rabbitmq single-active',
  connect: () => connect(`${endpoint('AMQP_URL')}?singleActiveConsumer=true`),
  capabilities: rabbitMqCapabilities({ ...RABBITMQ_CAPABILITIES, singleActiveConsumer: true }),
  timeoutMs: 60_000,
  waitMs: 20_000,
  include: (scenario) => PER_KEY_SCENARIOS.has(scenario),
});
