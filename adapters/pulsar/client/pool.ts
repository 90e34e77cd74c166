/**
 * One connection per (logical broker, physical address) pair, shared by every producer,
 * consumer and lookup that goes there; a closed connection is replaced on next use.
 */
import { type BrokerAddress, Connection, type ConnectionOptions } from './connection.js';
import { PulsarClosedError } from './errors.js';

/** The settings every pooled connection shares. */
export type PoolOptions = Omit<ConnectionOptions, 'logical' | 'physical'>;

export class ConnectionPool {
  private readonly connections = new Map<string, Promise<Connection>>();
  private readonly open = new Set<Connection>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  /** The connection to `logical`, dialled through `physical` (default: `logical` itself). */
  get(logical: BrokerAddress, physical: BrokerAddress = logical): Promise<Connection> {
    if (this.closed) return Promise.reject(new PulsarClosedError('the client is closed'));
    const key = `${logical.url}|${physical.url}`;
    const existing = this.connections.get(key);
    if (existing) return existing;
    const opening = Connection.open({ ...this.options, logical, physical }).then(
      (connection) => {
        if (this.closed) {
          connection.close();
          throw new PulsarClosedError('the client is closed');
        }
        this.open.add(connection);
        connection.onClose(() => {
          this.open.delete(connection);
          if (this.connections.get(key) === opening) this.connections.delete(key);
        });
        return connection;
      },
      (error: unknown) => {
        if (this.connections.get(key) === opening) this.connections.delete(key);
        throw error;
      },
    );
    this.connections.set(key, opening);
    return opening;
  }

  /** Number of open connections (for tests and diagnostics). */
  get size(): number {
    return this.open.size;
  }

  /** Closes every connection. */
  close(): void {
    this.closed = true;
    for (const connection of this.open) connection.close();
    this.open.clear();
    this.connections.clear();
  }
}
