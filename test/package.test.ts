import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('builds, and every subpath in the exports map imports from dist in plain Node', async () => {
  await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
  const { exports } = JSON.parse(readFileSync('package.json', 'utf8')) as { exports: Record<string, unknown> };
  const subpaths = Object.keys(exports).filter((path) => path !== './package.json');
  expect(subpaths).toEqual(['.', './memory', './testing']);
  // Self-reference by package name goes through the exports map, as a user's import would.
  const script = `
    const root = await import('polybus');
    const memory = await import('polybus/memory');
    const testing = await import('polybus/testing').catch((e) => ({ error: String(e) }));
    const bus = await root.connect('memory://pkg');
    const spy = { got: [] };
    await bus.consumer({ topic: 't', group: 'g' }).run((m) => { spy.got.push(m.value); });
    await bus.producer().send('t', { value: { ok: true } });
    while (spy.got.length === 0) await new Promise((r) => setTimeout(r, 5));
    await bus.close();
    console.log(JSON.stringify({ got: spy.got, memory: typeof memory.resetMemoryBroker, testing: typeof testing.spyHandler, types: Object.keys(root).includes('retry') }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
  expect(JSON.parse(stdout)).toEqual({ got: [{ ok: true }], memory: 'function', testing: 'function', types: true });
}, 120_000);
