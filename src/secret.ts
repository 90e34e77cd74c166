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

const SECRET_PARAMS =
  /^(password|pass|token|secret|secretAccessKey|accessKeyId|sessionToken|apiKey|key|credentials|sasl.*)$/i;

/** The URL with its password and secret-looking query parameters replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMS.test(name)) parsed.searchParams.set(name, REDACTED);
    }
    return parsed.toString().replaceAll('%2A%2A%2A', REDACTED);
  } catch {
    // Not parseable: drop anything between "//" and "@", where credentials live.
    return url.replace(/\/\/[^/@]*@/, `//${REDACTED}@`);
  }
}
