import { expect, it } from 'vitest';
import * as polybus from '../src/index.js';
import * as conformance from '../src/testing/conformance.js';
import * as testing from '../src/testing/index.js';

// Changing the public API should be deliberate: update these lists in the same change.
it('exports exactly the documented runtime API', () => {
  expect(Object.keys(polybus).sort()).toEqual([
    'AdapterNotInstalledError',
    'BrokerError',
    'ClosedError',
    'DEAD_LETTER_HEADERS',
    'DecodeError',
    'DeliveryLimitError',
    'EncodeError',
    'InvalidConfigError',
    'InvalidUrlError',
    'MessageTooLargeError',
    'PeerDependencyMissingError',
    'PolybusError',
    'Secret',
    'TimeoutError',
    'URL_FORMS',
    'ValidationError',
    'avro',
    'backoffDelay',
    'bytes',
    'connect',
    'consumerErrorChannel',
    'deadLetter',
    'hookErrorChannel',
    'isRetryable',
    'json',
    'parseBrokerUrl',
    'protobuf',
    'redactUrl',
    'retry',
    'string',
    'tracing',
    'validate',
  ]);
  expect(Object.keys(testing).sort()).toEqual(['installTestTracing', 'spyHandler', 'waitForIdle']);
  expect(Object.keys(conformance).sort()).toEqual(['conformance']);
});
