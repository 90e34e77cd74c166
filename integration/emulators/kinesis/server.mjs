// Runs kinesalite on 127.0.0.1 only (its own CLI listens on every interface).
// Usage: node server.mjs <port> <leveldb-path>
import kinesalite from 'kinesalite';

const [port = '4567', path] = process.argv.slice(2);
const server = kinesalite({ path, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`kinesalite listening on http://127.0.0.1:${port} (data in ${path ?? 'memory'})`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
