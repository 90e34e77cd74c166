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
