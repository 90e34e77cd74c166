/** What producers and consumers share with their client. @internal */
import type { LookupService } from './lookup.js';
import type { ConnectionPool } from './pool.js';

/** Receives the client's diagnostics (reconnects, dropped messages). Never given credentials. */
export interface PulsarLogger {
  debug?(message: string): void;
  info?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
}

/** @internal */
export interface ClientContext {
  readonly pool: ConnectionPool;
  readonly lookup: LookupService;
  readonly operationTimeoutMs: number;
  readonly logger: PulsarLogger;
  readonly closed: boolean;
  newProducerId(): number;
  newConsumerId(): number;
  /** Registers something to close with the client; returns a function that unregisters it. */
  track(resource: { close(): Promise<void> }): () => void;
}
