import { InvalidConfigError, isRetryable } from '../errors.js';
import type { ConsumeContext, Middleware, Next } from '../pipeline.js';

/** Options of {@link retry}. */
export interface RetryOptions {
  /**
   * Handler calls in all, the first included (default 3). `message.attempt` counts calls across
   * redeliveries too, so a redelivered message that already had its calls runs once per delivery.
   */
  attempts?: number;
  /** `exponential` doubles the delay each attempt; `fixed` keeps it (default exponential). */
  backoff?: 'exponential' | 'fixed';
  /** Delay before the second attempt, before jitter (default 100 ms). */
  initialDelayMs?: number;
  /** Upper bound of any delay (default 30 s, or initialDelayMs if larger). */
  maxDelayMs?: number;
  /** `full` picks the delay uniformly in [0, computed] (AWS "full jitter"); default full. */
  jitter?: 'full' | 'none';
  /** Return false to fail at once for errors that cannot succeed on retry. */
  retryIf?: (error: unknown) => boolean;
}

const RETRY_OPTIONS: ReadonlySet<string> = new Set([
  'attempts',
  'backoff',
  'initialDelayMs',
  'maxDelayMs',
  'jitter',
  'retryIf',
]);

/** The delay before attempt `attempt + 1`, without jitter. */
export function backoffDelay(
  attempt: number,
  options: Required<Pick<RetryOptions, 'backoff' | 'initialDelayMs' | 'maxDelayMs'>>,
): number {
  const base = options.backoff === 'fixed' ? options.initialDelayMs : options.initialDelayMs * 2 ** (attempt - 1);
  return Math.min(options.maxDelayMs, base);
}

/**
 * Retries a failing handler in process with backoff. While a message waits it holds no
 * concurrency slot, so other keys keep flowing; messages of its own key wait behind it, which
 * keeps per-key order. Decode and validation errors are not retried. After the last attempt the
 * error goes on to deadLetter() if present, else the message is redelivered after the
 * consumer's redelivery backoff. Each retry is reported with outcome `retrying`.
 */
export function retry(options: RetryOptions = {}): Middleware {
  if (options === null || typeof options !== 'object') throw badOption('options', 'an object');
  const unknown = Object.keys(options).find((name) => !RETRY_OPTIONS.has(name));
  if (unknown !== undefined) throw badOption(unknown, `one of ${[...RETRY_OPTIONS].join(', ')} (unknown option)`);
  for (const name of ['attempts', 'initialDelayMs', 'maxDelayMs'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw badOption(name, 'a finite number');
    }
  }
  if (options.backoff !== undefined && options.backoff !== 'exponential' && options.backoff !== 'fixed') {
    throw badOption('backoff', '"exponential" or "fixed"');
  }
  if (options.jitter !== undefined && options.jitter !== 'full' && options.jitter !== 'none') {
    throw badOption('jitter', '"full" or "none"');
  }
  if (options.retryIf !== undefined && typeof options.retryIf !== 'function') {
    throw badOption('retryIf', 'a function (error) => boolean');
  }
  const attempts = options.attempts ?? 3;
  const settings = {
    backoff: options.backoff ?? 'exponential',
    initialDelayMs: options.initialDelayMs ?? 100,
    maxDelayMs: options.maxDelayMs ?? Math.max(30_000, options.initialDelayMs ?? 0),
  } as const;
  const fullJitter = (options.jitter ?? 'full') === 'full';
  const retryIf = options.retryIf;
  if (!Number.isInteger(attempts) || attempts < 1) throw badOption('attempts', 'an integer >= 1');
  if (!(settings.initialDelayMs >= 0)) throw badOption('initialDelayMs', 'a number >= 0');
  if (!(settings.maxDelayMs >= settings.initialDelayMs)) throw badOption('maxDelayMs', 'a number >= initialDelayMs');

  async function retryAfter(ctx: ConsumeContext, next: Next<ConsumeContext>, failure: unknown): Promise<void> {
    let error = failure;
    for (;;) {
      ctx.firstFailureAt ??= Date.now();
      const message = ctx.message;
      if (message.attempt >= attempts || !isRetryable(error) || (retryIf !== undefined && !retryIf(error))) throw error;
      const delay = backoffDelay(message.attempt, settings);
      ctx.report(error, 'retrying');
      await ctx.sleep(fullJitter ? Math.random() * delay : delay);
      message.attempt++;
      try {
        await next(ctx);
        return;
      } catch (again) {
        error = again;
      }
    }
  }

  // The first attempt runs without an async frame: most messages succeed at once (measured in bench/).
  function handle(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    let first: Promise<void>;
    try {
      first = next(ctx);
    } catch (error) {
      return retryAfter(ctx, next, error);
    }
    return first.then(undefined, (error: unknown) => retryAfter(ctx, next, error));
  }
  return { name: 'retry', consume: { step: 'retry', handle } };
}

function badOption(name: string, expected: string): InvalidConfigError {
  return new InvalidConfigError(`retry option ${name} must be ${expected}`, {
    operation: 'configure retry',
    hint: 'Example: retry({ attempts: 5, backoff: "exponential", initialDelayMs: 100, maxDelayMs: 30000 }).',
  });
}
