import { describe, expect, it } from 'vitest';
import { CommandType, type MessageMetadata } from './commands.js';
import { crc32c } from './crc32c.js';
import { PulsarChecksumError, PulsarProtocolError } from './errors.js';
import { decodeFrame, encodeCommand, encodePayloadCommand, FrameDecoder, parsePayload } from './frame.js';

const metadata: MessageMetadata = { producerName: 'p', sequenceId: 7, publishTime: 1000, properties: [] };

function sendFrame(payload = Buffer.from('hello')): Buffer {
  return encodePayloadCommand({ type: CommandType.SEND, send: { producerId: 1, sequenceId: 7 } }, metadata, payload);
}

describe('framing', () => {
  it('lays out a payload frame as [total][cmdSize][cmd][0x0e01][crc32c][metaSize][meta][payload]', () => {
    const frame = sendFrame();
    const total = frame.readUInt32BE(0);
    expect(total).toBe(frame.length - 4);
    const cmdSize = frame.readUInt32BE(4);
    const at = 8 + cmdSize;
    expect(frame.readUInt16BE(at)).toBe(0x0e01);
    expect(frame.readUInt32BE(at + 2)).toBe(crc32c(frame, 0, at + 6, frame.length));
    const parsed = parsePayload(frame.subarray(4), 4 + cmdSize);
    expect(parsed.metadata).toMatchObject({ producerName: 'p', sequenceId: 7, publishTime: 1000 });
    expect(parsed.payload.toString()).toBe('hello');
  });

  it('splits a stream into frames whatever the chunking', () => {
    const frames = [
      encodeCommand({ type: CommandType.PING, ping: {} }),
      sendFrame(Buffer.alloc(3000, 9)),
      encodeCommand({ type: CommandType.FLOW, flow: { consumerId: 2, messagePermits: 5 } }),
    ];
    const stream = Buffer.concat(frames);
    for (const size of [1, 2, 5, 64, 4096, stream.length]) {
      const decoder = new FrameDecoder();
      const types: number[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const f of decoder.push(stream.subarray(i, i + size))) types.push(f.command.type);
      }
      expect(types).toEqual([CommandType.PING, CommandType.SEND, CommandType.FLOW]);
    }
  });

  it('refuses an oversized frame before buffering it', () => {
    const decoder = new FrameDecoder(1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1_000_000, 0);
    expect(() => decoder.push(header)).toThrow(/exceeds the limit of 1024 bytes/);
  });

  it('rejects a command size larger than its frame and garbage commands', () => {
    const bad = Buffer.from('00000006' + '000000ff' + '080b', 'hex');
    expect(() => new FrameDecoder().push(bad)).toThrow(PulsarProtocolError);
    const garbage = Buffer.from('00000006' + '00000002' + 'ffff', 'hex');
    expect(() => new FrameDecoder().push(garbage)).toThrow(PulsarProtocolError);
  });

  it('detects a flipped bit anywhere after the checksum', () => {
    const frame = sendFrame().subarray(4);
    const cmdSize = frame.readUInt32BE(0);
    for (const offset of [4 + cmdSize + 6, frame.length - 1]) {
      const copy = Buffer.from(frame);
      copy[offset] = (copy[offset] as number) ^ 0x01;
      expect(() => parsePayload(copy, 4 + cmdSize)).toThrow(PulsarChecksumError);
    }
  });

  it('gives a clear error on truncated payloads and missing magic', () => {
    const frame = sendFrame().subarray(4);
    const cmdSize = frame.readUInt32BE(0);
    expect(() => parsePayload(frame.subarray(0, 4 + cmdSize + 3), 4 + cmdSize)).toThrow(/truncated in checksum/);
    const noMagic = Buffer.from(frame);
    noMagic.writeUInt16BE(0x1234, 4 + cmdSize);
    expect(() => parsePayload(noMagic, 4 + cmdSize)).toThrow(/without a CRC32C/);
    // metadata size pointing past the end, with a checksum that matches
    const lying = Buffer.from(frame);
    const at = 4 + cmdSize + 6;
    lying.writeUInt32BE(1_000_000, at);
    lying.writeUInt32BE(crc32c(lying, 0, at, lying.length), at - 4);
    expect(() => parsePayload(lying, 4 + cmdSize)).toThrow(/truncated in metadata/);
  });

  it('skips broker entry metadata (0x0e02) in front of the checksum', () => {
    const frame = sendFrame().subarray(4);
    const cmdSize = frame.readUInt32BE(0);
    const brokerMeta = Buffer.from('0e02' + '00000002' + '0801', 'hex');
    const withMeta = Buffer.concat([frame.subarray(0, 4 + cmdSize), brokerMeta, frame.subarray(4 + cmdSize)]);
    const decoded = decodeFrame(withMeta);
    expect(parsePayload(decoded.buffer, decoded.payloadOffset).payload.toString()).toBe('hello');
  });
});
