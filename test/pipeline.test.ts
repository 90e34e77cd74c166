import { describe, expect, it } from 'vitest';
import { deadLetter, InvalidConfigError, retry, tracing, validate } from '../src/index.js';
import { type ConsumeContext, composeConsume, type Middleware, toMiddleware } from '../src/pipeline.js';

function recorder(name: string, step: NonNullable<Middleware['consume']>['step'], log: string[]): Middleware {
  return {
    name,
    consume: {
      step,
      async handle(ctx, next) {
        log.push(`>${name}`);
        await next(ctx);
        log.push(`<${name}`);
      },
    },
  };
}

describe('middleware composition', () => {
  it('orders consume middleware by step whatever order they are listed in', async () => {
    const log: string[] = [];
    const listed = [
      recorder('custom', 'custom', log),
      recorder('retry', 'retry', log),
      recorder('validate', 'validate', log),
      recorder('decode', 'decode', log),
      recorder('dlq', 'deadLetter', log),
      recorder('trace', 'trace', log),
    ];
    const chain = composeConsume(listed, async () => {
      log.push('handler');
    });
    await chain({} as ConsumeContext);
    expect(log).toEqual([
      '>trace',
      '>dlq',
      '>decode',
      '>validate',
      '>retry',
      '>custom',
      'handler',
      '<custom',
      '<retry',
      '<validate',
      '<decode',
      '<dlq',
      '<trace',
    ]);
  });

  it('gives the built-ins their fixed steps', () => {
    const schema = { '~standard': { version: 1 as const, vendor: 't', validate: (value: unknown) => ({ value }) } };
    expect(retry().consume?.step).toBe('retry');
    expect(deadLetter('x').consume?.step).toBe('deadLetter');
    expect(validate(schema).consume?.step).toBe('validate');
    expect(tracing().consume?.step).toBe('trace');
    expect(tracing().publish?.step).toBe('trace');
  });

  it('keeps list order within a step and sorts by priority', async () => {
    const log: string[] = [];
    const a = recorder('a', 'custom', log);
    const b = recorder('b', 'custom', log);
    const first: Middleware = {
      name: 'first',
      consume: {
        step: 'custom',
        priority: -1,
        handle: (ctx, next) => {
          log.push('first');
          return next(ctx);
        },
      },
    };
    await composeConsume([a, b, first], async () => {})({} as ConsumeContext);
    expect(log.filter((entry) => !entry.startsWith('<'))).toEqual(['first', '>a', '>b']);
  });

  it('rejects a middleware listed twice and things that are not middleware', () => {
    expect(() => composeConsume([retry(), retry()], async () => {})).toThrow(InvalidConfigError);
    expect(() => toMiddleware({} as Middleware, 2)).toThrow(/use\[2\] is not a middleware/);
  });

  it('turns a bare function into a named custom middleware', () => {
    async function audit(_ctx: ConsumeContext, next: (ctx: ConsumeContext) => Promise<void>) {
      await next(_ctx);
    }
    const middleware = toMiddleware(audit, 0);
    expect(middleware.name).toBe('audit');
    expect(middleware.consume?.step).toBe('custom');
  });
});

describe('middleware types', () => {
  it('accepts a stage written for one value type, with no any in the public types', async () => {
    interface Order {
      id: number;
    }
    const seen: number[] = [];
    const orderIds: Middleware = {
      name: 'order-ids',
      consume: {
        step: 'custom',
        async handle(ctx: ConsumeContext<Order>, next) {
          seen.push(ctx.message.value.id);
          await next(ctx);
        },
      },
    };
    const chain = composeConsume([orderIds], async () => {});
    await chain({ message: { value: { id: 7 } } } as unknown as ConsumeContext);
    expect(seen).toEqual([7]);
  });
});
