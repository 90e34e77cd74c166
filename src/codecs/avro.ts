import { DecodeError, EncodeError } from '../errors.js';
import { optionalRequire } from '../optional-require.js';
import { asBuffer, type Codec, describeValue, isWellFormed, loneSurrogateAt } from './codec.js';

/** The part of an avsc `Type` polybus uses. */
export interface AvroType<T> {
  toBuffer(value: T): Buffer;
  fromBuffer(buffer: Buffer): T;
}

/** What avsc reports about the type a failed check stopped at. */
interface AvroTypeInfo {
  readonly typeName: string;
  readonly name?: string | undefined;
  readonly branchName?: string | undefined;
  readonly fields?: ReadonlyArray<{ readonly name: string }>;
  readonly types?: ReadonlyArray<AvroTypeInfo>;
}

/** avsc's `Type.isValid`, present on every avsc type; used when there. */
interface AvroCheck {
  isValid(
    value: unknown,
    options: { noUndeclaredFields: boolean; errorHook?: (path: string[], value: unknown, type: AvroTypeInfo) => void },
  ): boolean;
}

interface Avsc {
  Type: { forSchema(schema: unknown): AvroType<unknown> };
}

// avsc writes a lone surrogate in a string of up to 64 bytes as ED A0..BF xx (not valid UTF-8),
// in a longer one as U+FFFD (EF BF BD). A payload with neither byte sequence cannot hide one.
const SURROGATE_LEAD = 0xed;
const REPLACEMENT_CHARACTER = Buffer.from([0xef, 0xbf, 0xbd]);

/**
 * Apache Avro binary encoding via `avsc` (an optional peer dependency).
 *
 * A value that does not fit the schema is an EncodeError naming the field, including fields
 * the schema does not declare (avsc alone would drop them) and strings with a lone surrogate
 * (avsc alone would write invalid UTF-8 or U+FFFD). Bytes that are not a value of the schema are a DecodeError.
 * @param schema an Avro schema (object or JSON string) or an avsc `Type`.
 */
export function avro<T>(schema: AvroType<T> | object | string): Codec<T> {
  const type: AvroType<T> & Partial<AvroCheck> =
    typeof schema === 'object' && schema !== null && 'toBuffer' in schema && 'fromBuffer' in schema
      ? (schema as AvroType<T>)
      : (optionalRequire<Avsc>('avsc', 'avro()').Type.forSchema(
          typeof schema === 'string' ? JSON.parse(schema) : schema,
        ) as AvroType<T>);
  const checkOptions = { noUndeclaredFields: true };
  return {
    name: 'avro',
    encode(value) {
      if (type.isValid !== undefined && !type.isValid(value, checkOptions)) {
        throw new EncodeError('avro', new TypeError(avroProblem(type, value)));
      }
      let buffer: Buffer;
      try {
        buffer = type.toBuffer(value);
      } catch (cause) {
        throw new EncodeError('avro', cause);
      }
      if (buffer.indexOf(SURROGATE_LEAD) !== -1 || buffer.indexOf(REPLACEMENT_CHARACTER) !== -1) {
        const problem = illFormedString(value, '', 0);
        if (problem !== undefined) throw new EncodeError('avro', new TypeError(problem));
      }
      return buffer;
    },
    decode(bytes) {
      try {
        return type.fromBuffer(asBuffer(bytes));
      } catch (cause) {
        throw new DecodeError('avro', cause);
      }
    },
  };
}

/** The first problem avsc finds, as "path: expected X, got Y". */
function avroProblem(type: Partial<AvroCheck>, value: unknown): string {
  let problem: string | undefined;
  type.isValid?.(value, {
    noUndeclaredFields: true,
    errorHook(path, found, at) {
      problem ??= describeProblem(path, found, at);
    },
  });
  return problem ?? 'the value does not match the Avro schema';
}

function describeProblem(path: readonly string[], found: unknown, type: AvroTypeInfo): string {
  const where = path.join('.');
  if (type.typeName === 'record' && typeof found === 'object' && found !== null && !Array.isArray(found)) {
    const declared = new Set(type.fields?.map((field) => field.name));
    const extra = Object.keys(found).find((key) => !declared.has(key));
    if (extra !== undefined) return `${where ? `${where}.` : ''}${extra}: not a field of ${type.name ?? 'the record'}`;
  }
  const expected =
    type.types?.map((branch) => branch.branchName ?? branch.typeName).join(' | ') ??
    type.name ??
    type.branchName ??
    type.typeName;
  return `${where || 'value'}: ${expected} expected, got ${describeValue(found)}`;
}

/** Path and position of the first string with a lone surrogate in a value, if any. */
function illFormedString(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'string') {
    return isWellFormed(value) ? undefined : `${path || 'value'}: the string has ${loneSurrogateAt(value)}`;
  }
  if (typeof value !== 'object' || value === null || depth > 64 || ArrayBuffer.isView(value)) return undefined;
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!isWellFormed(key)) return `${at}: the key has ${loneSurrogateAt(key)}`;
    const problem = illFormedString((value as Record<string, unknown>)[key], at, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
