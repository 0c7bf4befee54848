/**
 * Runs a synthesis method with everything checked: the request (count, params, whether the
 * labelled set can serve the method) before any work, as BAD_USER_INPUT; the labelled set's
 * shape and the method's output, as internal errors (they are the caller's or the plugin's
 * bugs, not the user's).
 */
import { BadUserInputError } from '../errors';
import { mulberry32, seedFrom } from '../strategies/math';
import { requireInt } from './validate';
import type { SynthesisMethodRegistry } from '../plugins/synthesis/registry';
import type { LabelledVectors, SyntheticVector } from '../plugins/synthesis/types';

/** The most vectors one request may make. */
export const MAX_SYNTHESIS_COUNT = 10_000;

/** What a refusal of too large a count suggests. */
export const MORE_IN_SEVERAL = 'Ask for more in several requests.';

/** A synthesis request. */
export interface SynthesisRequest {
  /** The method's code, e.g. `smote`. */
  method: string;
  /** The method's parameters as the user gave them (validated here, defaults applied). */
  params?: unknown;
  /** How many vectors to make: an integer in [1, maxCount]. */
  count: number;
  labelled: LabelledVectors;
  /** Seeds the method's random draws: the same seed gives the same vectors. */
  seed: string | number;
  /** Upper bound for `count`. Default {@link MAX_SYNTHESIS_COUNT}. */
  maxCount?: number;
}

/** What a synthesis request made. */
export interface SynthesisResult {
  method: string;
  /** The parameters used, defaults applied: store them with the synthetic items. */
  params: Record<string, unknown>;
  vectors: SyntheticVector[];
}

function checkLabelled(labelled: LabelledVectors): void {
  const { rows, dim, features, classes, itemIds } = labelled;
  const fail = (why: string): never => {
    throw new Error(`The labelled set given to synthesis is malformed: ${why}`);
  };
  if (!Number.isInteger(rows) || rows < 0) fail(`rows is ${rows}`);
  if (!Number.isInteger(dim) || dim < 1) fail(`dim is ${dim}`);
  if (features.length !== rows * dim)
    fail(`features has ${features.length} values; expected rows x dim = ${rows * dim}`);
  if (classes.length !== rows) fail(`classes has ${classes.length} entries; expected ${rows}`);
  if (itemIds.length !== rows) fail(`itemIds has ${itemIds.length} entries; expected ${rows}`);
  for (let row = 0; row < rows; row++) {
    const c = classes[row];
    if (!Number.isInteger(c) || c < 0) fail(`classes[${row}] is ${c}`);
  }
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) fail(`row ${Math.floor(i / dim)} has a non-finite feature`);
  }
}

function checkOutput(
  method: string,
  labelled: LabelledVectors,
  count: number,
  vectors: SyntheticVector[],
): void {
  const fail = (why: string): never => {
    throw new Error(`Synthesis method "${method}" returned ${why}.`);
  };
  if (!Array.isArray(vectors) || vectors.length !== count)
    fail(`${Array.isArray(vectors) ? vectors.length : 'no'} vectors; ${count} were asked for`);
  const ids = new Set(labelled.itemIds);
  vectors.forEach((v, i) => {
    if (!(v.features instanceof Float32Array) || v.features.length !== labelled.dim)
      fail(`vector #${i} without ${labelled.dim} float32 features`);
    for (let f = 0; f < v.features.length; f++) {
      if (!Number.isFinite(v.features[f])) fail(`vector #${i} with a non-finite feature ${f}`);
    }
    if (!Array.isArray(v.parents) || v.parents.length === 0 || v.parents.some((p) => !ids.has(p)))
      fail(`vector #${i} whose parents are not labelled items: ${JSON.stringify(v.parents)}`);
    if (v.intendedClass !== null && !(Number.isInteger(v.intendedClass) && v.intendedClass >= 0))
      fail(`vector #${i} with intendedClass ${v.intendedClass}`);
  });
}

/**
 * Makes `request.count` new vectors with the named method.
 *
 * Throws BAD_USER_INPUT for an unknown method, a count outside [1, maxCount], bad params
 * (naming `params.x`), or a labelled set the method cannot use (e.g. smote without any class
 * of two items, mixup with a single class).
 *
 * @example
 * const { vectors } = synthesize(registry, {
 *   method: 'mixup', params: { alpha: 0.4 }, count: 20, labelled, seed: request.id,
 * });
 */
export function synthesize(
  registry: SynthesisMethodRegistry,
  request: SynthesisRequest,
): SynthesisResult {
  const { method, count, labelled, seed, maxCount = MAX_SYNTHESIS_COUNT } = request;
  const { plugin } = registry.get(method);
  requireInt(count, 'count', { min: 1, max: maxCount }, { overMax: MORE_IN_SEVERAL });
  const params = registry.params(method, request.params);
  checkLabelled(labelled);
  const problem = plugin.checkInput?.(labelled, params);
  if (problem) throw new BadUserInputError(problem);
  const vectors = plugin.synthesize({
    labelled,
    count,
    params,
    random: mulberry32(seedFrom(seed)),
  });
  checkOutput(method, labelled, count, vectors);
  return { method, params, vectors };
}
