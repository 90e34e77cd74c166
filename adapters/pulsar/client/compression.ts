/**
 * Pulsar's payload codecs. LZ4 (raw block) and Snappy (raw format) are implemented here; ZLIB
 * uses `node:zlib`; ZSTD uses `node:zlib` where Node has it (22.15+) and otherwise the optional
 * package `fzstd` (decode only), loaded on first use.
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { CompressionType } from './commands.js';
import { PulsarCompressionError } from './errors.js';

/** A compression codec name as users write it. */
export type CompressionName = 'none' | 'lz4' | 'zlib' | 'zstd' | 'snappy';

const NAME_TO_TYPE: Record<CompressionName, number> = {
  none: CompressionType.NONE,
  lz4: CompressionType.LZ4,
  zlib: CompressionType.ZLIB,
  zstd: CompressionType.ZSTD,
  snappy: CompressionType.SNAPPY,
};

/** The protocol's `CompressionType` value of a codec name. */
export function compressionType(name: CompressionName): number {
  const type = NAME_TO_TYPE[name];
  if (type === undefined) throw new PulsarCompressionError(`unknown compression ${String(name)}`);
  return type;
}

/** Compresses a payload with the codec of a `CompressionType` value. */
export function compress(type: number, data: Buffer): Buffer {
  switch (type) {
    case CompressionType.NONE:
      return data;
    case CompressionType.LZ4:
      return lz4Compress(data);
    case CompressionType.ZLIB:
      return zlib.deflateSync(data);
    case CompressionType.SNAPPY:
      return snappyCompress(data);
    case CompressionType.ZSTD: {
      const native = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
      if (!native) {
        throw new PulsarCompressionError('ZSTD compression needs Node.js 22.15 or later (node:zlib zstd support)');
      }
      return native(data);
    }
    default:
      throw new PulsarCompressionError(`unsupported compression type ${type}`);
  }
}

/** Decompresses a payload; `size` is the `uncompressed_size` from the message metadata. */
export function decompress(type: number, data: Buffer, size: number): Buffer {
  let out: Buffer;
  try {
    switch (type) {
      case CompressionType.NONE:
        return data;
      case CompressionType.LZ4:
        out = lz4Decompress(data, size);
        break;
      case CompressionType.ZLIB:
        out = zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
        break;
      case CompressionType.SNAPPY:
        out = snappyDecompress(data);
        break;
      case CompressionType.ZSTD:
        out = zstdDecompress(data);
        break;
      default:
        throw new PulsarCompressionError(`unsupported compression type ${type}`);
    }
  } catch (error) {
    if (error instanceof PulsarCompressionError) throw error;
    throw new PulsarCompressionError(`corrupt ${typeName(type)} payload: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (out.length !== size) {
    throw new PulsarCompressionError(`${typeName(type)} payload decompressed to ${out.length} bytes, expected ${size}`);
  }
  return out;
}

function typeName(type: number): string {
  return Object.entries(CompressionType).find(([, v]) => v === type)?.[0] ?? String(type);
}

// ---------------------------------------------------------------- ZSTD

type ZstdDecoder = (data: Buffer) => Buffer;
let zstdDecoder: ZstdDecoder | undefined;

function zstdDecompress(data: Buffer): Buffer {
  if (!zstdDecoder) zstdDecoder = loadZstd();
  return zstdDecoder(data);
}

function loadZstd(): ZstdDecoder {
  const native = (zlib as unknown as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;
  if (native) return (data) => native(data);
  try {
    const require = createRequire(import.meta.url);
    const fzstd = require('fzstd') as { decompress(data: Uint8Array): Uint8Array };
    return (data) => {
      const out = fzstd.decompress(data);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    };
  } catch (error) {
    throw new PulsarCompressionError(
      'ZSTD messages need the optional package "fzstd" (npm install fzstd) or Node.js 22.15 or later',
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------- LZ4 (raw block format)

const LZ4_MIN_MATCH = 4;
const LZ4_LAST_LITERALS = 5;
const LZ4_MF_LIMIT = 12;
const LZ4_HASH_BITS = 16;

function hash4(value: number, bits: number): number {
  return Math.imul(value, 2654435761) >>> (32 - bits);
}

function read32(src: Uint8Array, i: number): number {
  return (
    ((src[i] as number) |
      ((src[i + 1] as number) << 8) |
      ((src[i + 2] as number) << 16) |
      ((src[i + 3] as number) << 24)) >>>
    0
  );
}

/** Compresses into an LZ4 block (no frame), as Pulsar's LZ4 codec expects. */
export function lz4Compress(src: Uint8Array): Buffer {
  const n = src.length;
  const out = Buffer.allocUnsafe(n + Math.ceil(n / 255) + 16);
  let op = 0;
  let anchor = 0;

  const emit = (literalEnd: number, matchLength: number, offset: number) => {
    const literalLength = literalEnd - anchor;
    const tokenAt = op++;
    let token = 0;
    if (literalLength >= 15) {
      token = 0xf0;
      let rest = literalLength - 15;
      while (rest >= 255) {
        out[op++] = 255;
        rest -= 255;
      }
      out[op++] = rest;
    } else {
      token = literalLength << 4;
    }
    out.set(src.subarray(anchor, literalEnd), op);
    op += literalLength;
    if (matchLength > 0) {
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
      let ml = matchLength - LZ4_MIN_MATCH;
      if (ml >= 15) {
        token |= 0x0f;
        ml -= 15;
        while (ml >= 255) {
          out[op++] = 255;
          ml -= 255;
        }
        out[op++] = ml;
      } else {
        token |= ml;
      }
    }
    out[tokenAt] = token;
  };

  if (n >= LZ4_MF_LIMIT + 1) {
    const table = new Int32Array(1 << LZ4_HASH_BITS).fill(-1);
    const matchLimit = n - LZ4_LAST_LITERALS;
    const startLimit = n - LZ4_MF_LIMIT;
    let ip = 0;
    while (ip < startLimit) {
      const seq = read32(src, ip);
      const h = hash4(seq, LZ4_HASH_BITS);
      const ref = table[h] as number;
      table[h] = ip;
      if (ref >= 0 && ip - ref <= 0xffff && read32(src, ref) === seq) {
        let length = LZ4_MIN_MATCH;
        while (ip + length < matchLimit && src[ref + length] === src[ip + length]) length++;
        emit(ip, length, ip - ref);
        ip += length;
        anchor = ip;
      } else {
        ip++;
      }
    }
  }
  emit(n, 0, 0);
  return out.subarray(0, op);
}

/** Decompresses an LZ4 block whose decompressed size is known. */
export function lz4Decompress(src: Uint8Array, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let ip = 0;
  let op = 0;
  const n = src.length;
  const bad = (what: string): never => {
    throw new PulsarCompressionError(`corrupt LZ4 block: ${what}`);
  };
  while (ip < n) {
    const token = src[ip++] as number;
    let literalLength = token >>> 4;
    if (literalLength === 15) {
      let b: number;
      do {
        if (ip >= n) bad('truncated literal length');
        b = src[ip++] as number;
        literalLength += b;
      } while (b === 255);
    }
    if (ip + literalLength > n) bad('literals past the end of input');
    if (op + literalLength > size) bad('output larger than the declared size');
    out.set(src.subarray(ip, ip + literalLength), op);
    ip += literalLength;
    op += literalLength;
    if (ip >= n) break; // last sequence: literals only
    if (ip + 2 > n) bad('truncated offset');
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
    ip += 2;
    if (offset === 0 || offset > op) bad(`invalid offset ${offset}`);
    let matchLength = token & 0x0f;
    if (matchLength === 15) {
      let b: number;
      do {
        if (ip >= n) bad('truncated match length');
        b = src[ip++] as number;
        matchLength += b;
      } while (b === 255);
    }
    matchLength += LZ4_MIN_MATCH;
    if (op + matchLength > size) bad('output larger than the declared size');
    let from = op - offset;
    if (offset >= matchLength) {
      out.copyWithin(op, from, from + matchLength);
      op += matchLength;
    } else {
      for (let k = 0; k < matchLength; k++) out[op++] = out[from++] as number;
    }
  }
  if (op !== size) bad(`decoded ${op} bytes, expected ${size}`);
  return out;
}

// ---------------------------------------------------------------- Snappy (raw format)

const SNAPPY_HASH_BITS = 14;

/** Compresses into Snappy's raw format (length preamble + elements, no framing). */
export function snappyCompress(src: Uint8Array): Buffer {
  const n = src.length;
  const out = Buffer.allocUnsafe(10 + n + Math.ceil(n / 60) * 3 + 8);
  let op = 0;
  let v = n;
  while (v >= 0x80) {
    out[op++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[op++] = v;

  const literal = (from: number, to: number) => {
    let length = to - from;
    while (length > 0) {
      const chunk = Math.min(length, 65536);
      const l = chunk - 1;
      if (l < 60) {
        out[op++] = l << 2;
      } else if (l < 256) {
        out[op++] = 60 << 2;
        out[op++] = l;
      } else {
        out[op++] = 61 << 2;
        out[op++] = l & 0xff;
        out[op++] = l >>> 8;
      }
      out.set(src.subarray(from, from + chunk), op);
      op += chunk;
      from += chunk;
      length -= chunk;
    }
  };
  const copy = (offset: number, length: number) => {
    while (length > 0) {
      // copy with 2-byte offset: lengths 1..64; keep at least 4 for a final piece
      let chunk = Math.min(length, 64);
      if (length - chunk > 0 && length - chunk < 4) chunk = length - 4;
      out[op++] = ((chunk - 1) << 2) | 2;
      out[op++] = offset & 0xff;
      out[op++] = offset >>> 8;
      length -= chunk;
    }
  };

  let anchor = 0;
  if (n >= 16) {
    const table = new Int32Array(1 << SNAPPY_HASH_BITS).fill(-1);
    const limit = n - 4;
    let ip = 0;
    while (ip <= limit) {
      const seq = read32(src, ip);
      const h = hash4(seq, SNAPPY_HASH_BITS);
      const ref = table[h] as number;
      table[h] = ip;
      if (ref >= 0 && ip - ref <= 0xffff && read32(src, ref) === seq) {
        let length = 4;
        while (ip + length < n && src[ref + length] === src[ip + length]) length++;
        literal(anchor, ip);
        copy(ip - ref, length);
        ip += length;
        anchor = ip;
      } else {
        ip++;
      }
    }
  }
  literal(anchor, n);
  return out.subarray(0, op);
}

/** Decompresses Snappy's raw format. */
export function snappyDecompress(src: Uint8Array): Buffer {
  const bad = (what: string): never => {
    throw new PulsarCompressionError(`corrupt Snappy data: ${what}`);
  };
  let ip = 0;
  let size = 0;
  let shift = 0;
  for (;;) {
    if (ip >= src.length || shift > 28) bad('bad length preamble');
    const b = src[ip++] as number;
    size += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  const out = Buffer.allocUnsafe(size);
  let op = 0;
  const n = src.length;
  while (ip < n) {
    const tag = src[ip++] as number;
    const kind = tag & 3;
    if (kind === 0) {
      let length = tag >>> 2;
      if (length >= 60) {
        const bytes = length - 59;
        if (ip + bytes > n) bad('truncated literal length');
        length = 0;
        for (let k = 0; k < bytes; k++) length += (src[ip + k] as number) * 2 ** (8 * k);
        ip += bytes;
      }
      length += 1;
      if (ip + length > n) bad('literal past the end of input');
      if (op + length > size) bad('output larger than the declared size');
      out.set(src.subarray(ip, ip + length), op);
      ip += length;
      op += length;
      continue;
    }
    let length: number;
    let offset: number;
    if (kind === 1) {
      if (ip + 1 > n) bad('truncated copy');
      length = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | (src[ip++] as number);
    } else if (kind === 2) {
      if (ip + 2 > n) bad('truncated copy');
      length = (tag >>> 2) + 1;
      offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
      ip += 2;
    } else {
      if (ip + 4 > n) bad('truncated copy');
      length = (tag >>> 2) + 1;
      offset = read32(src, ip);
      ip += 4;
    }
    if (offset === 0 || offset > op) bad(`invalid offset ${offset}`);
    if (op + length > size) bad('output larger than the declared size');
    let from = op - offset;
    if (offset >= length) {
      out.copyWithin(op, from, from + length);
      op += length;
    } else {
      for (let k = 0; k < length; k++) out[op++] = out[from++] as number;
    }
  }
  if (op !== size) bad(`decoded ${op} bytes, expected ${size}`);
  return out;
}
