import { badUserInput as thrown } from '../helpers/errors';
import {
  InputChecks,
  intProblem,
  isIntIn,
  lengthProblem,
  MAX_SEED,
  requireInt,
  requireLength,
  requireSeed,
} from '../../src/services/validate';

describe('isIntIn', () => {
  it('accepts the integers of the range, both ends included', () => {
    expect([1, 5, 10].map((n) => isIntIn(n, { min: 1, max: 10 }))).toEqual([true, true, true]);
  });

  it.each([0, 11, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -Infinity])('refuses %p', (n) => {
    expect(isIntIn(n, { min: 1, max: 10 })).toBe(false);
  });
});

describe('requireInt', () => {
  it('returns an integer of the range', () => {
    expect(requireInt(7, 'size', { min: 1, max: 10 })).toBe(7);
  });

  it('names the argument, the range and the value, in the message and as a problem', () => {
    const e = thrown(() => requireInt(0, 'size', { min: 1, max: 10 }));
    expect(e.message).toBe('size must be an integer from 1 to 10; got 0.');
    expect(e.extensions.problems).toEqual([
      { field: 'size', message: 'must be an integer from 1 to 10; got 0' },
    ]);
  });

  it('refuses a fraction inside the range', () => {
    expect(thrown(() => requireInt(2.5, 'count', { min: 1, max: 10 })).message).toBe(
      'count must be an integer from 1 to 10; got 2.5.',
    );
  });

  it('says what to do instead only for a value over the limit', () => {
    const over = { overMax: 'Ask for more in several requests.' };
    expect(thrown(() => requireInt(11, 'count', { min: 1, max: 10 }, over)).message).toBe(
      'count must be an integer from 1 to 10; got 11. Ask for more in several requests.',
    );
    expect(thrown(() => requireInt(0, 'count', { min: 1, max: 10 }, over)).message).toBe(
      'count must be an integer from 1 to 10; got 0.',
    );
  });
});

describe('requireSeed', () => {
  it('keeps a given seed, 0 and the largest included', () => {
    expect([0, 42, MAX_SEED].map((s) => requireSeed(s))).toEqual([0, 42, MAX_SEED]);
  });

  it('draws a seed of the range when none is given', () => {
    for (const given of [null, undefined]) {
      const seed = requireSeed(given);
      expect(isIntIn(seed, { min: 0, max: MAX_SEED })).toBe(true);
    }
  });

  it.each([-1, MAX_SEED + 1, 0.5])('refuses %p with the seed wording', (s) => {
    expect(thrown(() => requireSeed(s)).message).toBe(
      `seed must be an integer from 0 to 2147483647; got ${s}.`,
    );
  });
});

describe('InputChecks', () => {
  it('collects every problem and throws them together', () => {
    const checks = new InputChecks();
    expect(checks.int('batchSize', 0, { min: 1, max: 100 })).toBe(false);
    expect(checks.int('repeats', 3, { min: 1, max: 20 })).toBe(true);
    expect(checks.seed('seed', -1)).toBe(-1);
    checks.add('budget', 'must be more than seedSize');
    const e = thrown(() => checks.throwIfAny('the simulation'));
    expect(e.extensions.problems).toEqual([
      { field: 'batchSize', message: 'must be an integer from 1 to 100; got 0' },
      { field: 'seed', message: 'must be an integer from 0 to 2147483647; got -1' },
      { field: 'budget', message: 'must be more than seedSize' },
    ]);
    expect(e.message).toMatch(/^3 the simulation rejected, nothing was written: +batchSize: must/);
  });

  it('throws nothing when every check passed, and draws a missing seed', () => {
    const checks = new InputChecks();
    checks.int('batchSize', 5, { min: 1, max: 100 });
    expect(isIntIn(checks.seed('seed', undefined), { min: 0, max: MAX_SEED })).toBe(true);
    expect(() => checks.throwIfAny('the simulation')).not.toThrow();
  });
});

describe('intProblem', () => {
  it('is undefined for a good value', () => {
    expect(intProblem(3, { min: 1, max: 3 })).toBeUndefined();
  });
});

describe('requireLength', () => {
  it('returns a text of 1 to 200 characters', () => {
    expect(requireLength('a', 'name')).toBe('a');
    expect(requireLength('x'.repeat(200), 'name')).toHaveLength(200);
  });

  it.each([[''], ['x'.repeat(201)]])('refuses %j with the name in the message', (text) => {
    const e = thrown(() => requireLength(text, 'idempotencyKey'));
    expect(e.message).toBe('idempotencyKey must be 1 to 200 characters.');
    expect(e.extensions.problems).toEqual([
      { field: 'idempotencyKey', message: 'must be 1 to 200 characters' },
    ]);
  });

  it('takes another range', () => {
    expect(lengthProblem('abcd', { min: 1, max: 3 })).toBe('must be 1 to 3 characters');
    expect(lengthProblem('abc', { min: 1, max: 3 })).toBeUndefined();
  });
});
