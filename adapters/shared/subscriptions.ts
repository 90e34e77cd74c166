/** What every adapter does around starting one of its subscriptions. */
import type { Subscription } from '../../src/adapter.js';
import type { BrokerName } from '../../src/errors.js';
import { ClosedError } from '../../src/errors.js';

/** An adapter's own subscription object: started once, closable more than once. */
export interface StartableSubscription extends Subscription {
  start(): Promise<void>;
}

/**
 * Starts `subscription` while it is tracked in `open` (so that the adapter's close() reaches it
 * even mid-start), closes it if starting fails or the adapter was closed meanwhile, and returns
 * the handle the core gets, whose close() also stops tracking it.
 * @throws what start() threw, or {@link ClosedError} when the adapter closed during the start.
 */
export async function startTracked<S extends StartableSubscription>(
  subscription: S,
  open: Set<S>,
  adapterClosed: () => boolean,
  broker: BrokerName,
): Promise<Subscription> {
  open.add(subscription);
  try {
    await subscription.start();
  } catch (error) {
    open.delete(subscription);
    await subscription.close().catch(() => {});
    throw error;
  }
  if (adapterClosed()) {
    await subscription.close();
    throw new ClosedError('connection', 'subscribe', broker);
  }
  return {
    pause: () => subscription.pause(),
    resume: () => subscription.resume(),
    close: async () => {
      open.delete(subscription);
      await subscription.close();
    },
  };
}
