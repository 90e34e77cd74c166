import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type * as Otel from '@opentelemetry/api';
import { optionalRequire } from '../optional-require.js';

/** A span as the test tracer recorded it. */
export interface RecordedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  /** Exceptions recorded on the span (`recordException`), as `name: message`. */
  exceptions: string[];
  ended: boolean;
}

/** The recorder returned by {@link installTestTracing}. */
export interface TestTracing {
  readonly spans: ReadonlyArray<RecordedSpan>;
  /** Runs `fn` inside a new active span (a stand-in for the user's request span). */
  withSpan<R>(name: string, fn: () => Promise<R>): Promise<R>;
  /** The span context active where this is called, if any. */
  activeSpanContext(): { traceId: string; spanId: string } | undefined;
  reset(): void;
}

let installed: TestTracing | undefined;

/**
 * Registers a minimal recording tracer and an AsyncLocalStorage context manager with
 * `@opentelemetry/api`, so tests can check spans without an OpenTelemetry SDK. Installs once
 * per process (the API allows one global registration) and returns the same recorder after.
 */
export function installTestTracing(): TestTracing {
  if (installed) return installed;
  const api = optionalRequire<typeof Otel>('@opentelemetry/api', 'installTestTracing()');
  const spans: RecordedSpan[] = [];
  const storage = new AsyncLocalStorage<Otel.Context>();

  const contextManager: Otel.ContextManager = {
    active: () => storage.getStore() ?? api.ROOT_CONTEXT,
    with: (context, fn, thisArg, ...args) => storage.run(context, () => fn.apply(thisArg, args)),
    bind: (_context, target) => target,
    enable() {
      return contextManager;
    },
    disable() {
      return contextManager;
    },
  };

  class TestSpan implements Otel.Span {
    readonly #record: RecordedSpan;
    readonly #context: Otel.SpanContext;
    constructor(record: RecordedSpan) {
      this.#record = record;
      this.#context = { traceId: record.traceId, spanId: record.spanId, traceFlags: api.TraceFlags.SAMPLED };
    }
    spanContext(): Otel.SpanContext {
      return this.#context;
    }
    setAttribute(key: string, value: Otel.AttributeValue): this {
      this.#record.attributes[key] = value;
      return this;
    }
    setAttributes(attributes: Otel.Attributes): this {
      Object.assign(this.#record.attributes, attributes);
      return this;
    }
    addEvent(): this {
      return this;
    }
    addLink(): this {
      return this;
    }
    addLinks(): this {
      return this;
    }
    setStatus(status: Otel.SpanStatus): this {
      this.#record.status = { ...status };
      return this;
    }
    updateName(name: string): this {
      this.#record.name = name;
      return this;
    }
    end(): void {
      this.#record.ended = true;
    }
    isRecording(): boolean {
      return !this.#record.ended;
    }
    recordException(exception: Otel.Exception): void {
      this.#record.exceptions.push(
        typeof exception === 'string' ? exception : `${exception.name ?? 'Error'}: ${exception.message ?? ''}`,
      );
    }
  }

  const tracer: Otel.Tracer = {
    startSpan(name, options = {}, context = api.context.active()) {
      const parent = api.trace.getSpanContext(context);
      const record: RecordedSpan = {
        name,
        kind: options.kind ?? api.SpanKind.INTERNAL,
        traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        parentSpanId: parent?.spanId,
        attributes: { ...options.attributes },
        status: { code: api.SpanStatusCode.UNSET },
        exceptions: [],
        ended: false,
      };
      spans.push(record);
      return new TestSpan(record);
    },
    startActiveSpan(name: string, ...rest: unknown[]) {
      const fn = rest[rest.length - 1] as (span: Otel.Span) => unknown;
      const span = this.startSpan(name);
      return api.context.with(api.trace.setSpan(api.context.active(), span), fn, undefined, span);
    },
  } as Otel.Tracer;

  api.context.setGlobalContextManager(contextManager);
  api.trace.setGlobalTracerProvider({ getTracer: () => tracer });

  installed = {
    spans,
    async withSpan(name, fn) {
      const span = tracer.startSpan(name);
      try {
        return await api.context.with(api.trace.setSpan(api.context.active(), span), fn);
      } finally {
        span.end();
      }
    },
    activeSpanContext() {
      const context = api.trace.getSpanContext(api.context.active());
      return context ? { traceId: context.traceId, spanId: context.spanId } : undefined;
    },
    reset() {
      spans.length = 0;
    },
  };
  return installed;
}
