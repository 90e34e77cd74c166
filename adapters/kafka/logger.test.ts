import { describe, expect, it, vi } from 'vitest';
import type { KafkaLogEntry } from './config.js';
import { createLogCreator, type KafkajsLogRecord, kafkajsLogLevel } from './logger.js';

const record = (level: number, message: string, extra: Record<string, unknown> = {}): KafkajsLogRecord => ({
  namespace: 'Connection',
  level,
  label: 'X',
  log: { message, timestamp: '2025-01-01T00:00:00.000Z', ...extra },
});

describe('kafkajs log bridge', () => {
  it('is silent by default: nothing reaches the console, errors reach onError only', () => {
    const console = vi.spyOn(globalThis.console, 'log');
    const consoleError = vi.spyOn(globalThis.console, 'error');
    const errors: KafkaLogEntry[] = [];
    const log = createLogCreator({ level: 'error', onError: (entry) => errors.push(entry) })(1);
    log(record(4, 'Starting'));
    log(record(2, 'Limiting retries'));
    log(record(1, 'Connection error: connect ECONNREFUSED', { broker: '127.0.0.1:9092' }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      level: 'error',
      namespace: 'Connection',
      message: 'Connection error: connect ECONNREFUSED',
      extra: { broker: '127.0.0.1:9092' },
    });
    expect(console).not.toHaveBeenCalled();
    expect(consoleError).not.toHaveBeenCalled();
    console.mockRestore();
    consoleError.mockRestore();
  });

  it('sends lines at the chosen level and above to onLog', () => {
    const lines: string[] = [];
    const log = createLogCreator({ level: 'warn', onLog: (entry) => lines.push(`${entry.level}:${entry.message}`) })(2);
    log(record(5, 'debug line'));
    log(record(4, 'info line'));
    log(record(2, 'warn line'));
    log(record(1, 'error line'));
    expect(lines).toEqual(['warn:warn line', 'error:error line']);
  });

  it('configures kafkajs to log errors always, and more only when onLog wants more', () => {
    expect(kafkajsLogLevel({ level: 'debug' })).toBe(1);
    expect(kafkajsLogLevel({ level: 'nothing', onLog: () => {} })).toBe(1);
    expect(kafkajsLogLevel({ level: 'info', onLog: () => {} })).toBe(4);
  });

  it('blanks out secrets in messages and structured fields', () => {
    const errors: KafkaLogEntry[] = [];
    const log = createLogCreator({ level: 'error', onError: (e) => errors.push(e), secrets: ['hunter2-password'] })(1);
    log(record(1, 'SASL failed for hunter2-password', { nested: { error: new Error('bad hunter2-password') } }));
    expect(JSON.stringify(errors)).not.toContain('hunter2-password');
    expect(errors[0]?.message).toBe('SASL failed for ***');
    expect(errors[0]?.extra).toEqual({ nested: { error: 'bad ***' } });
  });

  it('survives a throwing callback', () => {
    const log = createLogCreator({
      level: 'error',
      onError: () => {
        throw new Error('boom');
      },
    })(1);
    expect(() => log(record(1, 'x'))).not.toThrow();
  });
});
