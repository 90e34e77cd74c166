import { describe, expect, it } from 'vitest';
import { backoffDelay, retrying, withDeadline } from './backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially and stops at the cap', () => {
    const options = { initialMs: 100, maxMs: 1000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads by the jitter and never exceeds the cap', () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3, { initialMs: 100, maxMs: 450, jitter: 0.5 });
      expect(delay).toBeGreaterThanOrEqual(200);
      expect(delay).toBeLessThanOrEqual(450);
    }
  });
});

describe('retrying', () => {
  const fast = { initialMs: 1, maxMs: 2, jitter: 0 };

  it('retries retryable errors until the operation succeeds', async () => {
    let calls = 0;
    const result = await retrying(
      async () => {
        calls++;
        if (calls < 3) throw new Error('busy');
        return 'ok';
      },
      { ...fast, isRetryable: () => true },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('stops at the first error that is not retryable', async () => {
    let calls = 0;
    await expect(
      retrying(
        async () => {
          calls++;
          throw new Error(`fatal ${calls}`);
        },
        { ...fast, isRetryable: () => false },
      ),
    ).rejects.toThrow('fatal 1');
    expect(calls).toBe(1);
  });

  it('gives up after the attempts, with the last error', async () => {
    let calls = 0;
    await expect(
      retrying(
        async () => {
          calls++;
          throw new Error(`busy ${calls}`);
        },
        { ...fast, attempts: 4, isRetryable: () => true },
      ),
    ).rejects.toThrow('busy 4');
    expect(calls).toBe(4);
  });

  it('gives up when the next wait would pass the deadline', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      retrying(
        async () => {
          calls++;
          throw new Error('busy');
        },
        { initialMs: 40, maxMs: 40, jitter: 0, attempts: 100, deadlineMs: 100, isRetryable: () => true },
      ),
    ).rejects.toThrow('busy');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(calls).toBeLessThanOrEqual(4);
  });
});

describe('withDeadline', () => {
  it('settles like the operation when it is in time', async () => {
    await expect(withDeadline(Promise.resolve(7), Date.now() + 1_000, () => new Error('late'))).resolves.toBe(7);
    await expect(
      withDeadline(Promise.reject(new Error('no')), Date.now() + 1_000, () => new Error('late')),
    ).rejects.toThrow('no');
  });

  it('rejects at the deadline and absorbs the late rejection of the operation', async () => {
    let fail: (error: Error) => void = () => {};
    const slow = new Promise<number>((_, reject) => {
      fail = reject;
    });
    const started = Date.now();
    await expect(withDeadline(slow, Date.now() + 50, () => new Error('late'))).rejects.toThrow('late');
    expect(Date.now() - started).toBeLessThan(1_000);
    fail(new Error('too late')); // would be an unhandled rejection without the absorbing catch
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});
