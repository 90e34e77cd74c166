/**
 * npm run bench [-- memory|kafka|rabbitmq|kinesis|pubsub|pulsar|pulsar+ws|pulsar-protocol|all ...]
 *
 * Runs each named benchmark (default: memory) in its own process, one after another, so they
 * never compete for the machine's two cores. Broker benchmarks start their broker through
 * integration/emulators if it is not running. Each benchmark prints a table and ends with one
 * JSON line; this runner repeats those lines at the end, one per benchmark, and fails if one
 * failed or printed no JSON line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const KNOWN = ['memory', 'kafka', 'rabbitmq', 'kinesis', 'pubsub', 'pulsar', 'pulsar+ws', 'pulsar-protocol'] as const;
type BenchName = (typeof KNOWN)[number];

/** Benchmarks that are another one run with other settings: the file and the environment they add. */
const VARIANTS: Partial<Record<BenchName, { file: string; env: Record<string, string> }>> = {
  'pulsar+ws': { file: 'pulsar', env: { BENCH_TRANSPORT: 'websocket' } },
};

function selected(args: readonly string[]): BenchName[] {
  if (args.length === 0) return ['memory'];
  if (args.includes('all')) return KNOWN.filter((name) => existsSync(fileURLToPath(benchFile(name))));
  for (const name of args) {
    if (!(KNOWN as readonly string[]).includes(name)) {
      throw new Error(`unknown benchmark "${name}"; expected one or more of: ${KNOWN.join(', ')}, all`);
    }
  }
  return args as BenchName[];
}

function benchFile(name: BenchName): URL {
  return new URL(`./${VARIANTS[name]?.file ?? name}.ts`, import.meta.url);
}

/** Runs one benchmark, echoing its output, and returns its last JSON line. */
function run(name: BenchName): Promise<string> {
  const file = fileURLToPath(benchFile(name));
  if (!existsSync(file)) return Promise.reject(new Error(`${file} does not exist`));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...VARIANTS[name]?.env },
    });
    let output = '';
    // A benchmark that stalls fails the run instead of holding it (and CI) forever.
    const limitMs = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench ${name} did not finish within ${limitMs / 1000} s (BENCH_TIMEOUT_S)`));
    }, limitMs);
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const json = output
        .trim()
        .split('\n')
        .reverse()
        .find((line) => line.startsWith('{'));
      if (code !== 0) reject(new Error(`bench ${name} exited with code ${code}`));
      else if (json === undefined) reject(new Error(`bench ${name} printed no JSON line`));
      else resolve(json);
    });
  });
}

const lines: string[] = [];
let failed = false;
for (const name of selected(process.argv.slice(2))) {
  process.stdout.write(`\n=== bench: ${name}\n`);
  try {
    lines.push(await run(name));
  } catch (error) {
    failed = true;
    process.stderr.write(`[bench] ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
process.stdout.write('\n');
for (const line of lines) process.stdout.write(`${line}\n`);
if (failed) process.exitCode = 1;
