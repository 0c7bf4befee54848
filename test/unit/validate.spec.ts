import { BadUserInputError } from '../../src/errors';
import {
  InputChecks,
  intProblem,
  isIntIn,
  MAX_SEED,
  requireInt,
  requireSeed,
} from '../../src/services/validate';

/** The error a call throws, failing the test when it throws none. */
function thrown(fn: () => unknown): BadUserInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadUserInputError);
    expect((e as BadUserInputError).extensions.code).toBe('BAD_USER_INPUT');
    return e as BadUserInputError;
  }
  throw new Error('expected an error, got none');
}

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
