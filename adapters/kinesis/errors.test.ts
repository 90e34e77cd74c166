import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/errors.js';
import {
  HeadersNotSupportedError,
  isConditionFailed,
  isRetryableAwsError,
  isThrottling,
  LeaseTableNotFoundError,
  toBrokerError,
} from './errors.js';

const aws = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, $metadata: status === undefined ? {} : { httpStatusCode: status } });

describe('kinesis errors', () => {
  it('retries throttling, network trouble, server faults and timeouts', () => {
    expect(isRetryableAwsError(aws('ProvisionedThroughputExceededException', 400))).toBe(true);
    expect(isThrottling(aws('ProvisionedThroughputExceededException', 400))).toBe(true);
    expect(isRetryableAwsError(aws('LimitExceededException', 400))).toBe(true);
    expect(isRetryableAwsError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryableAwsError(aws('InternalFailure', 500))).toBe(true);
    expect(isRetryableAwsError(aws('SomethingNew', 503))).toBe(true);
    expect(isRetryableAwsError(aws('AbortError'))).toBe(true);
  });

  it('does not retry bad requests or bad credentials, and says what to do', () => {
    expect(isRetryableAwsError(aws('ValidationException', 400))).toBe(false);
    expect(isRetryableAwsError(aws('UnrecognizedClientException', 400))).toBe(false);
    const error = toBrokerError(aws('AccessDeniedException', 400), 'send to orders');
    expect(error).toBeInstanceOf(BrokerError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/send to orders/);
    expect(error.hint).toMatch(/credentials/);
    expect(toBrokerError(aws('ProvisionedThroughputExceededException', 400), 'send').hint).toMatch(/shards/);
  });

  it('recognises failed conditional writes', () => {
    expect(isConditionFailed(aws('ConditionalCheckFailedException', 400))).toBe(true);
    expect(isConditionFailed(aws('ValidationException', 400))).toBe(false);
  });

  it('names the missing lease table and how to create it', () => {
    const error = new LeaseTableNotFoundError('polybus.billing.orders');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/polybus\.billing\.orders/);
    expect(error.hint).toMatch(/create-table .*leaseKey.*autoCreate=true/s);
  });

  it('explains why headers cannot go on raw records, and what tracing loses', () => {
    expect(new HeadersNotSupportedError(['tenant']).message).toMatch(/envelope=false.*"tenant"/);
    const traced = new HeadersNotSupportedError(['traceparent']);
    expect(traced.message).toMatch(/trace context cannot propagate/);
    expect(traced.hint).toMatch(/Remove tracing\(\)/);
  });
});
