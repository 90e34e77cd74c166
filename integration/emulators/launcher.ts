/** What each broker's launcher provides. */
export interface Launcher {
  readonly name: BrokerId;
  /** Environment variables pointing at the running broker. */
  readonly endpoints: Record<string, string>;
  /** The variable that, when already set, means "use that broker as is". */
  readonly externalVariable: string;
  /** Downloads / builds whatever is missing (cached), pinned to exact versions. */
  install(): Promise<void>;
  /** (Re)starts the broker and waits until it really accepts work; `up()` skips it when already ready. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the broker accepts work now (a real round trip, not just an open port). */
  ready(): Promise<boolean>;
}

export const BROKERS = ['kafka', 'rabbitmq', 'kinesis', 'pubsub', 'pulsar'] as const;
export type BrokerId = (typeof BROKERS)[number];
