import type { Delivery, TransportRecord } from './adapter.js';
import { InvalidConfigError } from './errors.js';
import type { Message, OutgoingMessage, Receipt } from './message.js';

/** What happens to a failed message next; see `ConsumerOptions.onError`. */
export type FailureOutcome = 'retrying' | 'dead-lettered' | 'nacked' | 'error';

/** Where a consume-side middleware runs, outermost first. */
export type ConsumeStep = 'trace' | 'deadLetter' | 'decode' | 'validate' | 'retry' | 'custom';
/** Where a publish-side middleware runs, outermost first. */
export type PublishStep = 'custom' | 'serialize' | 'trace';

const CONSUME_ORDER: readonly ConsumeStep[] = ['trace', 'deadLetter', 'decode', 'validate', 'retry', 'custom'];
const PUBLISH_ORDER: readonly PublishStep[] = ['custom', 'serialize', 'trace'];

/** Identifies the consumer a message is being handled by. */
export interface ConsumerInfo {
  readonly broker: string;
  readonly topic: string;
  readonly group: string;
  /** The consumer's `maxDeliveries` (Infinity when unset): read by deadLetter(). */
  readonly maxDeliveries: number;
}

/** The state one delivery carries through the consume chain. */
export interface ConsumeContext<T = unknown> {
  readonly message: Message<T>;
  readonly delivery: Delivery;
  readonly consumer: ConsumerInfo;
  /** When the first attempt of this delivery failed (set by retry, read by deadLetter). */
  firstFailureAt: number | undefined;
  /**
   * The error that made a middleware settle the message without the handler succeeding (set by
   * deadLetter before it publishes; read by tracing to mark the span failed).
   */
  error: unknown;
  /** Aborts when the consumer's close timeout expires, or after `handlerTimeoutMs` of a handler call. */
  readonly signal: AbortSignal;
  /** Reports a failure and what happens next to onError and the `polybus:consumer:error` channel. */
  report(error: unknown, outcome: FailureOutcome): void;
  /** Waits without holding a concurrency slot; rejects with ClosedError if the consumer closes. */
  sleep(ms: number): Promise<void>;
  /**
   * Publishes already-encoded records through the same broker connection (used by deadLetter),
   * through the publish stages of the consumer's tracing middleware, so the send is a child span.
   */
  publish(topic: string, records: readonly TransportRecord[]): Promise<Receipt[]>;
}

/** The state one send call carries through the publish chain. */
export interface PublishContext<T = unknown> {
  readonly broker: string;
  readonly topic: string;
  readonly messages: readonly OutgoingMessage<T>[];
  /** Filled by the serialize step; the transport sends these. */
  records: TransportRecord[];
  /** Filled by the transport. */
  receipts: Receipt[];
}

/** Calls the rest of the chain. Middleware like retry may call it more than once. */
export type Next<C> = (ctx: C) => Promise<void>;
/** A koa-style handler: do work, call `next(ctx)` (or not), do more work. */
export type Handle<C> = (ctx: C, next: Next<C>) => Promise<void>;

/** A consume-side stage. */
export interface ConsumeStage {
  readonly step: ConsumeStep;
  /** Lower runs first among stages of the same step; ties keep list order. */
  readonly priority?: number;
  /**
   * Runs the stage. A method (not a function-typed property), so that a stage written for one
   * value type, `(ctx: ConsumeContext<Order>, next) => …`, fits: stages see messages of any type.
   */
  handle(ctx: ConsumeContext<unknown>, next: Next<ConsumeContext<unknown>>): Promise<void>;
}

/** A publish-side stage. */
export interface PublishStage {
  readonly step: PublishStep;
  readonly priority?: number;
  /** Runs the stage; a method for the same reason as {@link ConsumeStage.handle}. */
  handle(ctx: PublishContext<unknown>, next: Next<PublishContext<unknown>>): Promise<void>;
}

/**
 * A named middleware for the consume path, the publish path, or both (tracing). The step fixes
 * where it runs, so the order is right whatever order users list middleware in.
 */
export interface Middleware {
  readonly name: string;
  readonly consume?: ConsumeStage;
  readonly publish?: PublishStage;
}

/** A bare function is a custom consume-side middleware. */
export type MiddlewareInput = Middleware | Handle<ConsumeContext>;

/** Normalises user input: bare functions become named custom middleware. */
export function toMiddleware(input: MiddlewareInput, index: number): Middleware {
  if (typeof input === 'function') {
    return { name: input.name || `custom#${index}`, consume: { step: 'custom', handle: input } };
  }
  if (!input || typeof input.name !== 'string' || (!input.consume && !input.publish)) {
    throw new InvalidConfigError(`use[${index}] is not a middleware`, {
      operation: 'configure middleware',
      hint: 'Pass built-ins such as retry() or deadLetter(), a { name, consume | publish } object, or an async (ctx, next) => {} function.',
    });
  }
  return input;
}

/** Sorts stages by their step, then priority, then list order; rejects duplicate names. */
function order<S extends ConsumeStage | PublishStage>(
  middleware: readonly Middleware[],
  pick: (m: Middleware) => S | undefined,
  steps: readonly string[],
): S[] {
  const seen = new Set<string>();
  const stages: { stage: S; index: number }[] = [];
  middleware.forEach((m, index) => {
    const stage = pick(m);
    if (!stage) return;
    if (seen.has(m.name)) {
      throw new InvalidConfigError(`the middleware "${m.name}" is listed twice`, {
        operation: 'configure middleware',
        hint: 'List each middleware once; give custom middleware distinct names.',
      });
    }
    seen.add(m.name);
    stages.push({ stage, index });
  });
  stages.sort(
    (a, b) =>
      steps.indexOf(a.stage.step) - steps.indexOf(b.stage.step) ||
      (a.stage.priority ?? 0) - (b.stage.priority ?? 0) ||
      a.index - b.index,
  );
  return stages.map((entry) => entry.stage);
}

/**
 * Builds the chain once: each stage gets a `next` that is a function made here, so running a
 * message through the chain allocates no closures.
 */
export function compose<C>(handles: readonly Handle<C>[], terminal: Next<C>): Next<C> {
  let chain = terminal;
  for (let i = handles.length - 1; i >= 0; i--) {
    const handle = handles[i] as Handle<C>;
    const next = chain;
    chain = (ctx) => handle(ctx, next);
  }
  return chain;
}

/** The consume chain for a list of middleware, ending in `terminal` (the user's handler). */
export function composeConsume(
  middleware: readonly Middleware[],
  terminal: Next<ConsumeContext>,
): Next<ConsumeContext> {
  return compose(
    order(middleware, (m) => m.consume, CONSUME_ORDER).map((stage) => stage.handle),
    terminal,
  );
}

/** The publish chain for a list of middleware, ending in `terminal` (the transport). */
export function composePublish(
  middleware: readonly Middleware[],
  terminal: Next<PublishContext>,
): Next<PublishContext> {
  return compose(
    order(middleware, (m) => m.publish, PUBLISH_ORDER).map((stage) => stage.handle),
    terminal,
  );
}
