/**
 * Names and what exists on the cluster: polybus topic `orders` is
 * `persistent://<tenant>/<namespace>/orders`, a group is a subscription of that name. Topics are
 * created by the broker on first use (its `allowAutoTopicCreation`, on by default) unless
 * `partitions` > 0, where polybus creates them partitioned through the admin REST API; with
 * `autoCreate=false` it checks that they exist instead. No client import here.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { BrokerError, InvalidConfigError } from '../../src/errors.js';
import type { Secret } from '../../src/secret.js';
import { retrying } from '../shared/backoff.js';
import { TopicNotFoundError } from '../shared/errors.js';
import { type NodeTlsOptions, nodeTlsOptions, type TlsOptions } from '../shared/tls.js';

/**
 * What polybus accepts as a topic or group name on Pulsar: letters, digits, `_`, `-`, `.`, `:`
 * and `=`, up to 200 characters. Pulsar itself reads a `/` as a namespace separator (and an old
 * 4-part name), and `-partition-N` as a partition of a partitioned topic, so both are refused.
 */
const NAME = /^[\w.:=-]{1,200}$/;
const PARTITION_SUFFIX = /-partition-\d+$/;

/** Throws an InvalidConfigError when Pulsar would misread this topic or subscription name. */
export function checkName(kind: 'topic' | 'group', name: string, operation: string): void {
  if (typeof name === 'string' && NAME.test(name) && !(kind === 'topic' && PARTITION_SUFFIX.test(name))) return;
  const shown = typeof name === 'string' ? `"${name.length > 60 ? `${name.slice(0, 60)}…` : name}"` : typeof name;
  const why =
    typeof name === 'string' && name.includes('/')
      ? 'it holds "/", which Pulsar reads as a namespace separator; set tenant and namespace in the URL (?tenant=…&namespace=…) instead'
      : typeof name === 'string' && PARTITION_SUFFIX.test(name)
        ? 'a name ending in "-partition-<n>" names a partition of a partitioned topic'
        : 'use only letters, digits, "_", "-", ".", ":" and "=", at most 200 characters';
  throw new InvalidConfigError(`${shown} is not a valid Pulsar ${kind} name for polybus: ${why}`, {
    broker: 'pulsar',
    operation,
    hint: `Rename the ${kind} (e.g. orders.dlq).`,
  });
}

/** {@link NodeTlsOptions} as Node's `tls.connect` types them (Buffers, not Uint8Arrays). */
export function tlsConnectOptions(options: NodeTlsOptions): ConnectionOptions {
  const buffer = (value: string | Uint8Array): string | Buffer =>
    typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const result: ConnectionOptions = { rejectUnauthorized: options.rejectUnauthorized };
  if (options.ca !== undefined) result.ca = options.ca.map(buffer);
  if (options.cert !== undefined) result.cert = buffer(options.cert);
  if (options.key !== undefined) result.key = options.key;
  if (options.passphrase !== undefined) result.passphrase = options.passphrase;
  if (options.servername !== undefined) result.servername = options.servername;
  return result;
}

/** `orders` → `persistent://<tenant>/<namespace>/orders`. */
export function fullTopicName(tenant: string, namespace: string, topic: string): string {
  return `persistent://${tenant}/${namespace}/${topic}`;
}

/** The admin REST base URL the adapter uses when none is configured. */
export function defaultAdminUrl(serviceUrl: string, tls: boolean, transport: 'binary' | 'websocket'): string {
  const match = /^[a-z+]+:\/\/([^,/]+?)(?::(\d+))?(?:,|\/|$)/i.exec(serviceUrl);
  const host = match?.[1] ?? '127.0.0.1';
  if (transport === 'websocket') return `${tls ? 'https' : 'http'}://${host}:${match?.[2] ?? (tls ? 8443 : 8080)}`;
  return `${tls ? 'https' : 'http'}://${host}:${tls ? 8443 : 8080}`;
}

/** What {@link PulsarTopology} needs. */
export interface TopologyOptions {
  tenant: string;
  namespace: string;
  partitions: number;
  autoCreate: boolean;
  adminUrl: string;
  token: Secret | undefined;
  tlsOptions: TlsOptions | undefined;
  timeoutMs: number;
}

interface AdminResponse {
  status: number;
  body: string;
}

/** Makes sure each topic exists as configured, once per topic and adapter. */
export class PulsarTopology {
  readonly #options: TopologyOptions;
  readonly #tls: ConnectionOptions | undefined;
  readonly #ensured = new Map<string, Promise<void>>();

  constructor(options: TopologyOptions) {
    this.#options = options;
    this.#tls = options.tlsOptions === undefined ? undefined : tlsConnectOptions(nodeTlsOptions(options.tlsOptions));
  }

  /** Whether any topic needs the admin API (otherwise {@link ensure} does nothing). */
  get usesAdmin(): boolean {
    return this.#options.partitions > 0 || !this.#options.autoCreate;
  }

  /** The full name of a polybus topic, after checking it. */
  topicName(topic: string, operation: string): string {
    checkName('topic', topic, operation);
    return fullTopicName(this.#options.tenant, this.#options.namespace, topic);
  }

  /**
   * Creates the topic partitioned (partitions > 0, autoCreate) or checks it exists
   * (autoCreate=false); otherwise nothing: the broker creates it on first use.
   * @throws {TopicNotFoundError} with autoCreate=false and no such topic.
   */
  ensure(topic: string, operation: string): Promise<void> {
    if (!this.usesAdmin) return Promise.resolve();
    let ensured = this.#ensured.get(topic);
    if (ensured === undefined) {
      ensured = this.#ensure(topic, operation);
      this.#ensured.set(topic, ensured);
      ensured.catch(() => this.#ensured.delete(topic));
    }
    return ensured;
  }

  async #ensure(topic: string, operation: string): Promise<void> {
    const { tenant, namespace, partitions, autoCreate } = this.#options;
    const base = `/admin/v2/persistent/${tenant}/${namespace}`;
    const retry = { attempts: 4, initialMs: 200, maxMs: 2000, isRetryable: (e: unknown) => isRetryableAdmin(e) };
    if (!autoCreate) {
      const exists = await retrying(async () => {
        const [plain, partitioned] = await Promise.all([
          this.#request('GET', base, undefined, operation),
          this.#request('GET', `${base}/partitioned`, undefined, operation),
        ]);
        const full = fullTopicName(tenant, namespace, topic);
        const names = [...parseList(plain.body), ...parseList(partitioned.body)];
        return names.some((name) => name === full || name.startsWith(`${full}-partition-`));
      }, retry);
      if (!exists) {
        throw new TopicNotFoundError(
          'pulsar',
          topic,
          operation,
          partitions > 0
            ? `Create it (pulsar-admin topics create-partitioned-topic ${fullTopicName(tenant, namespace, topic)} -p ${partitions}), or set autoCreate=true.`
            : `Create it (pulsar-admin topics create ${fullTopicName(tenant, namespace, topic)}), or set autoCreate=true.`,
        );
      }
      return;
    }
    await retrying(async () => {
      const response = await this.#request(
        'PUT',
        `${base}/${encodeURIComponent(topic)}/partitions`,
        String(partitions),
        operation,
      );
      // 409: it exists already (partitioned or not): used as it is.
      if (response.status === 409 || (response.status >= 200 && response.status < 300)) return;
      throw adminError(operation, response);
    }, retry);
  }

  #request(method: string, path: string, body: string | undefined, operation: string): Promise<AdminResponse> {
    const url = new URL(path, this.#options.adminUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#options.token !== undefined) headers.authorization = `Bearer ${this.#options.token.reveal()}`;
    const secure = url.protocol === 'https:';
    return new Promise<AdminResponse>((resolve, reject) => {
      const request = (secure ? https : http).request(
        url,
        {
          method,
          headers,
          timeout: this.#options.timeoutMs,
          ...(secure && this.#tls !== undefined ? this.#tls : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const result = { status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') };
            if (method === 'GET' && result.status !== 200) reject(adminError(operation, result));
            else resolve(result);
          });
          response.on('error', (error) => reject(adminNetworkError(operation, error)));
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.#options.timeoutMs} ms`)));
      request.on('error', (error) => reject(adminNetworkError(operation, error)));
      request.end(body);
    });
  }
}

function parseList(body: string): string[] {
  try {
    const list = JSON.parse(body) as unknown;
    return Array.isArray(list) ? list.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function isRetryableAdmin(error: unknown): boolean {
  return error instanceof BrokerError && error.retryable;
}

function adminError(operation: string, response: AdminResponse): BrokerError {
  const reason = /"reason"\s*:\s*"([^"]{0,200})"/.exec(response.body)?.[1] ?? response.body.slice(0, 200);
  const retryable = response.status >= 500 || response.status === 429;
  const hint =
    response.status === 401 || response.status === 403
      ? 'The admin API refused the token: grant the role admin rights on the namespace, or create topics yourself and set partitions=0.'
      : response.status === 404
        ? 'The tenant or namespace does not exist: create it (pulsar-admin namespaces create <tenant>/<namespace>).'
        : retryable
          ? 'The Pulsar admin API is unavailable for now; retry.'
          : 'The Pulsar admin API refused the request; see the cause.';
  return new BrokerError(
    'pulsar',
    operation,
    new Error(`admin API answered ${response.status}: ${reason}`),
    hint,
    retryable,
  );
}

function adminNetworkError(operation: string, error: Error): BrokerError {
  return new BrokerError(
    'pulsar',
    operation,
    error,
    'The Pulsar admin REST API (adminUrl) cannot be reached: check adminUrl (default: the broker host, port 8080), or retry.',
    true,
  );
}
