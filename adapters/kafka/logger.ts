/**
 * kafkajs's logging, routed through polybus: never to the console. Errors always reach the
 * adapter (for health() and onError); every line at the user's level reaches `onLog` if given.
 */
import type { KafkaLogEntry, KafkaLogLevel } from './config.js';

/** kafkajs's numeric levels (its `logLevel` enum), without importing kafkajs. */
export const KAFKAJS_LEVEL: Readonly<Record<KafkaLogLevel, number>> = Object.freeze({
  nothing: 0,
  error: 1,
  warn: 2,
  info: 4,
  debug: 5,
});

const NAMES: Record<number, Exclude<KafkaLogLevel, 'nothing'>> = { 1: 'error', 2: 'warn', 4: 'info', 5: 'debug' };

/** The shape kafkajs hands to a log creator's function. */
export interface KafkajsLogRecord {
  namespace: string;
  level: number;
  label: string;
  log: { message: string; timestamp: string } & Record<string, unknown>;
}

/** Where the bridge sends log lines. */
export interface LogBridgeOptions {
  /** Lines at this level and above go to `onLog`. */
  level: KafkaLogLevel;
  onLog?: ((entry: KafkaLogEntry) => void) | undefined;
  /** Every error line, whatever the level: for health() and error reporting. */
  onError?: ((entry: KafkaLogEntry) => void) | undefined;
  /** Strings to blank out of every line (passwords, keys), in case a client ever logs one. */
  secrets?: readonly string[];
}

/** The kafkajs `logLevel` to configure: errors always, more if the user's `onLog` wants more. */
export function kafkajsLogLevel(options: LogBridgeOptions): number {
  const wanted = options.onLog ? KAFKAJS_LEVEL[options.level] : 0;
  return Math.max(KAFKAJS_LEVEL.error, wanted);
}

/** A kafkajs `logCreator` that forwards lines to the bridge's callbacks and nowhere else. */
export function createLogCreator(options: LogBridgeOptions): (level: number) => (record: KafkajsLogRecord) => void {
  const userLevel = options.onLog ? KAFKAJS_LEVEL[options.level] : 0;
  const secrets = (options.secrets ?? []).filter((secret) => secret.length >= 4);
  return () => (record) => {
    const level = NAMES[record.level];
    if (level === undefined) return;
    const isError = record.level === KAFKAJS_LEVEL.error;
    const wanted = options.onLog !== undefined && record.level <= userLevel;
    if (!isError && !wanted) return;
    const entry = toEntry(record, level, secrets);
    if (isError) safely(options.onError, entry);
    if (wanted) safely(options.onLog, entry);
  };
}

function toEntry(record: KafkajsLogRecord, level: KafkaLogEntry['level'], secrets: readonly string[]): KafkaLogEntry {
  const { message, timestamp, ...extra } = record.log ?? { message: '', timestamp: '' };
  return {
    level,
    namespace: record.namespace ?? '',
    message: redact(String(message ?? ''), secrets),
    timestamp: String(timestamp ?? new Date().toISOString()),
    extra: redactValue(extra, secrets, 0) as Record<string, unknown>,
  };
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}

function redactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redact(value, secrets);
  if (value instanceof Error) return redact(value.message, secrets);
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactValue(item, secrets, depth + 1);
  return out;
}

function safely(callback: ((entry: KafkaLogEntry) => void) | undefined, entry: KafkaLogEntry): void {
  if (!callback) return;
  try {
    callback(entry);
  } catch {
    // A failing log callback must not break the client that logged.
  }
}
