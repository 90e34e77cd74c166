/**
 * What every adapter's `config.ts` does alike to read its options: collecting them from a URL
 * query (strings) or a config object (typed values), reading integers, booleans and choices from
 * either, and reporting mistakes as `InvalidUrlError` or `InvalidConfigError` without quoting
 * anything that may be a credential. Each adapter describes its options in an {@link OptionsSpec}.
 */
import { type BrokerName, InvalidConfigError, InvalidUrlError, type PolybusErrorOptions } from '../../src/errors.js';

/** Where options come from: a URL's query, or a config object. */
export type OptionSource = 'url' | 'config';

/**
 * What every `parseXOptions` takes: a URL's query (URLSearchParams, or the name → value map
 * src/url.ts makes), or a config object.
 */
export type OptionParams = URLSearchParams | ReadonlyMap<string, string> | Readonly<Record<string, unknown>>;

/** How {@link quote} shows a string value in an error message. */
export interface QuoteRule {
  /** Longest string shown whole. */
  readonly maxLength: number;
  /** A longer string is cut to `maxLength` characters and `…` (`cut`), or not shown at all (`hide`). */
  readonly longer: 'cut' | 'hide';
  /** Quote strings holding `@` too, which are otherwise not shown (they may be `user:password@host`). */
  readonly showAt?: boolean;
}

/** One adapter's options, as {@link collectOptions} and the value readers need them. */
export interface OptionsSpec {
  readonly broker: BrokerName;
  /** The broker's name in "the … options must be an object", e.g. `Pub/Sub`. */
  readonly title: string;
  /** Hint when the options are not an object, e.g. `Pass { partitions: 3, … } or a kafka:// URL`. */
  readonly objectHint: string;
  /** Options a URL query may carry (a config object may carry them too). */
  readonly urlParams: ReadonlySet<string>;
  /** URL parameters the base URL parser (src/url.ts) handles: skipped here. */
  readonly baseUrlParams: ReadonlySet<string>;
  /** Options only a config object can carry (objects, functions, credentials). */
  readonly objectOnly?: ReadonlySet<string>;
  /**
   * Keys of the base config, skipped in a config object so that a whole config may be passed.
   * The unknown-option hint lists them in this order, except `broker`.
   */
  readonly baseConfigKeys: ReadonlySet<string>;
  /** Examples for hints by option name, e.g. `partitions: 'partitions=6'`; readers have a fallback. */
  readonly examples?: Readonly<Record<string, string>>;
  /** How values are quoted (default: 40 characters, longer ones cut, none with `@`). */
  readonly quoteRule?: QuoteRule;
  /** How an unknown option's name is shown; `''` leaves it out (default: {@link showName}). */
  readonly showName?: (name: string, source: OptionSource) => string;
  /** Hint for an object-only option found in a URL (default: pass it with `parseBrokerUrl(url)`). */
  readonly objectOnlyHint?: (name: string) => string;
  /** The problem of a URL parameter given `count` times (default: `<name> is given <count> times`). */
  readonly repeated?: (name: string, count: number) => string;
}

/** Whom an error is about: the adapter, and whether its options came from a URL or an object. */
export interface OptionContext {
  readonly spec: OptionsSpec;
  readonly source: OptionSource;
}

/** The options given, ready for an adapter to read one by one. */
export interface CollectedOptions extends OptionContext {
  /** Value by option name, in the order given; base keys and `undefined` values left out. */
  readonly entries: ReadonlyMap<string, unknown>;
}

const DEFAULT_QUOTE_RULE: QuoteRule = { maxLength: 40, longer: 'cut' };

/**
 * Collects the options from a URL query or a config object: skips the base parameters or keys,
 * refuses unknown ones, object-only options in a URL and a URL parameter given twice.
 *
 * @throws {InvalidUrlError} for a URL query, {@link InvalidConfigError} for an object.
 */
export function collectOptions(spec: OptionsSpec, params: OptionParams): CollectedOptions {
  if (isQuery(params)) {
    const context: OptionContext = { spec, source: 'url' };
    return { ...context, entries: queryEntries(context, params) };
  }
  const context: OptionContext = { spec, source: 'config' };
  return { ...context, entries: objectEntries(context, params) };
}

function isQuery(params: OptionParams): params is URLSearchParams | ReadonlyMap<string, string> {
  return params instanceof URLSearchParams || params instanceof Map;
}

function queryEntries(
  context: OptionContext,
  params: URLSearchParams | ReadonlyMap<string, string>,
): Map<string, unknown> {
  const { spec } = context;
  const entries = new Map<string, unknown>();
  for (const [name, values] of valuesByName(params)) {
    if (spec.baseUrlParams.has(name)) continue;
    if (!spec.urlParams.has(name)) throw unknownParam(context, name);
    if (values.length > 1) {
      const problem = spec.repeated?.(name, values.length) ?? `${name} is given ${values.length} times`;
      throw fail(context, problem, 'Give each option once.');
    }
    entries.set(name, values[0]);
  }
  return entries;
}

/** A map holds each name once; URLSearchParams may repeat one. */
function valuesByName(params: URLSearchParams | ReadonlyMap<string, string>): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const [name, value] of params) values.set(name, [...(values.get(name) ?? []), value]);
  return values;
}

function unknownParam(context: OptionContext, name: string): InvalidUrlError | InvalidConfigError {
  const { spec } = context;
  const hint = spec.objectOnly?.has(name)
    ? (spec.objectOnlyHint ?? inConfigObject)(name)
    : `Known parameters: ${[...spec.baseUrlParams, ...spec.urlParams].join(', ')}`;
  return fail(context, unknownProblem(context, 'unknown query parameter', name), hint);
}

function inConfigObject(name: string): string {
  return `${name} cannot go in a URL; pass it in the config object: connect({ ...parseBrokerUrl(url), ${name} })`;
}

function objectEntries(context: OptionContext, params: Readonly<Record<string, unknown>>): Map<string, unknown> {
  const { spec } = context;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw fail(context, `the ${spec.title} options must be an object`, spec.objectHint);
  }
  const objectOnly = spec.objectOnly ?? new Set<string>();
  const entries = new Map<string, unknown>();
  for (const [name, value] of Object.entries(params)) {
    if (spec.baseConfigKeys.has(name) || value === undefined) continue;
    if (!spec.urlParams.has(name) && !objectOnly.has(name)) {
      const base = [...spec.baseConfigKeys].filter((key) => key !== 'broker');
      throw fail(
        context,
        unknownProblem(context, 'unknown option', name),
        `Known options: ${[...spec.urlParams, ...objectOnly].join(', ')} (plus ${base.join(', ')})`,
      );
    }
    entries.set(name, value);
  }
  return entries;
}

function unknownProblem(context: OptionContext, problem: string, name: string): string {
  const shown = context.spec.showName?.(name, context.source) ?? showName(name);
  return shown === '' ? problem : `${problem} ${shown}`;
}

/** Whether a name is short and plain enough to quote: a longer or odd one may be a pasted secret. */
export function isShowableName(name: string, maxLength = 32): boolean {
  return name.length <= maxLength && /^[a-z][\w.-]*$/i.test(name);
}

/** A name in quotes, or `(name not shown)` unless {@link isShowableName}. */
export function showName(name: string, maxLength = 32): string {
  return isShowableName(name, maxLength) ? `"${name}"` : '(name not shown)';
}

/**
 * An integer from `min` to `max` (or one of `also`), given as a number or a string of digits.
 *
 * @param exampleName the option whose example the hint shows, when it is not `name`.
 * @throws {InvalidUrlError} or {@link InvalidConfigError} (by `context.source`) for anything else.
 */
export function integer(
  context: OptionContext,
  name: string,
  value: unknown,
  min: number,
  max: number,
  also: readonly number[] = [],
  exampleName = name,
): number {
  // A minus sign is read only where negatives are allowed, so that "-0" is no 0 for the others.
  const digits = min < 0 || also.some((allowed) => allowed < 0) ? /^-?\d+$/ : /^\d+$/;
  const number =
    typeof value === 'number' ? value : typeof value === 'string' && digits.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(number) && ((number >= min && number <= max) || also.includes(number))) return number;
  const besides = also.length > 0 ? ` or ${also.join(', ')}` : '';
  throw fail(
    context,
    `${name} must be an integer from ${min} to ${max}${besides}, not ${quote(context, value)}`,
    exampleOf(context, exampleName, `${exampleName}=${min}`),
  );
}

/**
 * A boolean: `true`/`false`, or the strings `true`, `false`, `1`, `0`.
 * @throws {InvalidUrlError} or {@link InvalidConfigError} (by `context.source`) for anything else.
 */
export function boolean(context: OptionContext, name: string, value: unknown): boolean {
  if (value === true || value === 'true' || value === '1') return true;
  if (value === false || value === 'false' || value === '0') return false;
  throw fail(
    context,
    `${name} must be true or false, not ${quote(context, value)}`,
    exampleOf(context, name, `${name}=false`),
  );
}

/**
 * One of `values`, spelt exactly.
 *
 * @param hint the hint of the error (default: the option's example, or its first value).
 * @throws {InvalidUrlError} or {@link InvalidConfigError} (by `context.source`) for anything else.
 */
export function oneOf<T extends string>(
  context: OptionContext,
  name: string,
  value: unknown,
  values: readonly T[],
  hint = exampleOf(context, name, `${name}=${values[0]}`),
): T {
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
  const choices = values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(', ')}`;
  throw fail(context, `${name} must be ${choices}, not ${quote(context, value)}`, hint);
}

/** `Example: <the option's example>.`, or the fallback (e.g. `name=value`) when the spec has none. */
export function exampleOf(context: OptionContext, name: string, fallback = name): string {
  return `Example: ${context.spec.examples?.[name] ?? fallback}.`;
}

/**
 * A value as an error message shows it: strings in quotes (unless they may hold a credential, by
 * the spec's {@link QuoteRule}), numbers and booleans as they are, anything else by its type only.
 */
export function quote(context: OptionContext, value: unknown): string {
  if (typeof value === 'string') return quoteString(context.spec.quoteRule ?? DEFAULT_QUOTE_RULE, value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function quoteString(rule: QuoteRule, value: string): string {
  const hidden = '(value not shown)';
  if (value.includes('@') && !rule.showAt) return hidden;
  if (value.length <= rule.maxLength) return `"${value}"`;
  return rule.longer === 'cut' ? `"${value.slice(0, rule.maxLength)}…"` : hidden;
}

/**
 * The error for a mistake in the options: `InvalidUrlError` (operation `parse URL`) for a URL
 * query, `InvalidConfigError` (operation `configure`) for a config object.
 *
 * @param hint what to do instead; a final `.` is added when missing.
 */
export function fail(context: OptionContext, problem: string, hint: string): InvalidUrlError | InvalidConfigError {
  const options: PolybusErrorOptions = {
    broker: context.spec.broker,
    operation: context.source === 'url' ? 'parse URL' : 'configure',
    hint: hint.endsWith('.') ? hint : `${hint}.`,
  };
  return context.source === 'url' ? new InvalidUrlError(problem, options) : new InvalidConfigError(problem, options);
}
