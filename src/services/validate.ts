/**
 * Range checks of user input, written once. Every check says the same thing the same way:
 * `<name> must be an integer from <min> to <max>; got <value>.` (`<name> must be 1 to 200
 * characters.` for a length), with the problem also listed under
 * `extensions.problems` (`{ field, message }`) so a client can point at the field.
 *
 * Two shapes, for the two kinds of input: {@link requireInt} / {@link requireSeed} throw at the
 * first bad argument (single arguments: `size`, `count`, `seed`), and {@link InputChecks} collects
 * every problem of one input object before throwing them together (`simulate`'s input).
 */

import crypto from 'node:crypto';
import { BadUserInputError, type InputProblem } from '../errors';

/** An inclusive range of integers. */
export interface IntRange {
  min: number;
  max: number;
}

/**
 * Largest seed accepted: a GraphQL `Int` is a signed 32-bit integer, and seeds are never negative
 * (workers read them as uint32).
 */
export const MAX_SEED = 2 ** 31 - 1;
export const SEED_RANGE: IntRange = { min: 0, max: MAX_SEED };

/** True when `value` is an integer of `range` (NaN, fractions and ±Infinity are not). */
export function isIntIn(value: number, range: IntRange): boolean {
  return Number.isInteger(value) && value >= range.min && value <= range.max;
}

/**
 * What is wrong with `value` as an integer of `range`, or `undefined` when nothing is.
 *
 * @example intProblem(0, { min: 1, max: 10 }) === 'must be an integer from 1 to 10; got 0'
 */
export function intProblem(value: number, range: IntRange): string | undefined {
  return isIntIn(value, range)
    ? undefined
    : `must be an integer from ${range.min} to ${range.max}; got ${value}`;
}

function badInt(name: string, problem: string): BadUserInputError {
  return new BadUserInputError(`${name} ${problem}.`, [{ field: name, message: problem }]);
}

/**
 * `value`, when it is an integer of `range`; otherwise BAD_USER_INPUT
 * `"<name> must be an integer from <min> to <max>; got <value>."`.
 *
 * @example const size = requireInt(input.size, 'size', { min: 1, max: MAX_ROUND_SIZE });
 */
export function requireInt(
  value: number,
  name: string,
  range: IntRange,
  opts: { overMax?: string } = {},
): number {
  const problem = intProblem(value, range);
  if (!problem) return value;
  const error = badInt(name, problem);
  // What to do instead, for a value over a limit the caller can work around.
  if (opts.overMax && value > range.max) error.message += ` ${opts.overMax}`;
  throw error;
}

/** Characters a name or an identifier given by a client may have: 1 to 200. */
export const NAME_LENGTH: IntRange = { min: 1, max: 200 };

/**
 * What is wrong with the length of `text`, or `undefined` when nothing is.
 *
 * @example lengthProblem('', NAME_LENGTH) === 'must be 1 to 200 characters'
 */
export function lengthProblem(text: string, range: IntRange = NAME_LENGTH): string | undefined {
  return text.length >= range.min && text.length <= range.max
    ? undefined
    : `must be ${range.min} to ${range.max} characters`;
}

/**
 * `text`, when its length is in `range` (default {@link NAME_LENGTH}); otherwise BAD_USER_INPUT
 * `"<name> must be 1 to 200 characters."`. Trim first where surrounding spaces do not count.
 */
export function requireLength(text: string, name: string, range: IntRange = NAME_LENGTH): string {
  const problem = lengthProblem(text, range);
  if (problem)
    throw new BadUserInputError(`${name} ${problem}.`, [{ field: name, message: problem }]);
  return text;
}

/** A fresh seed of {@link SEED_RANGE}, for requests that give none. */
export function randomSeed(): number {
  return crypto.randomInt(0, MAX_SEED);
}

/**
 * The seed a request runs with: the given one, checked against {@link SEED_RANGE}
 * (BAD_USER_INPUT `"seed must be an integer from 0 to 2147483647; got -1."`), or a random one when
 * none is given (null or absent), so that the run records a seed that replays it.
 */
export function requireSeed(value: number | null | undefined, name = 'seed'): number {
  return value === null || value === undefined ? randomSeed() : requireInt(value, name, SEED_RANGE);
}

/**
 * The problems of one input object, collected so that one BAD_USER_INPUT names all of them.
 *
 * @example
 * const checks = new InputChecks();
 * checks.int('batchSize', input.batchSize, { min: 1, max: 100_000 });
 * const seed = checks.seed('seed', input.seed);
 * checks.throwIfAny('the simulation');
 */
export class InputChecks {
  readonly problems: InputProblem[] = [];

  /** Records a problem of `field`. */
  add(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  /** Records a problem unless `value` is an integer of `range`; true when it is. */
  int(field: string, value: number, range: IntRange): boolean {
    const problem = intProblem(value, range);
    if (problem) this.add(field, problem);
    return !problem;
  }

  /** The seed to run with (see {@link requireSeed}); a bad one is recorded and returned as given. */
  seed(field: string, value: number | null | undefined): number {
    if (value === null || value === undefined) return randomSeed();
    this.int(field, value, SEED_RANGE);
    return value;
  }

  /** Throws the problems collected so far as one BAD_USER_INPUT about `what`, if there are any. */
  throwIfAny(what: string): void {
    if (this.problems.length > 0) throw BadUserInputError.forProblems(what, this.problems);
  }
}
