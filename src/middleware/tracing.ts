import type * as Otel from '@opentelemetry/api';
import type { Headers } from '../message.js';
import { optionalRequire } from '../optional-require.js';
import type { ConsumeContext, ConsumerInfo, Middleware, Next, PublishContext } from '../pipeline.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_SYSTEM,
} from './semconv.js';
import { extractTraceContext, injectTraceContext } from './trace-context.js';

type OtelApi = typeof Otel;

/** Options of {@link tracing}. */
export interface TracingOptions {
  /** Tracer name (default "polybus"). */
  tracerName?: string;
}

const HEADERS_GETTER: Otel.TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const HEADERS_SETTER: Otel.TextMapSetter<Headers> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * OpenTelemetry tracing with `@opentelemetry/api` only (an optional peer dependency; install an
 * SDK to export spans). One PRODUCER span per send call, whose context is injected into every
 * message as W3C `traceparent`/`tracestate`; one CONSUMER span per delivery, a child of the
 * producer's span, active while the handler runs. Names and attributes follow the messaging
 * semantic conventions (`send orders`, `process orders`, `messaging.*`).
 */
export function tracing(options: TracingOptions = {}): Middleware {
  const api = optionalRequire<OtelApi>('@opentelemetry/api', 'tracing()');
  const tracer = api.trace.getTracer(options.tracerName ?? 'polybus');
  const { SpanKind, SpanStatusCode, ROOT_CONTEXT, INVALID_SPAN_CONTEXT, context: contextApi, propagation, trace } = api;

  function inject(activeContext: Otel.Context, span: Otel.Span, headers: Headers): void {
    const withSpan = trace.setSpan(activeContext, span);
    propagation.inject(withSpan, headers, HEADERS_SETTER);
    // Without a registered propagator the API injects nothing: fall back to W3C trace context.
    if (headers.traceparent === undefined) {
      const spanContext = span.spanContext();
      if (trace.isSpanContextValid(spanContext)) {
        injectTraceContext(
          {
            traceId: spanContext.traceId,
            spanId: spanContext.spanId,
            traceFlags: spanContext.traceFlags,
            traceState: spanContext.traceState?.serialize(),
          },
          headers,
        );
      }
    }
  }

  function extract(headers: Headers): Otel.Context {
    // Start from the root, not the active context: a consumer must not inherit whatever context
    // happened to be active where the broker client called back (memory:// delivers in-process).
    // Without a registered propagator (no fields), skip the API and read W3C headers directly.
    if (propagation.fields().length > 0) {
      const extracted = propagation.extract(ROOT_CONTEXT, headers, HEADERS_GETTER);
      if (trace.getSpanContext(extracted) !== undefined) return extracted;
    }
    const w3c = extractTraceContext(headers);
    if (w3c === undefined) return ROOT_CONTEXT;
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: w3c.traceId,
      spanId: w3c.spanId,
      traceFlags: w3c.traceFlags,
      isRemote: true,
    });
  }

  function fail(span: Otel.Span, error: unknown): void {
    if (error instanceof Error) span.recordException(error);
    span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? error.name : typeof error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  async function publish(ctx: PublishContext, next: Next<PublishContext>): Promise<void> {
    const attributes: Otel.Attributes = {
      [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM[ctx.broker] ?? ctx.broker,
      [ATTR_MESSAGING_OPERATION_NAME]: 'send',
      [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
      [ATTR_MESSAGING_DESTINATION_NAME]: ctx.topic,
    };
    if (ctx.records.length > 1) attributes[ATTR_MESSAGING_BATCH_MESSAGE_COUNT] = ctx.records.length;
    const active = contextApi.active();
    const span = tracer.startSpan(`send ${ctx.topic}`, { kind: SpanKind.PRODUCER, attributes }, active);
    // One span for the whole send: inject once, then copy the headers into each record.
    const traceHeaders: Headers = {};
    inject(active, span, traceHeaders);
    if (traceHeaders.traceparent !== undefined) {
      const records = ctx.records;
      for (let i = 0; i < records.length; i++) {
        const record = records[i];
        if (record) record.headers = { ...record.headers, ...traceHeaders };
      }
    }
    try {
      await next(ctx);
      const receipt = ctx.receipts.length === 1 ? ctx.receipts[0] : undefined;
      if (receipt) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, receipt.id);
    } catch (error) {
      fail(span, error);
      throw error;
    } finally {
      span.end();
    }
  }

  /** Span name and attributes are the same for every message of a consumer: built once per consumer. */
  const consumerSpans = new WeakMap<ConsumerInfo, { name: string; options: Otel.SpanOptions }>();
  function spanOf(consumer: ConsumerInfo): { name: string; options: Otel.SpanOptions } {
    let span = consumerSpans.get(consumer);
    if (span === undefined) {
      const attributes = Object.freeze({
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM[consumer.broker] ?? consumer.broker,
        [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
        [ATTR_MESSAGING_DESTINATION_NAME]: consumer.topic,
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: consumer.group,
      });
      span = { name: `process ${consumer.topic}`, options: { kind: SpanKind.CONSUMER, attributes } };
      consumerSpans.set(consumer, span);
    }
    return span;
  }

  // Not an async function: on the per-message path two callbacks cost less than an async frame.
  function consume(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    const { message, consumer } = ctx;
    const parent = extract(message.headers);
    const { name, options } = spanOf(consumer);
    const span = tracer.startSpan(name, options, parent);
    if (!span.isRecording()) {
      // No SDK records this span, so ending it or recording an error on it does nothing: only
      // make an incoming trace active for the handler (its own sends continue it), and return
      // the chain's promise as is.
      const spanContext = span.spanContext();
      return spanContext !== INVALID_SPAN_CONTEXT && trace.isSpanContextValid(spanContext)
        ? contextApi.with(trace.setSpan(parent, span), next, undefined, ctx)
        : next(ctx);
    }
    span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, message.id);
    let result: Promise<void>;
    try {
      result = contextApi.with(trace.setSpan(parent, span), next, undefined, ctx);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      () => {
        // deadLetter() settled a failed message: the delivery still failed.
        if (ctx.error !== undefined) fail(span, ctx.error);
        span.end();
      },
      (error: unknown) => {
        fail(span, error);
        span.end();
        throw error;
      },
    );
  }

  return {
    name: 'tracing',
    publish: { step: 'trace', handle: publish },
    consume: { step: 'trace', handle: consume },
  };
}
