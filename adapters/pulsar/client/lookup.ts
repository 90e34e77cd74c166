/**
 * Topic lookup (which broker owns a topic, following redirects) and partitioned-topic metadata,
 * both asked over a connection to the service URL.
 */
import { CommandType, LookupType, PartitionedLookupType } from './commands.js';
import { type BrokerAddress, parseBrokerUrl } from './connection.js';
import { PulsarProtocolError, serverError } from './errors.js';
import type { ConnectionPool } from './pool.js';

/** Where a topic is served: the broker (`logical`) and the address to dial (`physical`, a proxy or the broker). */
export interface LookupResult {
  logical: BrokerAddress;
  physical: BrokerAddress;
}

const MAX_REDIRECTS = 20;

export class LookupService {
  private next = 0;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly serviceAddresses: BrokerAddress[],
    private readonly useTls: boolean,
    private readonly listenerName?: string,
  ) {}

  /** One of the service URL's hosts, in turn. */
  serviceAddress(): BrokerAddress {
    const address = this.serviceAddresses[this.next % this.serviceAddresses.length] as BrokerAddress;
    this.next++;
    return address;
  }

  /** Finds the broker that owns `topic`, following redirects. */
  async lookup(topic: string): Promise<LookupResult> {
    const service = this.serviceAddress();
    let logical = service;
    let physical = service;
    let authoritative = false;
    for (let hop = 0; hop < MAX_REDIRECTS; hop++) {
      const connection = await this.pool.get(logical, physical);
      const answer = await connection.request((requestId) => ({
        type: CommandType.LOOKUP,
        lookupTopic: {
          topic,
          requestId,
          authoritative,
          advertisedListenerName: this.listenerName,
        },
      }));
      const response = answer.lookupTopicResponse;
      if (!response) throw new PulsarProtocolError('LOOKUP answered without a lookup response');
      if (response.response === LookupType.Failed || response.error !== undefined) {
        throw serverError(response.error, response.message ?? `lookup of ${topic} failed`);
      }
      const url = this.useTls ? response.brokerServiceUrlTls : response.brokerServiceUrl;
      if (!url) {
        throw new PulsarProtocolError(
          `lookup of ${topic} returned no ${this.useTls ? 'TLS ' : ''}broker URL (is TLS enabled on the broker?)`,
        );
      }
      const broker = parseBrokerUrl(url);
      // Through a proxy, keep dialling the service URL and name the broker in CONNECT.
      const next = response.proxyThroughServiceUrl ? service : broker;
      authoritative = response.authoritative ?? false;
      if (response.response === LookupType.Connect) return { logical: broker, physical: next };
      logical = broker;
      physical = next;
    }
    throw new PulsarProtocolError(`lookup of ${topic} redirected more than ${MAX_REDIRECTS} times`);
  }

  /** The number of partitions of `topic` (0 when it is not partitioned). */
  async partitions(topic: string): Promise<number> {
    const service = this.serviceAddress();
    const connection = await this.pool.get(service);
    const answer = await connection.request((requestId) => ({
      type: CommandType.PARTITIONED_METADATA,
      partitionMetadata: { topic, requestId },
    }));
    const response = answer.partitionMetadataResponse;
    if (!response) throw new PulsarProtocolError('PARTITIONED_METADATA answered without metadata');
    if (response.response === PartitionedLookupType.Failed || response.error !== undefined) {
      throw serverError(response.error, response.message ?? `partition metadata of ${topic} failed`);
    }
    return response.partitions ?? 0;
  }
}
