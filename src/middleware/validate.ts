import { describeValue } from '../codecs/codec.js';
import { InvalidConfigError, ValidationError } from '../errors.js';
import type { ConsumeContext, Middleware, Next } from '../pipeline.js';

/** The Standard Schema v1 interface (https://standardschema.dev), which zod, valibot, arktype and others implement. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** Result of a Standard Schema validation. */
export type StandardSchemaV1Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

/**
 * Validates (and, for schemas that transform, replaces) each decoded value with any Standard
 * Schema. Invalid messages are not retried; with deadLetter() they go to the dead-letter topic.
 * @throws InvalidConfigError when `schema` is not a Standard Schema v1.
 */
export function validate(schema: StandardSchemaV1): Middleware {
  const standard = standardOf(schema);
  async function handle(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    // Called as a method: the spec does not promise validate works detached from its object.
    let result = standard.validate(ctx.message.value);
    if (result instanceof Promise) result = await result;
    if (result.issues) {
      throw new ValidationError(
        result.issues.map((issue) => ({
          message: issue.message,
          path: issue.path?.map((segment) => (typeof segment === 'object' ? segment.key : segment)),
        })),
      );
    }
    ctx.message.value = result.value;
    return next(ctx);
  }
  return { name: 'validate', consume: { step: 'validate', handle } };
}

const NOT_A_SCHEMA = 'validate() needs a Standard Schema (zod, valibot, arktype…): an object with a ~standard property';

/** The `~standard` part of a schema, checked once here rather than failing on every message. */
function standardOf(schema: unknown): StandardSchemaV1['~standard'] {
  // arktype's schemas are functions.
  const standard =
    (typeof schema === 'object' && schema !== null) || typeof schema === 'function'
      ? (schema as Partial<StandardSchemaV1>)['~standard']
      : undefined;
  if (typeof standard !== 'object' || standard === null || typeof standard.validate !== 'function') {
    throw new InvalidConfigError(
      standard === undefined
        ? `${NOT_A_SCHEMA}, got ${describeValue(schema)}`
        : `${NOT_A_SCHEMA} with a validate function`,
      {
        operation: 'configure middleware',
        hint: 'Pass the schema itself, e.g. validate(z.object({ id: z.number() })); zod ≥ 3.24, valibot ≥ 1.0 and arktype ≥ 2.0 implement Standard Schema.',
      },
    );
  }
  if (standard.version !== 1) {
    throw new InvalidConfigError(
      `validate() supports Standard Schema version 1, got version ${String(standard.version)}`,
      {
        operation: 'configure middleware',
        hint: 'Use a schema library release that implements Standard Schema v1.',
      },
    );
  }
  return standard;
}
