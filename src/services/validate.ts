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

/**
 * Limits of every string and JSON value a client sends, checked in one place for every argument
 * of every field (see `src/schema/input-guard.ts`) before any resolver runs, so a refused request
 * writes nothing. Fields with tighter rules of their own (names: {@link NAME_LENGTH}) check them
 * as well.
 */
export interface InputLimits {
  /** Characters (UTF-16 code units) a `String` or `ID` argument may have. */
  maxStringChars: number;
  /** How deep a `JSON` value (payloads, params, training options) may nest its arrays and objects. */
  maxJsonDepth: number;
  /** Characters a `JSON` value may take, about as serialised (strings, keys and numbers counted). */
  maxJsonChars: number;
}

export const INPUT_LIMITS: InputLimits = {
  maxStringChars: 10_000,
  maxJsonDepth: 32,
  maxJsonChars: 1_000_000,
};

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What is wrong with the characters of `text`, or `undefined` when nothing is: a lone surrogate
 * (not well-formed UTF-16: PostgreSQL cannot store it) or a NUL character (PostgreSQL text and
 * jsonb refuse it), and more than `maxChars` characters.
 *
 * @example textProblem('a\u0000b', 10) === 'must not contain NUL characters (U+0000); found one at position 1'
 */
export function textProblem(text: string, maxChars: number): string | undefined {
  if (text.length > maxChars) return `must be at most ${maxChars} characters; got ${text.length}`;
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `must not contain NUL characters (U+0000); found one at position ${nul}`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone)
    return `must be well-formed UTF-16; found a lone surrogate (U+${lone[0].charCodeAt(0).toString(16).toUpperCase()}) at position ${lone.index}`;
  return undefined;
}

/**
 * What is wrong with a JSON value, or `undefined` when nothing is: nesting deeper than
 * `limits.maxJsonDepth`, more than `limits.maxJsonChars` characters, or a string or key with a
 * {@link textProblem}. Walks without recursion, so no depth can exhaust the stack.
 */
export function jsonProblem(
  value: unknown,
  limits: InputLimits = INPUT_LIMITS,
): string | undefined {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  let chars = 0;
  const tooBig = () => `must be at most ${limits.maxJsonChars} characters as JSON`;
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v === 'string') {
      chars += v.length + 2;
      if (chars > limits.maxJsonChars) return tooBig();
      const problem = textProblem(v, Infinity);
      if (problem) return `holds a string that ${problem}`;
    } else if (v !== null && typeof v === 'object') {
      if (depth >= limits.maxJsonDepth)
        return `must nest arrays and objects at most ${limits.maxJsonDepth} deep`;
      if (Array.isArray(v)) {
        chars += 2 + v.length;
        for (const e of v) stack.push({ v: e, depth: depth + 1 });
      } else {
        for (const [k, e] of Object.entries(v)) {
          chars += k.length + 4;
          const problem = textProblem(k, Infinity);
          if (problem) return `holds a key that ${problem}`;
          stack.push({ v: e, depth: depth + 1 });
        }
      }
      if (chars > limits.maxJsonChars) return tooBig();
    } else {
      chars += typeof v === 'number' ? 24 : 5;
      if (chars > limits.maxJsonChars) return tooBig();
    }
  }
  return undefined;
}
