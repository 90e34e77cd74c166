import { ValidationError } from '../errors.js';
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
 */
export function validate(schema: StandardSchemaV1): Middleware {
  const check = schema['~standard'].validate;
  async function handle(ctx: ConsumeContext, next: Next<ConsumeContext>): Promise<void> {
    let result = check(ctx.message.value);
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
