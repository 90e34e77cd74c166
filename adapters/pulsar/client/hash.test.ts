import { describe, expect, it } from 'vitest';
import { javaStringHash, javaStringHashCode, partitionForKey } from './hash.js';

// Computed with the Java client itself (jshell, pulsar-client-original 4.0.7):
// String.hashCode(), JavaStringHash.getInstance().makeHash(s), makeHash(s) % 7.
const VECTORS: Array<[string, number, number, number]> = [
  ['', 0, 0, 0],
  ['key', 106079, 106079, 1],
  ['a', 97, 97, 6],
  ['order-42', 1234255197, 1234255197, 0],
  ['polybus', -397524172, 1749959476, 6],
  ['héllo wörld', 1628148953, 1628148953, 4],
  ['😀emoji', -1233692477, 913791171, 6],
  ['zzzzzzzzzzzzzzzzzzzzzzzzzzzz', -331029120, 1816454528, 0],
];

describe('JavaStringHash', () => {
  it.each(VECTORS)('%s', (key, hashCode, hash, partition) => {
    expect(javaStringHashCode(key)).toBe(hashCode);
    expect(javaStringHash(key)).toBe(hash);
    expect(partitionForKey(key, 7)).toBe(partition);
  });
});
