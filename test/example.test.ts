import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('runs the README example: bills three orders and dead-letters the bad one', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/orders.ts'], {
    env: { ...process.env, BROKER_URL: '' },
  });
  expect(stdout).toContain('billed o-2 (c-2, 45 EUR) on attempt 2');
  expect(stdout).toMatch(/dead-lettered o-3 after 3 attempts: order o-3 has a negative amount/);
  expect(stdout).toContain('done: 3 billed, 1 dead-lettered');
}, 60_000);
