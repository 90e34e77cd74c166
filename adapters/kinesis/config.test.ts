import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';
import { KINESIS_DEFAULTS, leaseTableName, parseKinesisOptions, resolveKinesisOptions } from './config.js';

const url = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('parseKinesisOptions', () => {
  it('reads every option from a URL query, skipping the base parameters', () => {
    const options = parseKinesisOptions(
      url({
        endpoint: 'http://127.0.0.1:4567',
        shards: '4',
        accessKeyId: 'a',
        secretAccessKey: 'b',
        dynamoEndpoint: 'http://127.0.0.1:4568',
        leaseTable: 'leases.{group}',
        autoCreate: 'false',
        failoverTimeMs: '3000',
        pollIntervalMs: '250',
        checkpointIntervalMs: '0',
        envelope: '0',
        sendTimeoutMs: '5000',
        subscribeTimeoutMs: '8000',
        sessionToken: 'token',
      }),
    );
    expect(options).toMatchObject({
      dynamoEndpoint: 'http://127.0.0.1:4568',
      leaseTable: 'leases.{group}',
      autoCreate: false,
      failoverTimeMs: 3000,
      pollIntervalMs: 250,
      checkpointIntervalMs: 0,
      envelope: false,
      sendTimeoutMs: 5000,
      subscribeTimeoutMs: 8000,
    });
    expect(options.sessionToken).toBeInstanceOf(Secret);
    expect(options.sessionToken?.reveal()).toBe('token');
    expect(JSON.stringify(options)).not.toContain('token"');
  });

  it('takes URLSearchParams like a map, and refuses an option given twice', () => {
    expect(parseKinesisOptions(new URLSearchParams('envelope=false&failoverTimeMs=5000'))).toEqual({
      envelope: false,
      failoverTimeMs: 5000,
    });
    expect(() => parseKinesisOptions(new URLSearchParams('envelope=false&envelope=true'))).toThrow(InvalidUrlError);
  });

  it('reads a config object with typed values, ignoring the base config fields', () => {
    const options = parseKinesisOptions({
      broker: 'kinesis',
      region: 'us-east-1',
      shards: 2,
      envelope: false,
      failoverTimeMs: 2000,
      dynamoEndpoint: 'aws',
      sessionToken: new Secret('s'),
    });
    expect(options).toMatchObject({ envelope: false, failoverTimeMs: 2000, dynamoEndpoint: 'aws' });
  });

  it('rejects unknown options, bad types and ranges with the error type of the source', () => {
    expect(() => parseKinesisOptions(url({ leaseTabel: 'x' }))).toThrow(InvalidUrlError);
    expect(() => parseKinesisOptions(url({ leaseTabel: 'x' }))).toThrow(/unknown query parameter "leaseTabel"/);
    expect(() => parseKinesisOptions({ pollInterval: 5 })).toThrow(InvalidConfigError);
    expect(() => parseKinesisOptions(url({ pollIntervalMs: '100' }))).toThrow(
      /pollIntervalMs must be an integer from 200/,
    );
    expect(() => parseKinesisOptions(url({ failoverTimeMs: '1e4' }))).toThrow(/failoverTimeMs/);
    expect(() => parseKinesisOptions({ autoCreate: 'yes' })).toThrow(/autoCreate must be true or false/);
    expect(() => parseKinesisOptions({ envelope: 1 })).toThrow(/envelope must be true or false/);
    expect(() => parseKinesisOptions(url({ dynamoEndpoint: 'localhost:4568' }))).toThrow(/dynamoEndpoint must be http/);
    expect(() => parseKinesisOptions({ sessionToken: 42 })).toThrow(/sessionToken must be/);
    expect(() => parseKinesisOptions(url({ subscribeTimeoutMs: '500' }))).toThrow(
      /subscribeTimeoutMs must be an integer from 1000/,
    );
  });

  it('never quotes a value that may be a credential', () => {
    let message = '';
    try {
      parseKinesisOptions(url({ dynamoEndpoint: 'http://user:secret@host' }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/dynamoEndpoint/);
    expect(message).not.toContain('secret');
  });

  it('checks lease table templates', () => {
    expect(parseKinesisOptions(url({ leaseTable: '{group}.{stream}' })).leaseTable).toBe('{group}.{stream}');
    expect(() => parseKinesisOptions(url({ leaseTable: 'bad name' }))).toThrow(/not a DynamoDB table name/);
    expect(() => parseKinesisOptions(url({ leaseTable: 'ab' }))).toThrow(/not a DynamoDB table name/);
    expect(() => parseKinesisOptions(url({ leaseTable: '{other}' }))).toThrow(/not a DynamoDB table name/);
  });

  it('requires checkpoints to come more often than the failover time', () => {
    expect(() => parseKinesisOptions({ failoverTimeMs: 2000, checkpointIntervalMs: 2000 })).toThrow(
      /checkpointIntervalMs \(2000\) must be below failoverTimeMs \(2000\)/,
    );
  });
});

describe('resolveKinesisOptions', () => {
  it('fills in the defaults', () => {
    expect(resolveKinesisOptions({})).toEqual(KINESIS_DEFAULTS);
    expect(KINESIS_DEFAULTS).toMatchObject({
      leaseTable: 'polybus.{group}.{stream}',
      autoCreate: true,
      failoverTimeMs: 10_000,
      pollIntervalMs: 1_000,
      envelope: true,
      sendTimeoutMs: 30_000,
      subscribeTimeoutMs: 30_000,
    });
  });

  it('wants access keys with a session token', () => {
    expect(() => resolveKinesisOptions({ sessionToken: 'x' })).toThrow(/sessionToken needs accessKeyId/);
    expect(resolveKinesisOptions({ sessionToken: 'x', accessKeyId: new Secret('a') }).sessionToken).toBeInstanceOf(
      Secret,
    );
  });
});

describe('leaseTableName', () => {
  it('fills the template with the group and stream', () => {
    expect(leaseTableName('polybus.{group}.{stream}', 'billing', 'orders')).toBe('polybus.billing.orders');
    expect(leaseTableName('fixed-table', 'billing', 'orders')).toBe('fixed-table');
  });

  it('refuses group names DynamoDB cannot hold, saying what to do', () => {
    expect(() => leaseTableName('polybus.{group}.{stream}', 'team/billing', 'orders')).toThrow(InvalidConfigError);
    expect(() => leaseTableName('polybus.{group}.{stream}', 'team/billing', 'orders')).toThrow(
      /set the option leaseTable/,
    );
    expect(() => leaseTableName('{group}', 'g'.repeat(300), 'orders')).toThrow(/255/);
  });
});
