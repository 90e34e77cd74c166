import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidUrlError, type PolybusError } from '../../src/errors.js';
import {
  boolean,
  collectOptions,
  exampleOf,
  fail,
  integer,
  isShowableName,
  type OptionContext,
  type OptionsSpec,
  oneOf,
  quote,
  showName,
} from './options.js';

const SPEC: OptionsSpec = {
  broker: 'kafka',
  title: 'Test',
  objectHint: 'Pass { size: 1 }',
  urlParams: new Set(['size', 'fast']),
  baseUrlParams: new Set(['clientId']),
  objectOnly: new Set(['onEvent']),
  baseConfigKeys: new Set(['broker', 'brokers', 'clientId']),
  examples: { size: 'size=6' },
};

const URL_CONTEXT: OptionContext = { spec: SPEC, source: 'url' };
const CONFIG_CONTEXT: OptionContext = { spec: SPEC, source: 'config' };

function thrown(run: () => unknown): PolybusError {
  try {
    run();
  } catch (error) {
    return error as PolybusError;
  }
  throw new Error('nothing thrown');
}

describe('collectOptions', () => {
  it('reads URLSearchParams and maps as a URL query, skipping the base parameters', () => {
    const fromSearch = collectOptions(SPEC, new URLSearchParams('clientId=a&size=3&fast=true'));
    expect(fromSearch.source).toBe('url');
    expect([...fromSearch.entries]).toEqual([
      ['size', '3'],
      ['fast', 'true'],
    ]);
    const fromMap = collectOptions(SPEC, new Map([['size', '3']]));
    expect(fromMap.source).toBe('url');
    expect([...fromMap.entries]).toEqual([['size', '3']]);
  });

  it('reads a config object, skipping the base keys and undefined values', () => {
    const onEvent = () => {};
    const collected = collectOptions(SPEC, { broker: 'kafka', brokers: ['h:1'], size: 3, fast: undefined, onEvent });
    expect(collected.source).toBe('config');
    expect(collected.spec).toBe(SPEC);
    expect([...collected.entries]).toEqual([
      ['size', 3],
      ['onEvent', onEvent],
    ]);
  });

  it('refuses an unknown URL parameter, naming the known ones', () => {
    const error = thrown(() => collectOptions(SPEC, new URLSearchParams('sise=3')));
    expect(error).toBeInstanceOf(InvalidUrlError);
    expect(error.message).toContain('unknown query parameter "sise"');
    expect(error.hint).toBe('Known parameters: clientId, size, fast.');
    expect(error.operation).toBe('parse URL');
  });

  it('does not quote a URL parameter name that may be a pasted secret', () => {
    const name = `ya29.${'x'.repeat(40)}`;
    const error = thrown(() => collectOptions(SPEC, new Map([[name, '1']])));
    expect(error.message).toContain('unknown query parameter (name not shown)');
    expect(error.message).not.toContain(name);
  });

  it('says where an object-only option goes, in the adapter words when it has them', () => {
    expect(thrown(() => collectOptions(SPEC, new Map([['onEvent', 'x']]))).hint).toBe(
      'onEvent cannot go in a URL; pass it in the config object: connect({ ...parseBrokerUrl(url), onEvent }).',
    );
    const own: OptionsSpec = { ...SPEC, objectOnlyHint: (name) => `give ${name} in code` };
    expect(thrown(() => collectOptions(own, new Map([['onEvent', 'x']]))).hint).toBe('give onEvent in code.');
  });

  it('refuses a URL parameter given twice, but not a repeated base parameter', () => {
    const error = thrown(() => collectOptions(SPEC, new URLSearchParams('size=1&size=2&size=3')));
    expect(error).toBeInstanceOf(InvalidUrlError);
    expect(error.message).toContain('size is given 3 times');
    expect(error.hint).toBe('Give each option once.');
    const own: OptionsSpec = { ...SPEC, repeated: (name) => `${name} twice` };
    expect(thrown(() => collectOptions(own, new URLSearchParams('size=1&size=2'))).message).toContain('size twice');
    expect([...collectOptions(SPEC, new URLSearchParams('clientId=a&clientId=b')).entries]).toEqual([]);
  });

  it('refuses an unknown option of a config object, naming the known ones and the base keys', () => {
    const error = thrown(() => collectOptions(SPEC, { sise: 3 }));
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.message).toContain('unknown option "sise"');
    expect(error.hint).toBe('Known options: size, fast, onEvent (plus brokers, clientId).');
    expect(error.operation).toBe('configure');
  });

  it('shows unknown names the way the spec says', () => {
    const own: OptionsSpec = { ...SPEC, showName: (name, source) => (source === 'config' ? `<${name}>` : '') };
    expect(thrown(() => collectOptions(own, { sise: 1 })).message).toContain('unknown option <sise>.');
    expect(thrown(() => collectOptions(own, new Map([['sise', '1']]))).message).toContain('unknown query parameter.');
  });

  it.each([null, [], 'size=3', 42])('refuses %j as the options', (params) => {
    const error = thrown(() => collectOptions(SPEC, params as unknown as Record<string, unknown>));
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.message).toContain('the Test options must be an object');
    expect(error.hint).toBe('Pass { size: 1 }.');
  });
});

describe('integer', () => {
  it('takes numbers and strings of digits within the range', () => {
    expect(integer(URL_CONTEXT, 'size', '12', 1, 100)).toBe(12);
    expect(integer(CONFIG_CONTEXT, 'size', 100, 1, 100)).toBe(100);
    expect(integer(URL_CONTEXT, 'size', '-1', 1, 100, [-1])).toBe(-1);
    expect(integer(URL_CONTEXT, 'acks', '-1', -1, 1)).toBe(-1);
  });

  it.each([['0'], ['101'], ['1.5'], ['1e2'], ['abc'], [''], [1.5], [Number.NaN], [true], [null]])(
    'refuses %j',
    (value) => {
      expect(() => integer(URL_CONTEXT, 'size', value, 1, 100)).toThrow(InvalidUrlError);
      expect(() => integer(CONFIG_CONTEXT, 'size', value, 1, 100)).toThrow(InvalidConfigError);
    },
  );

  it('reads a minus sign only where negatives are allowed', () => {
    expect(() => integer(URL_CONTEXT, 'delay', '-0', 0, 10)).toThrow(/not "-0"/);
    expect(integer(URL_CONTEXT, 'delay', '0', 0, 10)).toBe(0);
  });

  it('names the range, the other values and an example', () => {
    const error = thrown(() => integer(URL_CONTEXT, 'size', '0', 1, 100, [-1]));
    expect(error.message).toContain('size must be an integer from 1 to 100 or -1, not "0"');
    expect(error.hint).toBe('Example: size=6.');
    expect(thrown(() => integer(URL_CONTEXT, 'delay', 'x', 5, 10)).hint).toBe('Example: delay=5.');
    expect(thrown(() => integer(CONFIG_CONTEXT, 'nested.size', 0, 1, 9, [], 'size')).hint).toBe('Example: size=6.');
  });
});

describe('boolean', () => {
  it.each([
    [true, true],
    ['true', true],
    ['1', true],
    [false, false],
    ['false', false],
    ['0', false],
  ])('reads %j as %j', (value, expected) => {
    expect(boolean(URL_CONTEXT, 'fast', value)).toBe(expected);
  });

  it('refuses anything else, with an example', () => {
    const error = thrown(() => boolean(CONFIG_CONTEXT, 'fast', 'yes'));
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.message).toContain('fast must be true or false, not "yes"');
    expect(error.hint).toBe('Example: fast=false.');
    expect(() => boolean(CONFIG_CONTEXT, 'fast', 1)).toThrow(/not 1/);
  });
});

describe('oneOf', () => {
  const modes = ['a', 'b', 'c'] as const;

  it('returns one of the values, spelt exactly', () => {
    expect(oneOf(URL_CONTEXT, 'mode', 'b', modes)).toBe('b');
    expect(() => oneOf(URL_CONTEXT, 'mode', 'B', modes)).toThrow(InvalidUrlError);
    expect(() => oneOf(CONFIG_CONTEXT, 'mode', 1, modes)).toThrow(InvalidConfigError);
  });

  it('lists the values, two of them as "x or y", with a hint', () => {
    const three = thrown(() => oneOf(URL_CONTEXT, 'mode', 'd', modes));
    expect(three.message).toContain('mode must be one of a, b, c, not "d"');
    expect(three.hint).toBe('Example: mode=a.');
    const two = thrown(() => oneOf(URL_CONTEXT, 'mode', 'd', ['x', 'y'], 'Only x and y exist.'));
    expect(two.message).toContain('mode must be x or y, not "d"');
    expect(two.hint).toBe('Only x and y exist.');
  });
});

describe('quote', () => {
  it('shows short strings, numbers and booleans; other values by their type only', () => {
    expect(quote(URL_CONTEXT, 'abc')).toBe('"abc"');
    expect(quote(URL_CONTEXT, 5)).toBe('5');
    expect(quote(URL_CONTEXT, false)).toBe('false');
    expect(quote(URL_CONTEXT, null)).toBe('null');
    expect(quote(URL_CONTEXT, [1])).toBe('a list');
    expect(quote(URL_CONTEXT, {})).toBe('a object');
    expect(quote(URL_CONTEXT, () => {})).toBe('a function');
    expect(quote(URL_CONTEXT, undefined)).toBe('a undefined');
  });

  it('cuts long strings and never shows one with "@" by default', () => {
    expect(quote(URL_CONTEXT, 'x'.repeat(40))).toBe(`"${'x'.repeat(40)}"`);
    expect(quote(URL_CONTEXT, 'x'.repeat(41))).toBe(`"${'x'.repeat(40)}…"`);
    expect(quote(URL_CONTEXT, 'user:secret@host')).toBe('(value not shown)');
  });

  it('follows the spec rule', () => {
    const hide: OptionContext = { spec: { ...SPEC, quoteRule: { maxLength: 5, longer: 'hide' } }, source: 'url' };
    expect(quote(hide, 'abcde')).toBe('"abcde"');
    expect(quote(hide, 'abcdef')).toBe('(value not shown)');
    const showAt: OptionContext = {
      spec: { ...SPEC, quoteRule: { maxLength: 40, longer: 'cut', showAt: true } },
      source: 'url',
    };
    expect(quote(showAt, 'a@b')).toBe('"a@b"');
  });
});

describe('exampleOf', () => {
  it('gives the spec example of an option, or the fallback', () => {
    expect(exampleOf(URL_CONTEXT, 'size')).toBe('Example: size=6.');
    expect(exampleOf(URL_CONTEXT, 'fast', 'fast=true')).toBe('Example: fast=true.');
    expect(exampleOf(URL_CONTEXT, 'fast')).toBe('Example: fast.');
  });
});

describe('fail', () => {
  it('makes an InvalidUrlError for a URL and an InvalidConfigError for an object, naming the broker', () => {
    const fromUrl = fail(URL_CONTEXT, 'size is wrong', 'Fix it');
    expect(fromUrl).toBeInstanceOf(InvalidUrlError);
    expect(fromUrl.broker).toBe('kafka');
    expect(fromUrl.operation).toBe('parse URL');
    expect(fromUrl.message).toBe('[polybus:kafka] parse URL: size is wrong. Fix it.');
    const fromConfig = fail(CONFIG_CONTEXT, 'size is wrong', 'Fix it.');
    expect(fromConfig).toBeInstanceOf(InvalidConfigError);
    expect(fromConfig.operation).toBe('configure');
    expect(fromConfig.hint).toBe('Fix it.');
  });
});

describe('showName', () => {
  it('quotes short plain names only', () => {
    expect(showName('partitions')).toBe('"partitions"');
    expect(showName('1abc')).toBe('(name not shown)');
    expect(showName('a'.repeat(33))).toBe('(name not shown)');
    expect(showName('a'.repeat(33), 41)).toBe(`"${'a'.repeat(33)}"`);
    expect(isShowableName('a.b-c_d')).toBe(true);
    expect(isShowableName('a b')).toBe(false);
    expect(isShowableName('')).toBe(false);
  });
});
