import { describe, expect, it } from 'vitest';
import {
  type ConsumeContext,
  InvalidConfigError,
  type StandardSchemaV1,
  type StandardSchemaV1Result,
  ValidationError,
  validate,
} from '../src/index.js';

/** Runs a validate() middleware on one value; resolves with the value the next stage sees. */
async function run(schema: StandardSchemaV1, value: unknown): Promise<unknown> {
  const handle = validate(schema).consume?.handle;
  if (handle === undefined) throw new Error('validate() has no consume stage');
  const ctx = { message: { value } } as unknown as ConsumeContext;
  let seen: unknown;
  await handle(ctx, async (next) => {
    seen = next.message.value;
  });
  return seen;
}

describe('validate()', () => {
  it.each([
    ['an empty object', {}, /got object/],
    ['null', null, /got null/],
    ['a string', 'z.object()', /got string/],
    ['a ~standard without validate', { '~standard': { version: 1, vendor: 'x' } }, /with a validate function/],
  ])('refuses %s at construction', (_, schema, detail) => {
    const error = (() => {
      try {
        validate(schema as unknown as StandardSchemaV1);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidConfigError);
    const message = (error as InvalidConfigError).message;
    expect(message).toContain(
      'validate() needs a Standard Schema (zod, valibot, arktype…): an object with a ~standard property',
    );
    expect(message).toMatch(detail);
  });

  it('refuses a Standard Schema version it does not implement', () => {
    const future = { '~standard': { version: 2, vendor: 'x', validate: () => ({ value: 1 }) } };
    expect(() => validate(future as unknown as StandardSchemaV1)).toThrow(/Standard Schema version 1, got version 2/);
  });

  it('calls validate on its ~standard object, so schemas that use `this` work', async () => {
    class Positive {
      readonly vendor = 'test';
      readonly version = 1 as const;
      readonly limit = 0;
      validate(value: unknown): StandardSchemaV1Result<number> {
        return typeof value === 'number' && value > this.limit
          ? { value: value * 2 }
          : { issues: [{ message: 'must be positive', path: [{ key: 'n' }] }] };
      }
    }
    const schema: StandardSchemaV1<number> = { '~standard': new Positive() };
    await expect(run(schema, 21)).resolves.toBe(42);
    await expect(run(schema, -1)).rejects.toBeInstanceOf(ValidationError);
    await expect(run(schema, -1)).rejects.toThrow(/n: must be positive/);
  });

  it('accepts a schema that is a function (arktype)', async () => {
    const type = Object.assign((value: unknown) => value, {
      '~standard': { version: 1 as const, vendor: 'arktype', validate: (value: unknown) => ({ value }) },
    });
    await expect(run(type, 'ok')).resolves.toBe('ok');
  });
});
