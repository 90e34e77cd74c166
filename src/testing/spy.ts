import type { Consumer, Handler } from '../consumer.js';
import { TimeoutError } from '../errors.js';
import type { Message } from '../message.js';

/** A recorded handler call. */
export interface HandledCall<T> {
  message: Message<T>;
  /** The value and attempt as they were during this call (the message object is reused by retries). */
  value: T;
  attempt: number;
  error?: unknown;
}

/** Records what a handler got, and lets a test await it. See {@link spyHandler}. */
export interface HandlerSpy<T> {
  /** Pass this to consumer.run(). */
  readonly handler: Handler<T>;
  /** Every call, in call order, failed ones included. */
  readonly calls: ReadonlyArray<HandledCall<T>>;
  /** Messages whose handler call resolved, in completion order. */
  readonly handled: ReadonlyArray<Message<T>>;
  /** Resolves once `count` calls have resolved; rejects after `timeoutMs` (default 10 s). */
  waitForHandled(count: number, timeoutMs?: number): Promise<ReadonlyArray<Message<T>>>;
  /** Resolves with the first call matching `predicate` (past or future). */
  waitFor(predicate: (call: HandledCall<T>) => boolean, timeoutMs?: number): Promise<HandledCall<T>>;
}

/**
 * Wraps a handler (or a no-op) so tests can see what was handled and wait for it:
 * ```ts
 * const spy = spyHandler<Order>(async (msg) => bill(msg.value));
 * await consumer.run(spy.handler);
 * await producer.send('orders', { value: order });
 * await spy.waitForHandled(1);
 * ```
 */
export function spyHandler<T>(implementation?: Handler<T>): HandlerSpy<T> {
  const calls: HandledCall<T>[] = [];
  const handled: Message<T>[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const waiter of waiters) waiter();
  };

  const handler: Handler<T> = async (message, signal) => {
    const call: HandledCall<T> = { message, value: message.value, attempt: message.attempt };
    calls.push(call);
    try {
      await implementation?.(message, signal);
    } catch (error) {
      call.error = error;
      notify();
      throw error;
    }
    handled.push(message);
    notify();
  };

  function until<R>(check: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<R>((resolve, reject) => {
      const waiter = (): void => {
        const result = check();
        if (result === undefined) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(result);
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(
          new TimeoutError(
            'wait for handler',
            timeoutMs,
            `${what} did not happen (${calls.length} calls, ${handled.length} handled)`,
          ),
        );
      }, timeoutMs);
      waiters.add(waiter);
    });
  }

  return {
    handler,
    calls,
    handled,
    waitForHandled: (count, timeoutMs = 10_000) =>
      until(() => (handled.length >= count ? handled : undefined), timeoutMs, `${count} handled messages`),
    waitFor: (predicate, timeoutMs = 10_000) =>
      until(() => calls.find(predicate), timeoutMs, 'a matching handler call'),
  };
}

/**
 * Resolves once the consumer has had no unsettled message for `quietMs` (default 50 ms):
 * everything delivered so far was handled and acknowledged.
 */
export async function waitForIdle(
  consumer: Consumer<unknown>,
  options: { quietMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const quietMs = options.quietMs ?? 50;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  for (;;) {
    if (consumer.stats.unsettled > 0) quietSince = Date.now();
    else if (Date.now() - quietSince >= quietMs) return;
    if (Date.now() > deadline) {
      throw new TimeoutError('wait for idle', timeoutMs, `${consumer.stats.unsettled} message(s) still unsettled`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
