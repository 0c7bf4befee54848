/**
 * Temperature scaling (Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural
 * Networks", ICML 2017): one scalar T > 0 divides the logits, fitted by minimising the negative
 * log-likelihood on labelled held-out rows. It changes no prediction (the argmax is the same)
 * and only makes confidences honest: T > 1 softens an over-confident model.
 *
 * Models may give probabilities rather than logits; log p is the logits up to a per-row constant,
 * which the softmax cancels, so softmax(log p / T) is the same scaling.
 */

/** Floor of a probability before its log (a probability of 0 would give −∞ logits). */
const LOG_FLOOR = 1e-30;
/** The temperatures searched, on a log scale. */
const MIN_TEMPERATURE = 0.05;
const MAX_TEMPERATURE = 20;
/** Golden-section steps: the bracket shrinks to about 1e-7 of its log width. */
const SEARCH_STEPS = 40;

/**
 * Scales rows of probabilities by temperature `t`, in place: p ← softmax(log p / t).
 * `t` = 1 leaves them as they are.
 */
export function temperProbabilities(
  probabilities: Float32Array | Float64Array,
  classCount: number,
  t: number,
): void {
  if (!(t > 0) || !Number.isFinite(t)) {
    throw new RangeError(`the temperature must be a finite number > 0; got ${t}`);
  }
  if (t === 1) return;
  const inv = 1 / t;
  for (let o = 0; o < probabilities.length; o += classCount) {
    let max = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const z = Math.log(Math.max(LOG_FLOOR, probabilities[o + c])) * inv;
      probabilities[o + c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < classCount; c++) {
      const e = Math.exp(probabilities[o + c] - max);
      probabilities[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < classCount; c++) probabilities[o + c] /= sum;
  }
}

/** Mean negative log-likelihood of the true classes after scaling by `t`. */
export function temperedLogLoss(
  probabilities: ArrayLike<number>,
  truth: ArrayLike<number>,
  classCount: number,
  t: number,
): number {
  const inv = 1 / t;
  let total = 0;
  for (let r = 0; r < truth.length; r++) {
    const o = r * classCount;
    let max = -Infinity;
    for (let c = 0; c < classCount; c++) {
      max = Math.max(max, Math.log(Math.max(LOG_FLOOR, probabilities[o + c])) * inv);
    }
    let sum = 0;
    for (let c = 0; c < classCount; c++) {
      sum += Math.exp(Math.log(Math.max(LOG_FLOOR, probabilities[o + c])) * inv - max);
    }
    const zTrue = Math.log(Math.max(LOG_FLOOR, probabilities[o + truth[r]])) * inv;
    total += max + Math.log(sum) - zTrue;
  }
  return total / truth.length;
}

/**
 * The temperature in [0.05, 20] that minimises the log-loss of `truth` under the scaled
 * probabilities (golden-section search on log T; the log-likelihood of temperature scaling is
 * unimodal in 1/T).
 *
 * @param probabilities row-major `rows x classCount`
 * @param truth the true class of each row
 */
export function fitTemperature(
  probabilities: ArrayLike<number>,
  truth: ArrayLike<number>,
  classCount: number,
): number {
  if (truth.length === 0) throw new RangeError('fitting a temperature needs at least one row');
  if (probabilities.length !== truth.length * classCount) {
    throw new RangeError(
      `probabilities has ${probabilities.length} values, expected rows x classCount = ${truth.length * classCount}`,
    );
  }
  const loss = (logT: number) => temperedLogLoss(probabilities, truth, classCount, Math.exp(logT));
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(MIN_TEMPERATURE);
  let b = Math.log(MAX_TEMPERATURE);
  let x1 = b - phi * (b - a);
  let x2 = a + phi * (b - a);
  let f1 = loss(x1);
  let f2 = loss(x2);
  for (let i = 0; i < SEARCH_STEPS; i++) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - phi * (b - a);
      f1 = loss(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + phi * (b - a);
      f2 = loss(x2);
    }
  }
  const t = Math.exp((a + b) / 2);
  // Keep 1 when scaling does not help measurably (e.g. a perfectly separated set).
  return loss(Math.log(t)) < loss(0) - 1e-9 ? t : 1;
}
