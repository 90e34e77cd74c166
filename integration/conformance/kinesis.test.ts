/**
 * The conformance suite on kinesalite + dynalite (the lease tables), as `npm run emulators` starts them,
 * through `connect('kinesis://…')` as a user would. Streams get 2 shards, so that two members of a
 * group can share one; failover and polling are short, so that a member joining a group gets its
 * shards within a second or two.
 */
import { KINESIS_CAPABILITIES } from '../../adapters/kinesis/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';
import { endpoint } from '../env.js';

const url = () =>
  `kinesis://us-east-1?endpoint=${endpoint('KINESIS_ENDPOINT')}&dynamoEndpoint=${endpoint('DYNAMODB_ENDPOINT')}` +
  '&shards=2&accessKeyId=local&secretAccessKey=local&failoverTimeMs=3000&pollIntervalMs=250&checkpointIntervalMs=200';

conformance({
  name: 'kinesis',
  connect: () => connect(url()),
  capabilities: KINESIS_CAPABILITIES,
  timeoutMs: 60_000,
  waitMs: 20_000,
});
