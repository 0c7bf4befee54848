import { types } from 'node:util';
import { BadUserInputError } from '../../errors';
import type { Standardizer } from './types';

/** What {@link checkTrainInput} looks at; the options are checked by the registry. */
export interface TrainingData {
  features: Float32Array;
  labels: Int32Array | readonly number[];
  rows: number;
  dim: number;
  classCount: number;
  /**
   * Mean and scale of the features of every item of the dataset, labelled or not (they are all
   * known), from the caller. Trainers whose `standardize` option is `dataset` use it instead of
   * the labelled rows' own; without it they fall back to the labelled rows.
   */
  datasetStandardizer?: Standardizer;
}

/**
 * Checks training data before any work starts and returns the number of rows of each class.
 *
 * @throws BadUserInputError when there is nothing to learn from: no rows, labels outside
 *   `[0, classCount)`, fewer than two distinct classes, or a feature that is NaN or infinite
 *   (the message names the first offending row and column)
 * @throws RangeError when the arrays do not have the sizes `rows`, `dim` and `classCount` say
 *   (a caller bug, not the user's data)
 */
export function checkTrainInput(data: TrainingData): number[] {
  const { features, labels, rows, dim, classCount } = data;
  if (rows === 0) {
    throw new BadUserInputError(
      'There are no labelled rows to train on: label some items of at least two classes first.',
    );
  }
  requireInteger('rows', rows, 1);
  requireInteger('dim', dim, 1);
  requireInteger('classCount', classCount, 2);
  if (!types.isFloat32Array(features)) throw new RangeError('features must be a Float32Array');
  if (features.length !== rows * dim) {
    throw new RangeError(
      `features has ${features.length} values, expected rows x dim = ${rows * dim}` +
        (features.length === 0 ? ' (was its buffer already transferred?)' : ''),
    );
  }
  if (!types.isInt32Array(labels) && !Array.isArray(labels)) {
    throw new RangeError('labels must be an Int32Array or an array of numbers');
  }
  if (labels.length !== rows) {
    throw new RangeError(`labels has ${labels.length} values, expected rows = ${rows}`);
  }

  const counts = new Array<number>(classCount).fill(0);
  for (let r = 0; r < rows; r++) {
    const label = labels[r];
    if (!Number.isInteger(label) || label < 0 || label >= classCount) {
      throw new BadUserInputError(
        `The label of row ${r} is ${String(label)}; labels must be class indices from 0 to ${classCount - 1}.`,
      );
    }
    counts[label]++;
  }
  const present = counts.filter((n) => n > 0).length;
  if (present < 2) {
    const only = counts.findIndex((n) => n > 0);
    throw new BadUserInputError(
      `All ${rows} labelled rows are of class ${only}; training a classifier needs labels of at least two distinct classes.`,
    );
  }

  // x * 0 is 0 for a finite x and NaN for NaN and the infinities: one sum tells whether to look.
  let poison = 0;
  for (let i = 0; i < features.length; i++) poison += features[i] * 0;
  for (let i = 0; poison !== 0 && i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      const row = Math.floor(i / dim);
      throw new BadUserInputError(
        `Feature ${i - row * dim} of row ${row} is ${features[i]}; training needs finite feature values (fix or leave out that item).`,
      );
    }
  }
  return counts;
}

/**
 * Standard deviations below this are treated as a constant feature and get scale 1, as
 * scikit-learn's `StandardScaler` does: dividing by a near-zero spread would turn float noise, or
 * a new value at prediction time, into huge inputs.
 */
export const MIN_FEATURE_SCALE = 1e-6;

/**
 * Per-feature mean and (population) standard deviation of the rows, rounded to float32 as the
 * ONNX graph stores them. Two passes in float64, so large offsets do not cancel the variance.
 */
export function fitStandardizer(features: Float32Array, rows: number, dim: number): Standardizer {
  const { mean, squares } = fitMoments(features, rows, dim);
  return toStandardizer(mean, squares, rows);
}

function fitMoments(
  features: Float32Array,
  rows: number,
  dim: number,
): { mean: Float64Array; squares: Float64Array } {
  const sum = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) sum[i] += features[o + i];
  }
  const mean = new Float64Array(dim);
  for (let i = 0; i < dim; i++) mean[i] = sum[i] / rows;
  const squares = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) {
      const d = features[o + i] - mean[i];
      squares[i] += d * d;
    }
  }
  return { mean, squares };
}

function toStandardizer(mean: Float64Array, squares: Float64Array, rows: number): Standardizer {
  const dim = mean.length;
  const scale = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const sd = Math.sqrt(squares[i] / rows);
    scale[i] = sd < MIN_FEATURE_SCALE ? 1 : sd;
  }
  return { mean: Float32Array.from(mean), scale };
}

/**
 * Where the built-in trainers learn their standardisation: `dataset` from every item of the
 * dataset (`TrainingData.datasetStandardizer`, as a notebook fits its scaler on all of `X`),
 * `labelled` from the training rows only, `none` not at all (mean 0, scale 1).
 */
export type StandardizeMode = 'dataset' | 'labelled' | 'none';

/** JSON Schema of the `standardize` option the built-in trainers share. */
export const STANDARDIZE_OPTION = {
  enum: ['dataset', 'labelled', 'none'],
  default: 'dataset',
  description:
    'Where the per-feature mean and standard deviation come from: "dataset" (every item of the dataset, labelled or not; their features are known), "labelled" (the training rows only) or "none" (features used as they are).',
} as const;

/** The standardisation `mode` asks for (see {@link StandardizeMode}). */
export function standardizerFor(mode: StandardizeMode, data: TrainingData): Standardizer {
  switch (mode) {
    case 'dataset':
      return data.datasetStandardizer ?? fitStandardizer(data.features, data.rows, data.dim);
    case 'labelled':
      return fitStandardizer(data.features, data.rows, data.dim);
    case 'none':
      return { mean: new Float32Array(data.dim), scale: new Float32Array(data.dim).fill(1) };
    default: {
      const never: never = mode;
      throw new RangeError(`unknown standardize mode ${String(never)}`);
    }
  }
}

/**
 * Per-feature mean and standard deviation over rows that arrive in chunks (a dataset read page
 * by page), merged with Chan et al.'s pairwise update so that no pass keeps every row; the
 * result equals {@link fitStandardizer} over all rows up to float64 rounding.
 */
export class StandardizerAccumulator {
  #rows = 0;
  readonly #mean: Float64Array;
  readonly #squares: Float64Array;

  constructor(readonly dim: number) {
    this.#mean = new Float64Array(dim);
    this.#squares = new Float64Array(dim);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Adds `rows` row-major rows of `features`. */
  add(features: Float32Array, rows: number): void {
    const { dim } = this;
    if (rows === 0) return;
    if (features.length !== rows * dim) {
      throw new RangeError(`features has ${features.length} values, expected ${rows * dim}`);
    }
    const chunk = fitMoments(features, rows, dim);
    const total = this.#rows + rows;
    for (let i = 0; i < dim; i++) {
      const delta = chunk.mean[i] - this.#mean[i];
      this.#squares[i] += chunk.squares[i] + (delta * delta * this.#rows * rows) / total;
      this.#mean[i] += (delta * rows) / total;
    }
    this.#rows = total;
  }

  /** The standardisation of the rows added so far; undefined when none were. */
  result(): Standardizer | undefined {
    if (this.#rows === 0) return undefined;
    return toStandardizer(this.#mean, this.#squares, this.#rows);
  }
}

/**
 * `(x - mean) / scale` of every row, in float32 steps exactly as the graph's `Sub` and `Div`
 * compute it, so training sees what inference will.
 */
export function standardizeRows(
  features: Float32Array,
  rows: number,
  dim: number,
  { mean, scale }: Standardizer,
): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    for (let i = 0; i < dim; i++) out[o + i] = Math.fround(features[o + i] - mean[i]) / scale[i];
  }
  return out;
}

function requireInteger(field: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RangeError(`${field} must be an integer of ${min} or more, got ${String(value)}`);
  }
}
