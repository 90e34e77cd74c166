// Test helpers for any test runner (jest, mocha, node:test, vitest): nothing here imports vitest.
// The vitest conformance suite is its own subpath, `polybus/testing/conformance`.
export { type HandledCall, type HandlerSpy, spyHandler, waitForIdle } from './spy.js';
export { installTestTracing, type RecordedSpan, type TestTracing } from './tracing.js';
