import type { Headers } from '../message.js';

/** A W3C trace context (https://www.w3.org/TR/trace-context/). */
export interface W3CTraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** Writes `traceparent` (and `tracestate` when present) into headers. */
export function injectTraceContext(context: W3CTraceContext, headers: Headers): void {
  headers.traceparent = `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
  if (context.traceState) headers.tracestate = context.traceState;
}

/** Reads `traceparent`/`tracestate`; undefined when absent or malformed. */
export function extractTraceContext(headers: Headers): W3CTraceContext | undefined {
  const header = headers.traceparent;
  if (header === undefined) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  const context: W3CTraceContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
  if (headers.tracestate) context.traceState = headers.tracestate;
  return context;
}
