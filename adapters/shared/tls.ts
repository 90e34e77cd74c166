/**
 * TLS options for brokers that need a private CA or client certificates, as every adapter takes
 * them: from a config object only (never a URL), secrets wrapped so they never print.
 */
import { type BrokerName, InvalidConfigError } from '../../src/errors.js';
import { Secret } from '../../src/secret.js';

/** TLS settings a user passes in a config object. */
export interface TlsOptionsInput {
  /** CA certificate(s) in PEM to trust instead of Node's default list. */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Client certificate chain in PEM (mutual TLS). */
  cert?: string | Uint8Array;
  /** Client private key in PEM (mutual TLS). Kept as a {@link Secret}: never printed. */
  key?: string | Uint8Array | Secret;
  /** Passphrase of an encrypted private key. Kept as a {@link Secret}. */
  passphrase?: string | Secret;
  /** Server name for SNI and certificate checks, when it differs from the broker host. */
  servername?: string;
  /** Reject brokers whose certificate does not verify (default true). Turn off only for local tests. */
  rejectUnauthorized?: boolean;
}

/** {@link TlsOptionsInput} after validation: lists normalised, secrets wrapped. */
export interface TlsOptions {
  ca?: Array<string | Uint8Array>;
  cert?: string | Uint8Array;
  key?: Secret;
  passphrase?: Secret;
  servername?: string;
  rejectUnauthorized: boolean;
}

/** What Node's `tls.connect` takes from {@link TlsOptions} (secrets revealed: hand it to the client only). */
export interface NodeTlsOptions {
  ca?: Array<string | Uint8Array>;
  cert?: string | Uint8Array;
  key?: string;
  passphrase?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

const KNOWN = new Set(['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized']);

/**
 * Checks TLS options given in a config object.
 * @param field - the option's name in the broker's config (`tls`, `tlsOptions`), for messages.
 * @throws {InvalidConfigError} naming the bad field; a key or passphrase is never quoted.
 */
export function parseTlsOptions(broker: BrokerName, field: string, value: unknown): TlsOptions {
  const fail = (problem: string): InvalidConfigError =>
    new InvalidConfigError(problem, {
      broker,
      operation: 'configure',
      hint: `Example: ${field}: { ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client.key') }.`,
    });
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw fail(`${field} must be an object { ca, cert, key, passphrase, servername, rejectUnauthorized }`);
  }
  const input = value as Record<string, unknown>;
  for (const name of Object.keys(input)) {
    if (!KNOWN.has(name)) {
      const shown = /^[a-z][\w-]{0,31}$/i.test(name) ? ` "${name}"` : '';
      throw fail(`unknown ${field} option${shown} (known: ${[...KNOWN].join(', ')})`);
    }
  }
  const tls: TlsOptions = { rejectUnauthorized: true };
  if (input.ca !== undefined) {
    const list = Array.isArray(input.ca) ? input.ca : [input.ca];
    if (list.length === 0 || !list.every(isPem))
      throw fail(`${field}.ca must be a PEM string or Buffer, or a list of them`);
    tls.ca = [...(list as Array<string | Uint8Array>)];
  }
  if (input.cert !== undefined) {
    if (!isPem(input.cert)) throw fail(`${field}.cert must be a PEM string or Buffer`);
    tls.cert = input.cert;
  }
  if (input.key !== undefined) tls.key = secretOf(input.key, `${field}.key`, fail);
  if (input.passphrase !== undefined) tls.passphrase = secretOf(input.passphrase, `${field}.passphrase`, fail);
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw fail(`${field}.cert and ${field}.key go together (mutual TLS needs both)`);
  }
  if (input.servername !== undefined) {
    if (typeof input.servername !== 'string' || input.servername.length === 0) {
      throw fail(`${field}.servername must be a non-empty host name`);
    }
    tls.servername = input.servername;
  }
  if (input.rejectUnauthorized !== undefined) {
    if (typeof input.rejectUnauthorized !== 'boolean') throw fail(`${field}.rejectUnauthorized must be true or false`);
    tls.rejectUnauthorized = input.rejectUnauthorized;
  }
  return tls;
}

/** The options for Node's TLS socket, secrets revealed. */
export function nodeTlsOptions(tls: TlsOptions): NodeTlsOptions {
  const options: NodeTlsOptions = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.ca !== undefined) options.ca = tls.ca;
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key.reveal();
  if (tls.passphrase !== undefined) options.passphrase = tls.passphrase.reveal();
  if (tls.servername !== undefined) options.servername = tls.servername;
  return options;
}

function isPem(value: unknown): value is string | Uint8Array {
  return (typeof value === 'string' && value.length > 0) || (value instanceof Uint8Array && value.byteLength > 0);
}

function secretOf(value: unknown, name: string, fail: (problem: string) => InvalidConfigError): Secret {
  if (value instanceof Secret) return value;
  if (typeof value === 'string' && value.length > 0) return new Secret(value);
  if (value instanceof Uint8Array && value.byteLength > 0) return new Secret(Buffer.from(value).toString('utf8'));
  // The value itself is never quoted: it is a credential.
  throw fail(`${name} must be a non-empty PEM string, Buffer or Secret`);
}
