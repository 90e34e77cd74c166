// The published package, as a user gets it: build into a temp dir, list the tarball with
// `npm pack --dry-run`, install exactly those files into a temp app's node_modules (no vitest,
// no repo node_modules above it), then use it from ESM, CommonJS and CommonJS TypeScript.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const SUBPATHS = [
  '.',
  './kafka',
  './kinesis',
  './memory',
  './pubsub',
  './pulsar',
  './rabbitmq',
  './testing',
  './testing/conformance',
];

type ExportTarget = Record<string, string>;
interface PackResult {
  files: { path: string }[];
}

let tmp = '';
let app = '';
let installed = '';
let packed: string[] = [];
let exportsMap: Record<string, ExportTarget | string> = {};

/** Runs a Node script (ESM or CommonJS) in the temp app with the node running the tests. */
async function node(kind: 'module' | 'commonjs', script: string): Promise<unknown> {
  const { stdout } = await exec(process.execPath, [`--input-type=${kind}`, '-e', script], {
    cwd: app,
    timeout: 20_000,
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last);
}

/** Bare specifiers reachable from `entry` through static and dynamic imports of relative files. */
function importGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const specifier = match[1] ?? '';
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files: [...files].map((file) => posix.relative(installed, file)), packages: [...packages] };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'polybus-package-'));
  const stage = join(tmp, 'stage');
  app = join(tmp, 'app');
  installed = join(app, 'node_modules', 'polybus');
  // Build into the stage, not the repo's dist/, so stale files there cannot hide (or cause) a failure.
  await exec(process.execPath, [tsc, '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], {
    timeout: 45_000,
  });
  for (const file of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(repo, file), join(stage, file));
  const { stdout } = await exec('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: stage,
    timeout: 30_000,
  });
  packed = (JSON.parse(stdout) as PackResult[])[0]?.files.map((file) => file.path) ?? [];
  for (const file of packed) {
    mkdirSync(dirname(join(installed, file)), { recursive: true });
    copyFileSync(join(stage, file), join(installed, file));
  }
  mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'commonjs' }));
  exportsMap = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: typeof exportsMap })
    .exports;
}, 90_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('published package', () => {
  it('has types first and a default (import and require) target for every subpath, all in the tarball', () => {
    expect(Object.keys(exportsMap)).toEqual([...SUBPATHS, './package.json']);
    for (const subpath of SUBPATHS) {
      const target = exportsMap[subpath] as ExportTarget;
      expect(Object.keys(target)[0], subpath).toBe('types');
      expect(target.default, subpath).toBe(target.import);
      for (const file of Object.values(target))
        expect(packed, `${subpath} -> ${file}`).toContain(posix.normalize(file));
    }
  });

  it('ships LICENSE, and no source map whose sources are missing from the tarball', () => {
    expect(packed).toContain('LICENSE');
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toContain('Apache License');
    for (const map of packed.filter((file) => file.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
      for (const source of sources)
        expect(packed, `${map} -> ${source}`).toContain(posix.join(posix.dirname(map), source));
    }
  });

  it('imports every subpath from ESM; only the conformance subpath needs vitest', async () => {
    const result = await node(
      'module',
      `
      const root = await import('polybus');
      const memory = await import('polybus/memory');
      const testing = await import('polybus/testing');
      const conformance = await import('polybus/testing/conformance').then(() => 'loaded', (e) => String(e.message));
      const bus = await root.connect('memory://esm');
      const spy = testing.spyHandler();
      await bus.consumer({ topic: 't', group: 'g' }).run(spy.handler);
      await bus.producer().send('t', { value: { ok: true } });
      const got = (await spy.waitForHandled(1, 5000)).map((m) => m.value);
      await bus.close();
      console.log(JSON.stringify({ got, memory: typeof memory.resetMemoryBroker, retry: typeof root.retry, conformance }));
    `,
    );
    expect(result).toEqual({
      got: [{ ok: true }],
      memory: 'function',
      retry: 'function',
      conformance: expect.stringContaining("'vitest'"),
    });
  });

  it('works with require() from CommonJS (require(esm): Node >= 20.19)', async () => {
    const result = await node(
      'commonjs',
      `
      const { connect } = require('polybus');
      const { spyHandler, waitForIdle } = require('polybus/testing');
      const { resetMemoryBroker } = require('polybus/memory');
      (async () => {
        const bus = await connect('memory://cjs');
        const spy = spyHandler();
        const consumer = bus.consumer({ topic: 't', group: 'g' });
        await consumer.run(spy.handler);
        await bus.producer().send('t', [{ value: 1 }, { value: 2 }]);
        await spy.waitForHandled(2, 5000);
        await waitForIdle(consumer);
        await bus.close();
        resetMemoryBroker();
        console.log(JSON.stringify({ got: spy.handled.map((m) => m.value).sort(), acked: consumer.stats.acked }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `,
    );
    expect(result).toEqual({ got: [1, 2], acked: 2 });
  });

  it('polybus/testing needs no vitest: not in its import graph, and it runs where vitest is not installed', async () => {
    const testing = importGraph(join(installed, 'dist/src/testing/index.js'));
    expect(testing.files).toContain('dist/src/testing/spy.js');
    expect(testing.packages.filter((name) => name === 'vitest' || name.startsWith('vitest/'))).toEqual([]);
    // The check itself works: the conformance entry does reach vitest.
    expect(importGraph(join(installed, 'dist/src/testing/conformance.js')).packages).toContain('vitest');

    const result = await node(
      'module',
      `
      const vitest = await import('vitest').then(() => 'installed', () => 'absent');
      const { connect } = await import('polybus');
      const { spyHandler, waitForIdle, installTestTracing } = await import('polybus/testing');
      const bus = await connect('memory://no-vitest');
      const spy = spyHandler(async (m) => { if (m.value === 'bad') throw new Error('bad'); });
      const consumer = bus.consumer({ topic: 't', group: 'g' });
      await consumer.run(spy.handler);
      await bus.producer().send('t', [{ value: 'a' }, { value: 'b' }]);
      await spy.waitForHandled(2, 5000);
      await waitForIdle(consumer);
      await bus.close();
      console.log(JSON.stringify({ vitest, handled: spy.handled.length, tracing: typeof installTestTracing }));
    `,
    );
    expect(result).toEqual({ vitest: 'absent', handled: 2, tracing: 'function' });
  });

  it.each([
    ['nodenext (TypeScript >= 5.8)', { module: 'nodenext' }],
    ['commonjs / node10 resolution (typesVersions)', { module: 'commonjs', moduleResolution: 'node10' }],
  ])('type-checks and runs a CommonJS TypeScript project: module %s', async (label, options) => {
    const dir = join(app, label.split(' ')[0] ?? 'ts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'index.ts'),
      `
      import { type Broker, connect, retry } from 'polybus';
      import { resetMemoryBroker } from 'polybus/memory';
      import { type HandlerSpy, spyHandler, waitForIdle } from 'polybus/testing';
      import type { ConformanceTarget } from 'polybus/testing/conformance';

      interface Order { id: number }
      export type Target = ConformanceTarget;

      async function main(): Promise<void> {
        const bus: Broker = await connect('memory://cts');
        const spy: HandlerSpy<Order> = spyHandler<Order>();
        const consumer = bus.consumer<Order>({ topic: 'orders', group: 'g', use: [retry({ attempts: 2 })] });
        await consumer.run(spy.handler);
        await bus.producer().send('orders', { value: { id: 7 } });
        const handled = await spy.waitForHandled(1, 5000);
        const ids: number[] = handled.map((message) => message.value.id);
        await waitForIdle(consumer);
        await bus.close();
        resetMemoryBroker();
        console.log(JSON.stringify(ids));
      }
      main().catch((error: unknown) => {
        console.error(error);
        process.exit(1);
      });
    `,
    );
    const compilerOptions = { ...options, target: 'ES2022', strict: true, types: ['node'], outDir: 'out' };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
    const compiled = await exec(process.execPath, [tsc, '-p', dir], { timeout: 45_000 }).catch(
      (error: { stdout?: string }) => ({ stdout: `tsc failed:\n${error.stdout ?? String(error)}` }),
    );
    expect(compiled.stdout).toBe('');
    const js = readFileSync(join(dir, 'out', 'index.js'), 'utf8');
    expect(js).toContain('require("polybus")');
    const { stdout } = await exec(process.execPath, [join(dir, 'out', 'index.js')], { cwd: app, timeout: 20_000 });
    expect(JSON.parse(stdout)).toEqual([7]);
  });
});
