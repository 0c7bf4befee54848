/**
 * Multinomial logistic regression fitted to its optimum, as scikit-learn's
 * `LogisticRegression(solver='lbfgs')` does, and the cross-validated choice of its `C`, as
 * `LogisticRegressionCV` does. Pure computation over typed arrays.
 *
 * The objective, with `W` the `classCount x dim` weights and `b` the intercepts:
 *
 *   sum over rows of -ln softmax(W x + b)[y]  +  ||W||^2 / (2 C)
 *
 * the same function scikit-learn minimises (its `C` means the same: larger is weaker
 * regularisation; the intercepts are not penalised). It is strictly convex in `W`; starting from
 * zero, every L-BFGS step keeps the weights and intercepts summing to zero over the classes, so
 * the solution is the same one scikit-learn reaches from its zero start.
 */
import { mulberry32, seedFrom, type Random } from '../../strategies/math';
import { minimizeLbfgs, type LbfgsOptions } from './lbfgs';

/** Rows to fit: standardised features in float64, class indices. */
export interface RegressionRows {
  /** Row-major `rows x dim`. */
  x: Float64Array;
  y: Int32Array;
  rows: number;
  dim: number;
  classCount: number;
}

/** A fitted model: `weights` row-major `[classCount, dim]`, one intercept per class. */
export interface RegressionFit {
  weights: Float64Array;
  intercepts: Float64Array;
  iterations: number;
  converged: boolean;
  /** Mean cross-entropy on the rows fitted (without the penalty). */
  meanLoss: number;
}

/**
 * The `C` candidates when none is given: `LogisticRegressionCV`'s default grid, ten values
 * evenly spaced on a log scale from 1e-4 to 1e4.
 */
export const DEFAULT_CS: readonly number[] = Array.from({ length: 10 }, (_, i) =>
  Number((10 ** (-4 + (8 * i) / 9)).toPrecision(6)),
);

/**
 * Fits the model to its optimum for the given `C`. `start` (weights then intercepts, as
 * {@link RegressionFit}) warm-starts the solver; default zero.
 */
export function fitSoftmaxRegression(
  data: RegressionRows,
  C: number,
  solver: LbfgsOptions = {},
  start?: Float64Array,
): RegressionFit {
  const { rows, dim, classCount } = data;
  const size = classCount * dim;
  // The objective divided by the row count: the same minimiser, with gradients whose size does
  // not grow with the data, so one gradient tolerance suits small and large sets.
  const penalty = 1 / (C * rows);
  const probs = new Float64Array(classCount);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    const loss = crossEntropy(data, theta, grad, probs);
    let squares = 0;
    for (let k = 0; k < size; k++) {
      squares += theta[k] * theta[k];
      grad[k] = grad[k] / rows + penalty * theta[k];
    }
    for (let c = 0; c < classCount; c++) grad[size + c] /= rows;
    return loss / rows + (penalty / 2) * squares;
  };
  const x0 = start ? Float64Array.from(start) : new Float64Array(size + classCount);
  const result = minimizeLbfgs(objective, x0, solver);
  const theta = result.x;
  const meanLoss = crossEntropy(data, theta, undefined, probs) / rows;
  return {
    weights: theta.slice(0, size),
    intercepts: theta.slice(size),
    iterations: result.iterations,
    converged: result.converged,
    meanLoss,
  };
}

/** Options of {@link crossValidateC}. */
export interface CrossValidation {
  Cs: readonly number[];
  folds: number;
  /** Seeds the assignment of rows to folds. */
  seed: number;
  /** At most this many rows take part (a stratified random subset when there are more). */
  maxRows: number;
  solver: LbfgsOptions;
}

/** What {@link crossValidateC} found: the chosen `C` and the mean held-out loss of each. */
export interface CrossValidationResult {
  C: number;
  folds: number;
  /**
   * Mean held-out cross-entropy per row (rows of classes their fold's training part has), one
   * per candidate in `Cs` order; NaN for candidates the path stopped before.
   */
  losses: number[];
  /** Held-out accuracy (same rows as `losses`), one per candidate in `Cs` order; NaN where `losses` is. */
  accuracies: number[];
}

/**
 * The solver settings of the cross-validation fits: looser than the final fit's, as
 * scikit-learn's defaults (`tol=1e-4`, `max_iter=100`), since they only rank the candidates.
 */
export const CV_SOLVER: LbfgsOptions = { gradientTolerance: 1e-4, maxIterations: 100 };

/** Relative rise of the held-out loss over the best that counts as worse (1%). */
export const CV_PATH_RISE = 0.01;

/**
 * Chooses `C` by stratified k-fold cross-validation: the candidates are tried in ascending
 * order, each fitted on every fold's training part (warm-started from the fold's previous
 * candidate, with {@link CV_SOLVER}) and scored by the mean cross-entropy of the held-out rows
 * whose class the training part has; the lowest wins (the smaller `C` on a tie). Log-loss
 * rather than `LogisticRegressionCV`'s accuracy: on a few dozen held-out rows accuracy ties
 * and jumps by whole rows (it picked C = 1e-4 for one 20-label digits set). Rows of a class
 * missing from the training part are left out because any confident model pays a huge loss
 * on them: counting them picked near-uniform models for 20-label digit sets (mean test
 * accuracy .54 against .65 without them, on the 5 sets of bench/learner.ts).
 * The path stops once two candidates in a row have a loss more than {@link CV_PATH_RISE}
 * above the best so far: the largest, slowest-to-fit candidates are rarely fitted.
 *
 * Folds: `min(folds, rows)`; each class's rows, in a seeded random order, are dealt to the
 * folds in turn.
 */
export function crossValidateC(
  data: RegressionRows,
  options: CrossValidation,
): CrossValidationResult {
  const random = mulberry32(seedFrom(`cv:${options.seed}`));
  const rowsUsed = stratifiedSubset(data, options.maxRows, random);
  const folds = Math.max(2, Math.min(options.folds, rowsUsed.length));
  const foldOf = assignFolds(data.y, rowsUsed, folds, data.classCount, random);
  const parts = Array.from({ length: folds }, (_, fold) => ({
    train: subset(
      data,
      rowsUsed.filter((_, k) => foldOf[k] !== fold),
    ),
    held: subset(
      data,
      rowsUsed.filter((_, k) => foldOf[k] === fold),
    ),
    start: undefined as Float64Array | undefined,
    seen: new Uint8Array(data.classCount),
  }));
  let scored = 0;
  for (const part of parts) {
    for (const c of part.train.y) part.seen[c] = 1;
    for (const c of part.held.y) scored += part.seen[c];
  }
  const order = options.Cs.map((C, i) => ({ C, i })).sort((a, b) => a.C - b.C);
  const losses = new Array<number>(options.Cs.length).fill(NaN);
  const errors = new Array<number>(options.Cs.length).fill(NaN);
  const probs = new Float64Array(data.classCount);
  let best = order[0];
  let worseInARow = 0;
  for (const candidate of order) {
    let loss = 0;
    let wrong = 0;
    for (const part of parts) {
      const fit = fitSoftmaxRegression(part.train, candidate.C, options.solver, part.start);
      part.start = concat(fit.weights, fit.intercepts);
      const held = heldOutScore(part.held, part.start, probs, part.seen);
      loss += held.loss;
      wrong += held.errors;
    }
    losses[candidate.i] = loss / scored;
    errors[candidate.i] = wrong;
    const bestLoss = losses[best.i];
    if (losses[candidate.i] < bestLoss) {
      best = candidate;
      worseInARow = 0;
    } else if (losses[candidate.i] > bestLoss * (1 + CV_PATH_RISE) && ++worseInARow >= 2) {
      break;
    }
  }
  return {
    C: best.C,
    folds,
    losses,
    accuracies: errors.map((e) => (Number.isNaN(e) ? NaN : 1 - e / scored)),
  };
}

/**
 * Summed cross-entropy and misclassified rows of `data` under `theta`, over the rows whose
 * class is `seen` (present in the training part) only.
 */
function heldOutScore(
  data: RegressionRows,
  theta: Float64Array,
  probs: Float64Array,
  seen: Uint8Array,
): { loss: number; errors: number } {
  let loss = 0;
  let errors = 0;
  const one = { ...data, rows: 1 };
  for (let r = 0; r < data.rows; r++) {
    if (!seen[data.y[r]]) continue;
    one.x = data.x.subarray(r * data.dim, (r + 1) * data.dim);
    one.y = data.y.subarray(r, r + 1);
    loss += crossEntropy(one, theta, undefined, probs);
    // crossEntropy leaves the row's logits in probs.
    let top = 0;
    for (let c = 1; c < data.classCount; c++) if (probs[c] > probs[top]) top = c;
    if (top !== data.y[r]) errors++;
  }
  return { loss, errors };
}

/**
 * Summed cross-entropy of the rows under `theta` (weights then intercepts); when `grad` is given,
 * adds the unscaled gradient of that sum to it.
 */
function crossEntropy(
  data: RegressionRows,
  theta: Float64Array,
  grad: Float64Array | undefined,
  probs: Float64Array,
): number {
  const { x, y, rows, dim, classCount } = data;
  const size = classCount * dim;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let max = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const w = c * dim;
      let z = theta[size + c];
      for (let i = 0; i < dim; i++) z += theta[w + i] * x[o + i];
      probs[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < classCount; c++) sum += Math.exp(probs[c] - max);
    const logSum = max + Math.log(sum);
    loss += logSum - probs[y[r]];
    if (!grad) continue;
    for (let c = 0; c < classCount; c++) {
      const delta = Math.exp(probs[c] - logSum) - (c === y[r] ? 1 : 0);
      if (delta === 0) continue;
      const w = c * dim;
      for (let i = 0; i < dim; i++) grad[w + i] += delta * x[o + i];
      grad[size + c] += delta;
    }
  }
  return loss;
}

/** All rows, or a random subset of `maxRows` keeping each class's share (at least one row). */
function stratifiedSubset(data: RegressionRows, maxRows: number, random: Random): number[] {
  const all = Array.from({ length: data.rows }, (_, r) => r);
  if (data.rows <= maxRows) return all;
  const byClass = groupByClass(data.y, all, data.classCount, random);
  const kept: number[] = [];
  for (const rows of byClass) {
    const share = Math.max(1, Math.round((rows.length * maxRows) / data.rows));
    kept.push(...rows.slice(0, share));
  }
  return kept.sort((a, b) => a - b);
}

/** The fold of each of `rows` (by position): each class's rows, shuffled, dealt in turn. */
function assignFolds(
  y: Int32Array,
  rows: number[],
  folds: number,
  classCount: number,
  random: Random,
): Int32Array {
  const position = new Map(rows.map((row, k) => [row, k]));
  const foldOf = new Int32Array(rows.length);
  let next = 0;
  for (const members of groupByClass(y, rows, classCount, random)) {
    for (const row of members) {
      foldOf[position.get(row)!] = next;
      next = (next + 1) % folds;
    }
  }
  return foldOf;
}

/** The rows of each class, each list in a random order. */
function groupByClass(
  y: Int32Array,
  rows: number[],
  classCount: number,
  random: Random,
): number[][] {
  const byClass = Array.from({ length: classCount }, () => [] as number[]);
  for (const row of rows) byClass[y[row]].push(row);
  for (const list of byClass) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(random() * (i + 1)));
      [list[i], list[j]] = [list[j], list[i]];
    }
  }
  return byClass;
}

function subset(data: RegressionRows, rows: number[]): RegressionRows {
  const { dim } = data;
  const x = new Float64Array(rows.length * dim);
  rows.forEach((row, k) => x.set(data.x.subarray(row * dim, (row + 1) * dim), k * dim));
  return { ...data, x, y: Int32Array.from(rows, (row) => data.y[row]), rows: rows.length };
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
