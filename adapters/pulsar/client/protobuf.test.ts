import { describe, expect, it } from 'vitest';
import {
  BaseCommand,
  CommandConnect,
  CommandSendReceipt,
  CommandType,
  MessageIdData,
  MessageMetadata,
  SubType,
} from './commands.js';
import { PulsarProtocolError } from './errors.js';
import { encodeCommand } from './frame.js';
import { Reader, Writer } from './protobuf.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf wire codec', () => {
  it('round-trips varints across the 64-bit range the protocol uses', () => {
    const values = [
      0,
      1,
      127,
      128,
      300,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32,
      2 ** 53 - 1,
      -1,
      -2,
      -(2 ** 31),
      -(2 ** 53 - 1),
    ];
    const writer = new Writer(4);
    for (const v of values) writer.varint(v);
    const reader = new Reader(writer.finish());
    for (const v of values) expect(reader.varint()).toBe(v);
    expect(reader.done).toBe(true);
  });

  it('writes the bytes protobuf specifies: 300 → ac 02, -1 → ten bytes', () => {
    expect(hex(new Writer().varint(300).finish())).toBe('ac02');
    expect(hex(new Writer().varint(-1).finish())).toBe('ffffffffffffffffff01');
    expect(hex(new Writer().varintBig(0xffffffffffffffffn).finish())).toBe('ffffffffffffffffff01');
    expect(new Reader(Buffer.from('ffffffffffffffffff01', 'hex')).varintBig()).toBe(0xffffffffffffffffn);
  });

  it('rejects truncated and over-long varints with a typed error', () => {
    expect(() => new Reader(Buffer.from('ff', 'hex')).varint()).toThrow(PulsarProtocolError);
    expect(() => new Reader(Buffer.from('ffffffffffffffffffff01', 'hex')).varint()).toThrow(/longer than 10 bytes/);
  });

  it('encodes FLOW exactly as derived by hand from the proto definition', () => {
    // BaseCommand{type=FLOW(11) [field 1 varint], flow [field 11, LEN] = {consumer_id=1, message_permits=1000}}
    const frame = encodeCommand({ type: CommandType.FLOW, flow: { consumerId: 1, messagePermits: 1000 } });
    expect(hex(frame)).toBe('0000000d' + '00000009' + '080b' + '5a05' + '0801' + '10e807');
  });

  it('encodes CONNECT exactly as derived by hand', () => {
    // client_version "x" (1, LEN), protocol_version 20 (4, varint), auth_method_name "token" (5, LEN), auth_data "t" (3, LEN)
    const bytes = CommandConnect.encode({
      clientVersion: 'x',
      protocolVersion: 20,
      authMethodName: 'token',
      authData: Buffer.from('t'),
    }).finish();
    // fields are written in our schema's order (1, 3, 4, 5): any order is valid protobuf
    expect(hex(bytes)).toBe('0a0178' + '1a0174' + '2014' + '2a05746f6b656e');
    expect(CommandConnect.decode(bytes)).toMatchObject({
      clientVersion: 'x',
      protocolVersion: 20,
      authMethodName: 'token',
    });
  });

  it('writes a negative int32 (partition -1) as Java does and reads it back', () => {
    const bytes = MessageIdData.encode({ ledgerId: 5, entryId: 7, partition: -1 }).finish();
    expect(hex(bytes)).toBe('0805' + '1007' + '18ffffffffffffffffff01');
    expect(MessageIdData.decode(bytes)).toEqual({ ledgerId: 5, entryId: 7, partition: -1, ackSet: [] });
  });

  it('round-trips nested and repeated fields', () => {
    const metadata = {
      producerName: 'p',
      sequenceId: 2 ** 40,
      publishTime: 1_700_000_000_000,
      properties: [
        { key: 'a', value: '1' },
        { key: 'ü', value: '✓' },
      ],
      partitionKey: 'key',
      numMessagesInBatch: 3,
      orderingKey: Buffer.from([1, 2, 3]),
    };
    const decoded = MessageMetadata.decode(MessageMetadata.encode(metadata).finish());
    expect(decoded).toMatchObject({ ...metadata, orderingKey: expect.anything() });
    expect(Buffer.from(decoded.orderingKey as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
    const cmd = BaseCommand.decode(
      BaseCommand.encode({
        type: CommandType.SUBSCRIBE,
        subscribe: { topic: 't', subscription: 's', subType: SubType.Key_Shared, consumerId: 3, requestId: 4 },
      }).finish(),
    );
    expect(cmd.subscribe).toMatchObject({ topic: 't', subType: 3, consumerId: 3, requestId: 4 });
  });

  it('skips unknown fields of every wire type', () => {
    const writer = new Writer();
    writer.tag(99, 0).varint(5); // unknown varint
    writer.tag(98, 1).double(1.5); // unknown fixed64
    writer.tag(97, 5).raw(Buffer.alloc(4)); // unknown fixed32
    writer.tag(96, 2).string('ignored');
    writer.tag(1, 0).varint(10);
    writer.tag(2, 0).varint(11);
    expect(MessageIdData.decode(writer.finish())).toMatchObject({ ledgerId: 10, entryId: 11 });
  });

  it('reports a missing required field and a length past the end', () => {
    expect(() => CommandSendReceipt.decode(Buffer.from('0801', 'hex'))).toThrow(/required field sequenceId/);
    expect(() => MessageMetadata.decode(Buffer.from('0a05ab', 'hex'))).toThrow(PulsarProtocolError);
    expect(() => MessageIdData.decode(Buffer.from('0d', 'hex'))).toThrow(PulsarProtocolError);
  });

  it('reads packed repeated varints (ack sets)', () => {
    const writer = new Writer();
    writer.tag(1, 0).varint(1).tag(2, 0).varint(2);
    const packed = new Writer().varintBig(3n).varintBig(0x8000000000000000n).finish();
    writer.tag(5, 2).bytes(packed);
    expect(MessageIdData.decode(writer.finish()).ackSet).toEqual([3n, 0x8000000000000000n]);
  });
});
