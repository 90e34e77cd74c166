import { describe, expect, it } from 'vitest';
import { backoffDelay, InvalidConfigError, retry, ValidationError } from '../src/index.js';
import type { ConsumeContext } from '../src/pipeline.js';

function fakeContext(attempt = 1) {
  const sleeps: number[] = [];
  const ctx = {
    message: { attempt },
    firstFailureAt: undefined,
    report: () => {},
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  } as unknown as ConsumeContext;
  return { ctx, sleeps };
}

describe('retry', () => {
  it('computes exponential and fixed delays capped at maxDelayMs', () => {
    const exponential = { backoff: 'exponential' as const, initialDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, exponential))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay(4, { ...exponential, backoff: 'fixed' })).toBe(100);
  });

  it('retries up to attempts, sleeping with full jitter within the bound', async () => {
    const { ctx, sleeps } = fakeContext();
    let calls = 0;
    const handle = retry({ attempts: 4, initialDelayMs: 100, maxDelayMs: 250 }).consume?.handle;
    await expect(
      handle?.(ctx, async () => {
        calls++;
        throw new Error('down');
      }),
    ).rejects.toThrow('down');
    expect(calls).toBe(4);
    expect(ctx.message.attempt).toBe(4);
    expect(sleeps).toHaveLength(3);
    sleeps.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual([100, 200, 250][i] as number);
    });
    expect(ctx.firstFailureAt).toBeTypeOf('number');
  });

  it('counts from the delivered attempt, so a redelivered message is not retried forever', async () => {
    const { ctx } = fakeContext(3);
    let calls = 0;
    await expect(
      retry({ attempts: 4, jitter: 'none', initialDelayMs: 0 }).consume?.handle(ctx, async () => {
        calls++;
        throw new Error('x');
      }),
    ).rejects.toThrow();
    expect(calls).toBe(2);
  });

  it('does not retry validation errors or errors retryIf rejects', async () => {
    const { ctx } = fakeContext();
    let calls = 0;
    await expect(
      retry({ attempts: 5 }).consume?.handle(ctx, async () => {
        calls++;
        throw new ValidationError([{ message: 'bad' }]);
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    const second = fakeContext();
    await expect(
      retry({ attempts: 5, retryIf: (e) => (e as Error).message !== 'fatal' }).consume?.handle(second.ctx, async () => {
        calls++;
        throw new Error('fatal');
      }),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(2);
  });

  it('rejects bad options', () => {
    expect(() => retry({ attempts: 0 })).toThrow(InvalidConfigError);
    expect(() => retry({ initialDelayMs: 100, maxDelayMs: 10 })).toThrow(/maxDelayMs/);
    const careless: unknown[] = [
      { retryIf: 'yes' },
      { backoff: 'linear' },
      { jitter: 'sometimes' },
      { initialDelayMs: '100' },
      { attempts: '5' },
      { atempts: 5 },
      'fast',
    ];
    for (const options of careless) {
      expect(() => retry(options as never), JSON.stringify(options)).toThrow(InvalidConfigError);
    }
    expect(() => retry({ backoff: 'linear' } as never)).toThrow(/"exponential" or "fixed"/);
    expect(() => retry({ atempts: 5 } as never)).toThrow(/atempts/);
  });
});
