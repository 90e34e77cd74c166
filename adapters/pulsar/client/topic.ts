/** Topic names and reconnect backoff. */
import { PulsarConfigError } from './errors.js';

/**
 * The full name of a topic: `t` → `persistent://public/default/t`,
 * `tenant/ns/t` → `persistent://tenant/ns/t`; full names are kept.
 */
export function fullTopicName(topic: string): string {
  if (/^(persistent|non-persistent):\/\/[^/]+\/[^/]+\/.+$/.test(topic)) return topic;
  if (topic.includes('://')) throw new PulsarConfigError(`invalid topic name: ${topic}`);
  const parts = topic.split('/');
  if (parts.length === 1 && topic.length > 0) return `persistent://public/default/${topic}`;
  if (parts.length === 3 && parts.every((p) => p.length > 0)) return `persistent://${topic}`;
  throw new PulsarConfigError(`invalid topic name: ${topic} (use "topic", "tenant/namespace/topic" or a full name)`);
}

/** The name of partition `index` of a partitioned topic. */
export function partitionTopicName(topic: string, index: number): string {
  return `${topic}-partition-${index}`;
}

/** Exponential backoff with jitter, for reconnects. */
export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 30_000,
  ) {
    this.current = initialMs;
  }

  /** The next delay (grows ×2 up to the maximum, ±20 % jitter). */
  next(): number {
    const base = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.current = this.initialMs;
  }
}
