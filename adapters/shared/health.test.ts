import { describe, expect, it } from 'vitest';
import { healthReport, RECENT_ERROR_MS } from './health.js';

const sub = (ok: boolean, detail: string) => ({ health: () => ({ ok, detail }) });

describe('healthReport', () => {
  it('joins the reachability and each subscription, healthy only when all are', () => {
    expect(
      healthReport('kafka', { ok: true, detail: 'a:9092: reachable' }, [sub(true, 'g1 running')], undefined),
    ).toEqual({
      ok: true,
      broker: 'kafka',
      detail: 'a:9092: reachable; g1 running',
    });
    const report = healthReport(
      'pubsub',
      { ok: true, detail: 'up' },
      [sub(true, 's1'), sub(false, 's2 stalled')],
      {
        text: 'stream reset',
        at: 1_000,
      },
      1_000 + RECENT_ERROR_MS - 1,
    );
    expect(report).toEqual({ ok: false, broker: 'pubsub', detail: 'up; s1; s2 stalled; last error: stream reset' });
  });

  it('shows the last error only when unhealthy and recent', () => {
    const error = { text: 'boom', at: 0 };
    expect(healthReport('kafka', { ok: true, detail: 'up' }, [], error, 10).detail).toBe('up');
    expect(healthReport('kafka', { ok: false, detail: 'down' }, [], error, RECENT_ERROR_MS).detail).toBe('down');
    expect(healthReport('kafka', { ok: false, detail: 'down' }, [], error, 10).detail).toBe('down; last error: boom');
  });
});
