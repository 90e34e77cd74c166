import { describe, expect, it } from 'vitest';
import { extractTraceContext, injectTraceContext } from '../src/middleware/trace-context.js';

describe('W3C trace context', () => {
  it('injects and extracts traceparent and tracestate', () => {
    const headers: Record<string, string> = {};
    injectTraceContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, traceState: 'k=v' }, headers);
    expect(headers).toEqual({ traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'k=v' });
    expect(extractTraceContext(headers)).toEqual({
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      traceFlags: 1,
      traceState: 'k=v',
    });
  });

  it.each([
    'garbage',
    `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`,
    `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`,
    `00-${'A'.repeat(32)}-${'b'.repeat(16)}-01`,
  ])('ignores a malformed or invalid traceparent %s', (traceparent) => {
    expect(extractTraceContext({ traceparent })).toBeUndefined();
  });
});
