import { setTimeout as sleep } from 'node:timers/promises';

/** How {@link backoffDelay} grows. */
export interface BackoffOptions {
  /** First delay (default 200 ms). */
  initialMs?: number;
  /** Largest delay (default 30 s). */
  maxMs?: number;
  /** Random spread around each delay, 0..1 (default 0.2: ±20 %). */
  jitter?: number;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 200;
  const max = options.maxMs ?? 30_000;
  const jitter = options.jitter ?? 0.2;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  const spread = base * jitter * (Math.random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(max, base + spread)));
}

/** Options of {@link retrying}. */
export interface RetryingOptions extends BackoffOptions {
  /** Whether an error may go away by trying again. */
  isRetryable(error: unknown): boolean;
  /** Give up after this many attempts in all (default 5). */
  attempts?: number;
  /** Give up once this much time has passed (default: no limit but `attempts`). */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/**
 * Runs `operation` until it succeeds, it throws an error that is not retryable, or the attempts
 * or deadline run out (then the last error is thrown).
 */
export async function retrying<T>(operation: (attempt: number) => Promise<T>, options: RetryingOptions): Promise<T> {
  const attempts = options.attempts ?? 5;
  const deadline = options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= attempts || !options.isRetryable(error) || options.signal?.aborted) throw error;
      const wait = backoffDelay(attempt, options);
      if (Date.now() + wait > deadline) throw error;
      await sleep(wait, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => {
        throw error;
      });
    }
  }
}

/**
 * Settles like `operation`, or rejects with `onTimeout()` once `deadline` (a Date.now() value)
 * has passed, whichever comes first. The operation goes on in the background; its late
 * rejection is absorbed, never unhandled.
 */
export function withDeadline<T>(operation: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
  });
  operation.catch(() => {});
  return Promise.race([operation, expired]).finally(() => clearTimeout(timer));
}
