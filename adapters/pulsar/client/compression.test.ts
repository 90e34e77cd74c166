import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompressionType } from './commands.js';
import { compress, decompress, lz4Compress, lz4Decompress, snappyCompress, snappyDecompress } from './compression.js';
import { PulsarCompressionError } from './errors.js';

const TEXT = Buffer.from('polybus polybus polybus! hello hello hello hello pulsar 0123456789 0123456789');
// Produced by Pulsar's own codecs (aircompressor 0.27 and java.util.zip.Deflater, as in pulsar-common 4.0.7)
// from TEXT, with jshell.
const JAVA = {
  LZ4: '8b706f6c796275732008007f212068656c6c6f060000f00d70756c73617220303132333435363738392030313233343536373839',
  SNAPPY: '4d1c706f6c79627573203a080018212068656c6c6f4a06006c70756c73617220303132333435363738392030313233343536373839',
  ZLIB: '789c2bc8cfa94c2a2d562840a5151532527372f2b19005a539c589450a068646c626a666e61696484c005587196d',
  ZSTD: '28b52ffd244d5d01000402706f6c7962757320212068656c6c6f70756c73617220303132333435363738390310036dac24661d1752e4defd',
};

const SAMPLES: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  one: Buffer.from('x'),
  short: Buffer.from('abcabcabcabc'),
  text: TEXT,
  zeros: Buffer.alloc(300_000),
  random: randomBytes(100_000),
  mixed: Buffer.concat(
    Array.from({ length: 200 }, (_, i) => Buffer.from(`{"order":${i},"status":"paid","n":${i % 7}}`)),
  ),
  overlap: Buffer.from('a'.repeat(1000) + 'ab'.repeat(1000) + 'abc'.repeat(30_000)),
};

describe('compression', () => {
  for (const [codec, type] of [
    ['LZ4', CompressionType.LZ4],
    ['ZLIB', CompressionType.ZLIB],
    ['SNAPPY', CompressionType.SNAPPY],
  ] as const) {
    it(`${codec} round-trips every sample`, () => {
      for (const [name, sample] of Object.entries(SAMPLES)) {
        const packed = compress(type, sample);
        // Buffer.equals: vitest's deep equality is slow on large buffers
        expect(decompress(type, packed, sample.length).equals(sample), name).toBe(true);
        if (name === 'zeros') expect(packed.length).toBeLessThan(sample.length / 20);
      }
    });

    it(`${codec} decodes what Pulsar's Java codec wrote`, () => {
      expect(decompress(type, Buffer.from(JAVA[codec], 'hex'), TEXT.length).toString()).toBe(TEXT.toString());
    });
  }

  it('LZ4 keeps the last five bytes literal and matches the reference encoder on TEXT', () => {
    // Same greedy algorithm as the reference: identical output on this input.
    expect(lz4Compress(TEXT).toString('hex')).toBe(JAVA.LZ4);
  });

  it('rejects corrupt LZ4 and Snappy input with a typed error, never a crash', () => {
    const packed = lz4Compress(SAMPLES.mixed as Buffer);
    for (const cut of [1, 5, packed.length - 1]) {
      expect(() => lz4Decompress(packed.subarray(0, cut), (SAMPLES.mixed as Buffer).length)).toThrow(
        PulsarCompressionError,
      );
    }
    expect(() => lz4Decompress(Buffer.from('1fff00', 'hex'), 100)).toThrow(PulsarCompressionError);
    expect(() => lz4Decompress(lz4Compress(TEXT), TEXT.length - 1)).toThrow(PulsarCompressionError);
    const snappy = snappyCompress(SAMPLES.mixed as Buffer);
    expect(() => snappyDecompress(snappy.subarray(0, snappy.length - 3))).toThrow(PulsarCompressionError);
    expect(() => snappyDecompress(Buffer.from('0a0600ff', 'hex'))).toThrow(PulsarCompressionError);
    expect(() => decompress(CompressionType.ZLIB, Buffer.from('not zlib'), 10)).toThrow(PulsarCompressionError);
    expect(() => decompress(CompressionType.LZ4, lz4Compress(TEXT), TEXT.length + 5)).toThrow(PulsarCompressionError);
    // fuzz: random bytes must only ever give a typed error (or, rarely, valid output)
    for (let i = 0; i < 200; i++) {
      const junk = randomBytes(1 + (i % 64));
      for (const type of [CompressionType.LZ4, CompressionType.SNAPPY]) {
        try {
          decompress(type, junk, 50);
        } catch (error) {
          expect(error).toBeInstanceOf(PulsarCompressionError);
        }
      }
    }
  });

  it('ZSTD decodes what Pulsar wrote, or says which package to install', () => {
    try {
      expect(decompress(CompressionType.ZSTD, Buffer.from(JAVA.ZSTD, 'hex'), TEXT.length).toString()).toBe(
        TEXT.toString(),
      );
    } catch (error) {
      expect(error).toBeInstanceOf(PulsarCompressionError);
      expect((error as Error).message).toMatch(/fzstd/);
    }
  });
});
