/**
 * A billing worker on polybus: orders in, retries for transient failures, a dead-letter topic
 * for orders that can never be billed, tracing throughout. Runs on memory:// by default; set
 * BROKER_URL to run the same code against another broker.
 *
 *   npm run example
 */
import { connect, DEAD_LETTER_HEADERS, deadLetter, retry, tracing } from '../src/index.js';

interface Order {
  id: string;
  customer: string;
  amountCents: number;
}

const bus = await connect(process.env.BROKER_URL || 'memory://example');

let flakyFailures = 0;
const billed: string[] = [];
const deadLettered: string[] = [];

// Reads the dead-letter topic: what an on-call engineer would look at.
const dlqReader = bus.consumer<Order>({ topic: 'orders.dlq', group: 'dlq-report' });
await dlqReader.run((message) => {
  deadLettered.push(message.value.id);
  console.log(
    `dead-lettered ${message.value.id} after ${message.headers[DEAD_LETTER_HEADERS.attempts]} attempts: ` +
      message.headers[DEAD_LETTER_HEADERS.error],
  );
});

const billing = bus.consumer<Order>({
  topic: 'orders',
  group: 'billing',
  concurrency: 8,
  // Listed in any order: each middleware has a fixed step (trace → dead-letter → decode → retry → handler).
  use: [tracing(), retry({ attempts: 3, initialDelayMs: 50 }), deadLetter('orders.dlq')],
});
await billing.run(async (message) => {
  const order = message.value;
  if (order.amountCents < 0) throw new Error(`order ${order.id} has a negative amount`);
  if (order.id === 'o-2' && flakyFailures++ < 1) throw new Error('payment gateway timed out');
  billed.push(order.id);
  console.log(`billed ${order.id} (${order.customer}, ${order.amountCents / 100} EUR) on attempt ${message.attempt}`);
});

const orders = bus.producer<Order>({ use: [tracing()] });
const receipts = await orders.send('orders', [
  { key: 'c-1', value: { id: 'o-1', customer: 'c-1', amountCents: 1999 }, headers: { tenant: 't1' } },
  { key: 'c-2', value: { id: 'o-2', customer: 'c-2', amountCents: 4500 }, headers: { tenant: 't1' } },
  { key: 'c-1', value: { id: 'o-3', customer: 'c-1', amountCents: -100 }, headers: { tenant: 't1' } },
  { key: 'c-3', value: { id: 'o-4', customer: 'c-3', amountCents: 750 }, headers: { tenant: 't2' } },
]);
console.log(`sent ${receipts.length} orders: ${receipts.map((r) => r.id).join(', ')}`);

const deadline = Date.now() + 10_000;
while (billed.length + deadLettered.length < receipts.length && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await bus.close(); // drains in-flight handlers, then closes producers and the connection
console.log(`done: ${billed.length} billed, ${deadLettered.length} dead-lettered`);
if (billed.length !== 3 || deadLettered.length !== 1) process.exitCode = 1;
