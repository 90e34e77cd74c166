import { DecodeError, EncodeError } from '../errors.js';
import { type Codec, describeValue, isWellFormed, loneSurrogateAt } from './codec.js';

/** The part of a protobufjs message `Type` polybus uses (`root.lookupType('pkg.Order')`). */
export interface ProtobufType {
  verify(message: unknown): string | null;
  fromObject(object: Record<string, unknown>): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Protocol Buffers via a protobufjs message type (protobufjs is an optional peer dependency:
 * load your .proto with it and pass the looked-up type). Values are plain objects; longs become
 * strings and enums their names, so they survive JSON and dead-letter round trips.
 *
 * A value that does not fit the type is an EncodeError naming the field ("status: enum value
 * expected, got \"NOPE\" (…)"), where protobufjs alone would convert it silently: unknown enum
 * names, numbers out of range or with a fraction, strings for numbers or booleans, fields the
 * type does not have, several members of one oneof, strings with a lone surrogate, and missing
 * proto2 required fields. Enums take names or numbers, 64-bit integers safe integers, decimal
 * strings or bigints, bytes a Uint8Array or a base64 string.
 */
export function protobuf<T extends Record<string, unknown>>(type: ProtobufType): Codec<T> {
  let check: ((value: unknown) => string | undefined) | undefined;
  return {
    name: 'protobuf',
    encode(value) {
      check ??= checker(type);
      const problem = check(value);
      if (problem !== undefined) throw new EncodeError('protobuf', new TypeError(problem));
      try {
        return type.encode(type.fromObject(value)).finish();
      } catch (cause) {
        throw new EncodeError('protobuf', cause);
      }
    },
    decode(bytes) {
      try {
        return type.toObject(type.decode(bytes), { longs: String, enums: String, defaults: true }) as T;
      } catch (cause) {
        throw new DecodeError('protobuf', cause);
      }
    },
  };
}

// protobufjs reflection (Type, Field, Enum, OneOf), as far as the checks below read it.
interface ReflectedType {
  readonly name: string;
  readonly fieldsArray: readonly ReflectedField[];
  readonly ctor?: unknown;
  setup?(): unknown;
}
interface ReflectedField {
  readonly name: string;
  readonly type: string;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly keyType?: string | undefined;
  readonly required: boolean;
  readonly partOf?: { readonly name: string; readonly fieldsArray?: readonly unknown[] } | null;
  readonly resolvedType?: ReflectedType | ReflectedEnum | null;
  resolve(): ReflectedField;
}
interface ReflectedEnum {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
  readonly _features?: { readonly enum_type?: string };
}

type Kind =
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float'
  | 'double'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'enum'
  | 'message';

const KINDS: Readonly<Record<string, Kind>> = {
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  uint32: 'uint32',
  fixed32: 'uint32',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint64: 'uint64',
  fixed64: 'uint64',
  float: 'float',
  double: 'double',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
};

interface FieldPlan {
  readonly name: string;
  readonly kind: Kind;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly keyKind: Kind | undefined;
  /** The oneof this field belongs to, if it has other members (not a proto3 `optional`). */
  readonly oneof: string | undefined;
  readonly enumType: ReflectedEnum | undefined;
  readonly enumNumbers: ReadonlySet<number> | undefined;
  readonly messageType: ReflectedType | undefined;
}

interface TypePlan {
  readonly name: string;
  readonly byName: Readonly<Record<string, FieldPlan>>;
  readonly required: readonly string[];
  readonly ctor: unknown;
}

const MAX_DEPTH = 100;
const FLOAT_MAX = 3.4028234663852886e38;
const DECIMAL = /^-?\d+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** A check of whole values against the type, or the old fromObject + verify for types without reflection. */
function checker(type: ProtobufType): (value: unknown) => string | undefined {
  const reflected = type as Partial<ReflectedType> & ProtobufType;
  if (!Array.isArray(reflected.fieldsArray)) {
    return (value) => {
      if (typeof value !== 'object' || value === null) return `object expected, got ${describeValue(value)}`;
      return type.verify(type.fromObject(value as Record<string, unknown>)) ?? undefined;
    };
  }
  // setup() resolves field types and editions features (which tell closed enums from open ones).
  reflected.setup?.();
  const plans = new WeakMap<ReflectedType, TypePlan>();
  const root = reflected as ReflectedType;
  return (value) => {
    const problem = messageProblem(root, value, 0, plans);
    if (problem === undefined) return undefined;
    // The root has no path: ".id: …" becomes "id: …", ": Order object expected…" loses its colon.
    return problem.slice(problem.startsWith('.') ? 1 : 2);
  };
}

function planOf(type: ReflectedType, plans: WeakMap<ReflectedType, TypePlan>): TypePlan {
  let plan = plans.get(type);
  if (plan !== undefined) return plan;
  const byName: Record<string, FieldPlan> = Object.create(null);
  const required: string[] = [];
  for (const unresolved of type.fieldsArray) {
    const field = unresolved.resolve();
    const resolved = field.resolvedType ?? undefined;
    const enumType = resolved !== undefined && 'values' in resolved ? resolved : undefined;
    const messageType = resolved !== undefined && 'fieldsArray' in resolved ? resolved : undefined;
    const kind: Kind = enumType ? 'enum' : messageType ? 'message' : (KINDS[field.type] ?? 'bytes');
    byName[field.name] = {
      name: field.name,
      kind,
      repeated: field.repeated,
      map: field.map,
      keyKind: field.map && field.keyType !== undefined ? KINDS[field.keyType] : undefined,
      oneof: field.partOf && (field.partOf.fieldsArray?.length ?? 0) > 1 ? field.partOf.name : undefined,
      enumType,
      enumNumbers: enumType?._features?.enum_type === 'CLOSED' ? new Set(Object.values(enumType.values)) : undefined,
      messageType,
    };
    if (field.required) required.push(field.name);
  }
  plan = { name: type.name, byName, required, ctor: type.ctor };
  plans.set(type, plan);
  return plan;
}

// The checks return what follows the path of the value they check: ": … expected, got …" for the
// value itself, ".field: …" or "[2]: …" for a part of it. Strings are only built for a problem.

function messageProblem(
  type: ReflectedType,
  value: unknown,
  depth: number,
  plans: WeakMap<ReflectedType, TypePlan>,
): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `: ${type.name} object expected, got ${describeValue(value)}`;
  }
  if (depth > MAX_DEPTH) return `: nested more than ${MAX_DEPTH} levels deep`;
  const plan = planOf(type, plans);
  const object = value as Record<string, unknown>;
  let oneofsSet: string[] | undefined;
  for (const name in object) {
    if (!Object.hasOwn(object, name)) continue;
    const field = plan.byName[name];
    if (field === undefined) {
      if (plan.ctor !== undefined && value instanceof (plan.ctor as new () => object)) continue;
      return `.${name}: not a field of ${plan.name}`;
    }
    const fieldValue = object[name];
    if (fieldValue === undefined || fieldValue === null) continue;
    if (field.oneof !== undefined) {
      oneofsSet ??= [];
      if (oneofsSet.includes(field.oneof)) return `.${name}: another member of oneof ${field.oneof} is set too`;
      oneofsSet.push(field.oneof);
    }
    const problem = fieldProblem(field, fieldValue, depth, plans);
    if (problem !== undefined) return `.${name}${problem}`;
  }
  for (const name of plan.required) {
    if (object[name] === undefined || object[name] === null) return `.${name}: required field missing`;
  }
  return undefined;
}

function fieldProblem(
  field: FieldPlan,
  value: unknown,
  depth: number,
  plans: WeakMap<ReflectedType, TypePlan>,
): string | undefined {
  if (field.map) {
    if (describeValue(value) !== 'object') return `: object (map) expected, got ${describeValue(value)}`;
    const entries = value as Record<string, unknown>;
    for (const key in entries) {
      if (!Object.hasOwn(entries, key)) continue;
      const keyProblem = field.keyKind === undefined ? undefined : mapKeyProblem(field.keyKind, key);
      const problem = keyProblem ? `: key ${keyProblem}` : singleProblem(field, entries[key], depth, plans);
      if (problem !== undefined) return `[${JSON.stringify(key)}]${problem}`;
    }
    return undefined;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) return `: array expected, got ${describeValue(value)}`;
    for (let i = 0; i < value.length; i++) {
      const problem = singleProblem(field, value[i], depth, plans);
      if (problem !== undefined) return `[${i}]${problem}`;
    }
    return undefined;
  }
  return singleProblem(field, value, depth, plans);
}

function singleProblem(
  field: FieldPlan,
  value: unknown,
  depth: number,
  plans: WeakMap<ReflectedType, TypePlan>,
): string | undefined {
  if (field.messageType !== undefined) return messageProblem(field.messageType, value, depth + 1, plans);
  const problem = field.enumType !== undefined ? enumProblem(field, value) : scalarProblem(field.kind, value);
  return problem === undefined ? undefined : `: ${problem}`;
}

function enumProblem(field: FieldPlan, value: unknown): string | undefined {
  const type = field.enumType as ReflectedEnum;
  if (typeof value === 'string' ? Object.hasOwn(type.values, value) : isInt32(value)) {
    if (typeof value === 'string' || field.enumNumbers === undefined || field.enumNumbers.has(value as number)) {
      return undefined;
    }
  }
  const names = Object.keys(type.values);
  const listed = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
  const got = typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : describeValue(value);
  return `enum value expected, got ${got} (${type.name}: ${listed})`;
}

/** Numbers as themselves (a fraction, NaN), anything else by its type. */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : describeValue(value);
}

function isInt32(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647;
}

function scalarProblem(kind: Kind, value: unknown): string | undefined {
  switch (kind) {
    case 'int32':
    case 'uint32': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return `integer expected, got ${shown(value)}`;
      const fits = kind === 'int32' ? isInt32(value) : value >= 0 && value <= 4294967295;
      return fits ? undefined : `${value} is out of the ${kind} range`;
    }
    case 'int64':
    case 'uint64':
      return longProblem(kind, value);
    case 'float':
    case 'double':
      if (typeof value !== 'number') return `number expected, got ${describeValue(value)}`;
      return kind === 'float' && Math.abs(value) > FLOAT_MAX && Number.isFinite(value)
        ? `${value} is out of the float range`
        : undefined;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `boolean expected, got ${describeValue(value)}`;
    case 'string':
      if (typeof value !== 'string') return `string expected, got ${describeValue(value)}`;
      return isWellFormed(value) ? undefined : `the string has ${loneSurrogateAt(value)}, which UTF-8 cannot represent`;
    default:
      if (value instanceof Uint8Array || (typeof value === 'string' && BASE64.test(value))) return undefined;
      return `bytes (Uint8Array or base64 string) expected, got ${typeof value === 'string' ? 'a string that is not base64' : describeValue(value)}`;
  }
}

function longProblem(kind: 'int64' | 'uint64', value: unknown): string | undefined {
  let big: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `integer expected, got ${shown(value)}`;
    if (!Number.isSafeInteger(value)) return `${value} is not a safe integer: pass it as a string or a bigint`;
    if (kind === 'int64' || value >= 0) return undefined;
    big = BigInt(value);
  } else if (typeof value === 'string') {
    if (!DECIMAL.test(value))
      return `integer (number, decimal string or bigint) expected, got ${JSON.stringify(value)}`;
    big = BigInt(value);
  } else if (typeof value === 'bigint') {
    big = value;
  } else {
    const long = value as { low?: unknown; high?: unknown } | null;
    if (typeof long === 'object' && long !== null && Number.isInteger(long.low) && Number.isInteger(long.high)) {
      return undefined;
    }
    return `integer (number, decimal string or bigint) expected, got ${describeValue(value)}`;
  }
  const fits = kind === 'int64' ? big >= INT64_MIN && big <= INT64_MAX : big >= 0n && big <= UINT64_MAX;
  return fits ? undefined : `${big} is out of the ${kind} range`;
}

function mapKeyProblem(kind: Kind, key: string): string | undefined {
  switch (kind) {
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'uint64': {
      if (!DECIMAL.test(key)) return `integer expected, got ${JSON.stringify(key)}`;
      return kind === 'int64' || kind === 'uint64' ? longProblem(kind, key) : scalarProblem(kind, Number(key));
    }
    case 'bool':
      return key === 'true' || key === 'false' ? undefined : `"true" or "false" expected, got ${JSON.stringify(key)}`;
    default:
      return isWellFormed(key) ? undefined : `the key has ${loneSurrogateAt(key)}`;
  }
}
