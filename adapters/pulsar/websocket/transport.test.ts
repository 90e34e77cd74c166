import { describe, expect, it } from 'vitest';
import { MessageId } from '../client/message.js';
import { PULSAR_WS_MAX_FRAME_BYTES, PULSAR_WS_MAX_MESSAGE_BYTES } from '../config.js';
import { decodeMessageFrame, decodeMessageId, encodeSendFrame, frameLimitOf } from './transport.js';

describe('WebSocket frames', () => {
  it('decodes the proxy message ids to the binary transport id strings', () => {
    // Measured from Pulsar 4.0.7: a non-partitioned, unbatched message.
    expect(decodeMessageId('CPIBEAAwAA==')).toBe('242:0:-1:-1');
    const batched = new MessageId(7, 9, 2, 3, 10).serialize().toString('base64');
    expect(decodeMessageId(batched)).toBe('7:9:2:3');
  });

  it('encodes a send frame: base64 payload, properties, key, ISO event time, context', () => {
    const frame = JSON.parse(
      encodeSendFrame(
        { key: 'k1', payload: Buffer.from('hello'), properties: { a: 'ü' }, eventTime: 1_700_000_000_123 },
        '7',
      ),
    );
    expect(frame).toEqual({
      payload: 'aGVsbG8=',
      properties: { a: 'ü' },
      context: '7',
      key: 'k1',
      eventTime: '2023-11-14T22:13:20.123Z',
    });
    const keyless = JSON.parse(
      encodeSendFrame({ key: undefined, payload: new Uint8Array(0), properties: {}, eventTime: 0 }, '8'),
    );
    expect(keyless).toEqual({ payload: '', properties: {}, context: '8' });
  });

  it('base64-encodes only the view of a Uint8Array, not its whole buffer', () => {
    const whole = Buffer.from('xxhelloxx');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, 5);
    expect(
      JSON.parse(encodeSendFrame({ key: undefined, payload: view, properties: {}, eventTime: 1 }, '1')).payload,
    ).toBe('aGVsbG8=');
  });

  it('decodes a consumer message frame, preferring event time over publish time', () => {
    const message = decodeMessageFrame(
      JSON.stringify({
        messageId: 'CPIBEAAwAA==',
        payload: 'aGVsbG8=',
        properties: { a: 'b' },
        publishTime: '2026-11-26T13:29:34.201Z',
        redeliveryCount: 2,
        eventTime: '2023-11-14T22:13:20.123Z',
        key: 'k1',
      }),
    );
    expect(message?.id).toBe('242:0:-1:-1');
    expect(message?.encodedId).toBe('CPIBEAAwAA==');
    expect(Buffer.from(message?.payload ?? []).toString()).toBe('hello');
    expect(message?.key).toBe('k1');
    expect(message?.properties).toEqual({ a: 'b' });
    expect(message?.timestamp).toBe(1_700_000_000_123);
    expect(message?.redeliveryCount).toBe(2);
    const plain = decodeMessageFrame(
      JSON.stringify({
        messageId: 'CPIBEAAwAA==',
        payload: '',
        properties: {},
        publishTime: '2026-11-26T13:29:34.201Z',
        redeliveryCount: 0,
      }),
    );
    expect(plain?.key).toBeUndefined();
    expect(plain?.timestamp).toBe(Date.parse('2026-11-26T13:29:34.201Z'));
    expect(decodeMessageFrame('{"type":"isEndOfTopic","endOfTopic":false}')).toBeUndefined();
  });

  it('fits the largest default message into one 1 MiB frame, and scales the frame limit with maxMessageBytes', () => {
    expect(frameLimitOf({ maxMessageBytes: undefined })).toBe(PULSAR_WS_MAX_FRAME_BYTES);
    const largest = encodeSendFrame(
      { key: 'big', payload: new Uint8Array(PULSAR_WS_MAX_MESSAGE_BYTES - 3), properties: {}, eventTime: Date.now() },
      '123456',
    );
    expect(Buffer.byteLength(largest)).toBeLessThanOrEqual(PULSAR_WS_MAX_FRAME_BYTES);
    expect(frameLimitOf({ maxMessageBytes: 3 * 1024 * 1024 })).toBe(4 * 1024 * 1024 + 8192);
  });
});
