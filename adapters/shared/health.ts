/** The health report adapters with per-subscription status build the same way. */
import type { HealthStatus } from '../../src/adapter.js';
import type { BrokerName } from '../../src/errors.js';

/** An error noted for health(), and when. */
export interface NotedError {
  readonly text: string;
  readonly at: number;
}

/** How long a noted error is shown in an unhealthy report. */
export const RECENT_ERROR_MS = 60_000;

/**
 * One report: whether the broker was reachable, then each subscription's status (any unhealthy
 * subscription makes the whole report unhealthy), then — only when unhealthy — the last error
 * noted within {@link RECENT_ERROR_MS}.
 */
export function healthReport(
  broker: BrokerName,
  reachable: { ok: boolean; detail: string },
  subscriptions: Iterable<{ health(): { ok: boolean; detail: string } }>,
  lastError: NotedError | undefined,
  now = Date.now(),
): HealthStatus {
  let ok = reachable.ok;
  const parts = [reachable.detail];
  for (const subscription of subscriptions) {
    const status = subscription.health();
    if (!status.ok) ok = false;
    parts.push(status.detail);
  }
  if (!ok && lastError !== undefined && now - lastError.at < RECENT_ERROR_MS)
    parts.push(`last error: ${lastError.text}`);
  return { ok, broker, detail: parts.join('; ') };
}
