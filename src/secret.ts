import { inspect } from 'node:util';

const REDACTED = '***';

/**
 * A credential (password, token, access key). It prints as `***` everywhere (toString,
 * JSON.stringify, util.inspect, console.log); only {@link Secret.reveal} gives the value.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The credential itself, for handing to a broker client. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

const SECRET_PARAM =
  /([?&](?:password|pass|token|secret|secretAccessKey|accessKeyId|sessionToken|apiKey|key|credentials|saslPassword)=)[^&#]*/gi;
const USER_INFO_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/@:?#]*:)[^/@?#]*@/i;

/**
 * The URL with its password and secret-looking query parameters replaced by `***`. Works on
 * text, not a parsed URL, so it also covers what URL parsers reject (Kafka host lists, typos).
 */
export function redactUrl(url: string): string {
  return url.replace(USER_INFO_PASSWORD, `$1${REDACTED}@`).replace(SECRET_PARAM, `$1${REDACTED}`);
}
