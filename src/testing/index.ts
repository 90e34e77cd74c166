export { type ConformanceTarget, conformance } from './conformance.js';
export { type HandledCall, type HandlerSpy, spyHandler, waitForIdle } from './spy.js';
export { installTestTracing, type RecordedSpan, type TestTracing } from './tracing.js';
