/**
 * Key → partition routing that matches the Java client's default
 * (`RoundRobinPartitionMessageRouterImpl` with `HashingScheme.JavaStringHash`):
 * a keyed message goes to `(String.hashCode(key) & Integer.MAX_VALUE) % partitions`.
 */

/** Java's `String.hashCode()`: over UTF-16 code units, 32-bit wrapping, signed. */
export function javaStringHashCode(value: string): number {
  let h = 0;
  for (let i = 0; i < value.length; i++) h = (Math.imul(h, 31) + value.charCodeAt(i)) | 0;
  return h;
}

/** Pulsar's `JavaStringHash.makeHash`: the Java hash code with its sign bit cleared. */
export function javaStringHash(value: string): number {
  return javaStringHashCode(value) & 0x7fffffff;
}

/** The partition the Java client picks for a key. */
export function partitionForKey(key: string, partitions: number): number {
  return javaStringHash(key) % partitions;
}
