// Runs kinesalite (Kinesis) and dynalite (DynamoDB, for the lease tables of consumer groups) in
// one process, on 127.0.0.1 only (their own CLIs listen on every interface), each with its
// LevelDB data under the given directory, so both keep their data across a restart.
// Usage: node server.mjs <kinesis-port> <dynamodb-port> <data-dir>
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';

const [kinesisPort = '4567', dynamoPort = '4568', data] = process.argv.slice(2);
const path = (name) => {
  if (data === undefined) return undefined;
  const dir = join(data, name);
  mkdirSync(dir, { recursive: true });
  return dir;
};
// A high open-shard limit: test runs create many streams and the data persists between runs.
const kinesis = kinesalite({
  path: path('kinesis'),
  createStreamMs: 0,
  deleteStreamMs: 0,
  updateStreamMs: 0,
  shardLimit: 100_000,
});
const dynamo = dynalite({ path: path('dynamodb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });

kinesis.listen(Number(kinesisPort), '127.0.0.1', () => {
  console.log(`kinesalite listening on http://127.0.0.1:${kinesisPort} (data in ${path('kinesis') ?? 'memory'})`);
});
dynamo.listen(Number(dynamoPort), '127.0.0.1', () => {
  console.log(`dynalite listening on http://127.0.0.1:${dynamoPort} (data in ${path('dynamodb') ?? 'memory'})`);
});

// Stop at once: close idle and busy connections (a request kinesalite never answers would
// otherwise hold the process until the launcher's SIGKILL), then exit once both servers closed.
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  let open = 2;
  const closed = () => {
    open--;
    if (open === 0) process.exit(0);
  };
  for (const server of [kinesis, dynamo]) {
    server.close(closed);
    server.closeAllConnections?.();
  }
  setTimeout(() => process.exit(0), 5_000).unref();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop);
