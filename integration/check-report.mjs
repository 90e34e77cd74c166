// Reads the JSON report `npm test` writes and fails if any test failed, if a smoke test of any
// broker did not pass (a skipped broker is a failure), if an adapter's conformance, reconnect or
// rebalance suite is missing or passed nothing, or if nothing ran. Prints the totals.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(new URL('../.emulators/test-report.json', import.meta.url), 'utf8'));
const tests = report.testResults.flatMap((file) => file.assertionResults.map((test) => ({ ...test, file: file.name })));
const passed = tests.filter((test) => test.status === 'passed');
const failed = tests.filter((test) => test.status === 'failed');
const skipped = tests.filter((test) => test.status !== 'passed' && test.status !== 'failed');

const problems = [];
if (tests.length === 0) problems.push('no test ran');
for (const test of failed) problems.push(`failed: ${test.fullName}`);
for (const broker of ['kafka', 'rabbitmq', 'kinesis', 'pubsub', 'pulsar']) {
  const smoke = tests.find((test) => test.file.endsWith('smoke.test.ts') && test.title.startsWith(`${broker} `));
  if (smoke?.status !== 'passed') problems.push(`${broker}: smoke test ${smoke ? smoke.status : 'missing'}`);
}
// Every adapter's suites must have run and passed: a missing describe block is a failure too.
const REQUIRED = [
  'conformance: kafka',
  'reconnect: kafka',
  'rebalance: kafka',
  'conformance: rabbitmq',
  'conformance: rabbitmq single-active',
  'reconnect: rabbitmq',
  'conformance: pubsub',
  'reconnect: pubsub',
  'conformance: kinesis',
  'reconnect: kinesis',
  'leases: kinesis',
  'resharding: kinesis',
  'conformance: pulsar',
  'conformance: pulsar+ws',
  'reconnect: pulsar',
  'reconnect: pulsar+ws',
];
for (const block of REQUIRED) {
  const inBlock = tests.filter((test) => test.ancestorTitles.includes(block));
  const ran = inBlock.filter((test) => test.status === 'passed');
  if (ran.length === 0) problems.push(`${block}: no test passed (${inBlock.length} found)`);
}
for (const test of skipped) console.log(`not applicable (skipped by capability): ${test.fullName}`);
for (const problem of problems) console.error(problem);
console.log(`tests: ${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped`);
process.exit(problems.length > 0 ? 1 : 0);
