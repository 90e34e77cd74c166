/**
 * Framing of the Pulsar binary protocol.
 *
 * Simple command: `[totalSize u32][commandSize u32][BaseCommand]`.
 * Payload command: `[totalSize][commandSize][BaseCommand][0x0e01][crc32c u32][metadataSize u32][MessageMetadata][payload]`,
 * the checksum covering everything after itself. A broker may put
 * `[0x0e02][size u32][BrokerEntryMetadata]` before the checksummed part.
 * All integers are big-endian.
 */
import { BaseCommand, type CommandSend, CommandType, type KeyValue, MessageMetadata } from './commands.js';
import { crc32c } from './crc32c.js';
import { PulsarChecksumError, PulsarProtocolError } from './errors.js';
import { Writer } from './protobuf.js';

/** The two magic numbers that can follow a command in a frame. */
export const MAGIC_CRC32C = 0x0e01;
export const MAGIC_BROKER_ENTRY_METADATA = 0x0e02;
/** Room the broker allows for headers on top of `maxMessageSize` (as Pulsar's own client does). */
export const FRAME_PADDING = 10 * 1024;
/** The broker's default `maxMessageSize` until CONNECTED says otherwise. */
export const DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024;

/** Serializes a command into a frame without payload. */
export function encodeCommand(command: BaseCommand): Buffer {
  const writer = new Writer(64);
  writer.raw(Buffer.alloc(8));
  BaseCommand.encode(command, writer);
  const frame = writer.finish();
  frame.writeUInt32BE(frame.length - 4, 0);
  frame.writeUInt32BE(frame.length - 8, 4);
  return frame;
}

/** Serializes a command that carries a message (SEND), with its metadata, payload and CRC32C. */
export function encodePayloadCommand(command: BaseCommand, metadata: MessageMetadata, payload: Uint8Array): Buffer {
  const cmd = BaseCommand.encode(command, new Writer(64)).finish();
  const meta = MessageMetadata.encode(metadata, new Writer(128)).finish();
  const total = 4 + cmd.length + 2 + 4 + 4 + meta.length + payload.length;
  const frame = Buffer.allocUnsafe(4 + total);
  let pos = frame.writeUInt32BE(total, 0);
  pos = frame.writeUInt32BE(cmd.length, pos);
  pos += cmd.copy(frame, pos);
  pos = frame.writeUInt16BE(MAGIC_CRC32C, pos);
  const checksumAt = pos;
  pos += 4;
  const checkedFrom = pos;
  pos = frame.writeUInt32BE(meta.length, pos);
  pos += meta.copy(frame, pos);
  frame.set(payload, pos);
  frame.writeUInt32BE(crc32c(frame, 0, checkedFrom, frame.length), checksumAt);
  return frame;
}

/** Reused by {@link encodeSendFrame} for the headers (encoding is synchronous, never re-entered). */
const scratch = new Writer(1024);

/** Bytes a varint of a non-negative `value` takes. */
function varintSize(value: number): number {
  let n = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 128)) n++;
  return n;
}

/** Appends one repeated `KeyValue` field (`field`) the way the generic encoder does. */
export function writeKeyValue(writer: Writer, field: number, pair: KeyValue): void {
  const keyBytes = Buffer.byteLength(pair.key);
  const valueBytes = Buffer.byteLength(pair.value);
  writer.tag(field, 2);
  writer.varint(2 + varintSize(keyBytes) + keyBytes + varintSize(valueBytes) + valueBytes);
  writer.tag(1, 2).string(pair.key);
  writer.tag(2, 2).string(pair.value);
}

/** `MessageMetadata` as the generic encoder writes it (same field order), without its per-field dispatch. */
function writeMessageMetadata(w: Writer, m: MessageMetadata): void {
  w.tag(1, 2).string(m.producerName);
  w.tag(2, 0).varint(m.sequenceId);
  w.tag(3, 0).varint(m.publishTime);
  for (const pair of m.properties) writeKeyValue(w, 4, pair);
  if (m.partitionKey != null) w.tag(6, 2).string(m.partitionKey);
  if (m.compression != null) w.tag(8, 0).varint(m.compression);
  if (m.uncompressedSize != null) w.tag(9, 0).varint(m.uncompressedSize);
  if (m.numMessagesInBatch != null) w.tag(11, 0).varint(m.numMessagesInBatch);
  if (m.eventTime != null) w.tag(12, 0).varint(m.eventTime);
  if (m.partitionKeyB64Encoded != null) w.tag(17, 0).varint(m.partitionKeyB64Encoded ? 1 : 0);
  if (m.orderingKey != null) w.tag(18, 2).bytes(m.orderingKey);
  if (m.deliverAtTime != null) w.tag(19, 0).varint(m.deliverAtTime);
  if (m.markerType != null) w.tag(20, 0).varint(m.markerType);
  if (m.highestSequenceId != null) w.tag(24, 0).varint(m.highestSequenceId);
  if (m.nullValue != null) w.tag(25, 0).varint(m.nullValue ? 1 : 0);
  if (m.numChunksFromMsg != null) w.tag(27, 0).varint(m.numChunksFromMsg);
  if (m.nullPartitionKey != null) w.tag(30, 0).varint(m.nullPartitionKey ? 1 : 0);
}

/**
 * A SEND frame: the same bytes as {@link encodePayloadCommand} with a SEND command, built in a
 * reused buffer with one allocation (the frame) and the checksum computed in passing.
 */
export function encodeSendFrame(send: CommandSend, metadata: MessageMetadata, payload: Uint8Array): Buffer {
  if (metadata.encryptionKeys && metadata.encryptionKeys.length > 0) {
    return encodePayloadCommand({ type: CommandType.SEND, send }, metadata, payload);
  }
  const w = scratch.reset();
  w.reserve(8);
  // BaseCommand { type: SEND, send: CommandSend }
  w.tag(1, 0).varint(CommandType.SEND);
  w.tag(6, 2);
  const sendLengthAt = w.reserve(1);
  w.tag(1, 0).varint(send.producerId);
  w.tag(2, 0).varint(send.sequenceId);
  if (send.numMessages != null) w.tag(3, 0).varint(send.numMessages);
  if (send.highestSequenceId != null) w.tag(6, 0).varint(send.highestSequenceId);
  // At most four fields of at most 11 bytes: the length always fits in one byte.
  (w.view() as Buffer)[sendLengthAt] = w.length - sendLengthAt - 1;
  const commandEnd = w.length;
  w.reserve(10); // magic, checksum, metadata size
  const metadataStart = w.length;
  writeMessageMetadata(w, metadata);
  const headerLength = w.length;
  const header = w.view();
  header.writeUInt32BE(headerLength - 4 + payload.length, 0);
  header.writeUInt32BE(commandEnd - 8, 4);
  header.writeUInt16BE(MAGIC_CRC32C, commandEnd);
  header.writeUInt32BE(headerLength - metadataStart, commandEnd + 6);
  const checksum = crc32c(payload, crc32c(header, 0, commandEnd + 6, headerLength));
  header.writeUInt32BE(checksum, commandEnd + 2);
  const frame = Buffer.allocUnsafe(headerLength + payload.length);
  header.copy(frame, 0, 0, headerLength);
  frame.set(payload, headerLength);
  return frame;
}

/** One received frame: the decoded command and, for MESSAGE, the bytes after it. */
export interface Frame {
  command: BaseCommand;
  /** The whole frame (without the 4-byte total size). */
  buffer: Buffer;
  /** Where the payload part starts in `buffer` (equal to its length when there is none). */
  payloadOffset: number;
}

/**
 * Splits a byte stream into frames. Feed it socket chunks; it throws a
 * {@link PulsarProtocolError} on a frame larger than allowed or a malformed command, after which
 * the connection must be closed.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(public maxFrameSize = DEFAULT_MAX_MESSAGE_SIZE + FRAME_PADDING) {}

  /** Adds bytes and returns every complete frame. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= 4) {
      const head = this.peekHeader();
      if (head > this.maxFrameSize) {
        throw new PulsarProtocolError(`frame of ${head} bytes exceeds the limit of ${this.maxFrameSize} bytes`);
      }
      if (head < 4) throw new PulsarProtocolError(`frame of ${head} bytes is too short`);
      if (this.buffered < 4 + head) break;
      const whole = this.take(4 + head);
      frames.push(decodeFrame(whole.subarray(4)));
    }
    return frames;
  }

  private peekHeader(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }

  private take(length: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= length) {
      out = first.subarray(0, length);
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
    } else {
      out = Buffer.allocUnsafe(length);
      let copied = 0;
      while (copied < length) {
        const chunk = this.chunks[0] as Buffer;
        const n = Math.min(chunk.length, length - copied);
        chunk.copy(out, copied, 0, n);
        copied += n;
        if (n === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(n);
      }
    }
    this.buffered -= length;
    return out;
  }
}

/** Decodes one frame (the bytes after its total size). */
export function decodeFrame(buffer: Buffer): Frame {
  if (buffer.length < 4) throw new PulsarProtocolError('frame too short for a command size');
  const commandSize = buffer.readUInt32BE(0);
  if (4 + commandSize > buffer.length) {
    throw new PulsarProtocolError(`command size ${commandSize} exceeds the frame of ${buffer.length} bytes`);
  }
  const command = BaseCommand.decode(buffer, 4, 4 + commandSize);
  return { command, buffer, payloadOffset: 4 + commandSize };
}

/** A received message's metadata and (still compressed) payload. */
export interface ParsedPayload {
  metadata: MessageMetadata;
  payload: Buffer;
}

/**
 * Parses the payload part of a MESSAGE frame, checking its CRC32C.
 * Throws {@link PulsarChecksumError} on a mismatch and {@link PulsarProtocolError} when malformed.
 */
export function parsePayload(buffer: Buffer, offset: number): ParsedPayload {
  let pos = offset;
  const need = (n: number, what: string) => {
    if (pos + n > buffer.length) throw new PulsarProtocolError(`message truncated in ${what}`);
  };
  need(2, 'magic');
  let magic = buffer.readUInt16BE(pos);
  if (magic === MAGIC_BROKER_ENTRY_METADATA) {
    need(6, 'broker entry metadata');
    const size = buffer.readUInt32BE(pos + 2);
    pos += 6;
    need(size, 'broker entry metadata');
    pos += size;
    need(2, 'magic');
    magic = buffer.readUInt16BE(pos);
  }
  if (magic !== MAGIC_CRC32C) {
    throw new PulsarProtocolError(`message without a CRC32C checksum (magic 0x${magic.toString(16)})`);
  }
  pos += 2;
  need(4, 'checksum');
  const expected = buffer.readUInt32BE(pos);
  pos += 4;
  const actual = crc32c(buffer, 0, pos, buffer.length);
  if (actual !== expected) {
    throw new PulsarChecksumError(
      `message checksum mismatch: expected 0x${expected.toString(16)}, computed 0x${actual.toString(16)}`,
    );
  }
  need(4, 'metadata size');
  const metadataSize = buffer.readUInt32BE(pos);
  pos += 4;
  need(metadataSize, 'metadata');
  const metadata = MessageMetadata.decode(buffer, pos, pos + metadataSize);
  return { metadata, payload: buffer.subarray(pos + metadataSize) };
}
