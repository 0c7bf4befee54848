/**
 * Classification metrics from true class indices and predicted probabilities, and the area
 * under a learning curve. Pure functions over plain arrays: they run wherever the predictions
 * are (a worker, a job, a test).
 *
 * The predicted class of a row is the argmax of its probabilities, the lowest class index on a
 * tie (as the inference workers pick it).
 */

/** Precision, recall and F1 of one class, one-vs-rest. */
export interface ClassMetrics {
  /** Of the rows predicted as this class, the share that are; 0 when none was predicted. */
  precision: number;
  /** Of the rows of this class, the share predicted as it; 0 when the class has no rows. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

/** Reliability-diagram bin of {@link ClassificationMetrics.calibrationBins}. */
export interface CalibrationBin {
  /** The bin covers top-class confidences in `(lower, upper]` (the first bin includes 0). */
  lower: number;
  upper: number;
  /** Rows whose top-class confidence falls in the bin. */
  count: number;
  /** Mean top-class confidence of those rows; 0 when the bin is empty. */
  confidence: number;
  /** Share of those rows predicted correctly; 0 when the bin is empty. */
  accuracy: number;
}

/** What {@link classificationMetrics} computes. */
export interface ClassificationMetrics {
  rows: number;
  classCount: number;
  /** Share of rows whose predicted class is the true one. */
  accuracy: number;
  /**
   * Unweighted mean of the per-class F1 over the classes that occur in the truth or in the
   * predictions. A class absent from both has nothing to be right or wrong about and is left
   * out, as scikit-learn's `f1_score(average='macro')` does when `labels` is not given; a class
   * present on one side only counts with F1 = 0 (scikit-learn's `zero_division=0`).
   */
  macroF1: number;
  /** One entry per class index; a class absent from both sides reports zeros. */
  perClass: ClassMetrics[];
  /**
   * Mean of `-ln p(true class)` with `p` clipped to `[1e-15, 1]` (so a confident miss costs
   * about 34.5, not infinity). Probabilities are taken as given, not renormalised.
   */
  logLoss: number;
  /**
   * Expected calibration error (Guo et al., 2017): the rows' top-class confidences are put in
   * 15 equal-width bins over [0, 1] (`(k/15, (k+1)/15]`, the first also taking 0), and
   * `ECE = sum over bins of (count / rows) * |accuracy - mean confidence|`.
   */
  expectedCalibrationError: number;
  /** The 15 bins behind the ECE, for a reliability diagram. */
  calibrationBins: CalibrationBin[];
  /** `confusion[t][p]`: rows of true class `t` predicted as `p`. */
  confusion: number[][];
}

/** Bins of the expected calibration error. */
export const CALIBRATION_BINS = 15;
/** Floor of the probability inside the log-loss. */
export const LOG_LOSS_EPSILON = 1e-15;

/**
 * Accuracy, macro-F1, per-class precision/recall/F1/support, log-loss, expected calibration
 * error and the confusion matrix of a set of predictions.
 *
 * @param truth true class index of each row, integers in `[0, classCount)`
 * @param probabilities row-major `rows x classCount` predicted probabilities
 * @throws RangeError when the sizes disagree, there are no rows, a true class is out of range,
 *   or a probability is not finite
 *
 * @example
 * ```ts
 * classificationMetrics([0, 1], Float32Array.of(0.9, 0.1, 0.3, 0.7), 2).accuracy; // 1
 * ```
 */
export function classificationMetrics(
  truth: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  classCount: number,
): ClassificationMetrics {
  const rows = truth.length;
  if (!Number.isSafeInteger(classCount) || classCount < 1) {
    throw new RangeError(`classCount must be a positive integer, got ${String(classCount)}`);
  }
  if (rows === 0) throw new RangeError('metrics need at least one row');
  if (probabilities.length !== rows * classCount) {
    throw new RangeError(
      `probabilities has ${probabilities.length} values, expected rows x classCount = ${rows * classCount}`,
    );
  }

  const confusion = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  const binCount = new Float64Array(CALIBRATION_BINS);
  const binConfidence = new Float64Array(CALIBRATION_BINS);
  const binCorrect = new Float64Array(CALIBRATION_BINS);
  let correct = 0;
  let logLossSum = 0;
  for (let r = 0; r < rows; r++) {
    const t = truth[r];
    if (!Number.isInteger(t) || t < 0 || t >= classCount) {
      throw new RangeError(
        `truth[${r}] is ${t}, expected a class index from 0 to ${classCount - 1}`,
      );
    }
    const o = r * classCount;
    let predicted = 0;
    let top = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const p = probabilities[o + c];
      if (!Number.isFinite(p)) {
        throw new RangeError(`the probability of class ${c} in row ${r} is ${p}`);
      }
      if (p > top) {
        top = p;
        predicted = c;
      }
    }
    confusion[t][predicted]++;
    const hit = predicted === t ? 1 : 0;
    correct += hit;
    logLossSum -= Math.log(Math.min(1, Math.max(LOG_LOSS_EPSILON, probabilities[o + t])));
    const bin = Math.min(CALIBRATION_BINS - 1, Math.max(0, Math.ceil(top * CALIBRATION_BINS) - 1));
    binCount[bin]++;
    binConfidence[bin] += top;
    binCorrect[bin] += hit;
  }

  const perClass: ClassMetrics[] = [];
  let f1Sum = 0;
  let present = 0;
  for (let c = 0; c < classCount; c++) {
    let support = 0;
    let predictedAs = 0;
    for (let k = 0; k < classCount; k++) {
      support += confusion[c][k];
      predictedAs += confusion[k][c];
    }
    const tp = confusion[c][c];
    const precision = predictedAs > 0 ? tp / predictedAs : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass.push({ precision, recall, f1, support });
    if (support > 0 || predictedAs > 0) {
      f1Sum += f1;
      present++;
    }
  }

  const calibrationBins: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    const count = binCount[b];
    const confidence = count > 0 ? binConfidence[b] / count : 0;
    const accuracy = count > 0 ? binCorrect[b] / count : 0;
    ece += (count / rows) * Math.abs(accuracy - confidence);
    calibrationBins.push({
      lower: b / CALIBRATION_BINS,
      upper: (b + 1) / CALIBRATION_BINS,
      count,
      confidence,
      accuracy,
    });
  }

  return {
    rows,
    classCount,
    accuracy: correct / rows,
    // Every row is in the truth, so at least one class is present.
    macroF1: f1Sum / present,
    perClass,
    logLoss: logLossSum / rows,
    expectedCalibrationError: ece,
    calibrationBins,
    confusion,
  };
}

/** One point of a learning curve: a metric after training on `labels` labelled items. */
export interface LearningCurvePoint {
  labels: number;
  accuracy: number;
}

/**
 * The normalised area under a learning curve: the trapezoid-rule area under accuracy against
 * label count, divided by the range of label counts, i.e. the mean accuracy over the labelling
 * effort. 1 is perfect from the first label on; comparing two strategies is fair only over the
 * same label range.
 *
 * Points are sorted by `labels` first; points with the same label count (repeated runs) are
 * averaged into one. A single label count gives its accuracy.
 *
 * @throws RangeError when there are no points, or a label count or accuracy is not a finite
 *   number (label counts must also be non-negative)
 *
 * @example
 * ```ts
 * areaUnderLearningCurve([{ labels: 0, accuracy: 0.5 }, { labels: 100, accuracy: 0.9 }]); // 0.7
 * ```
 */
export function areaUnderLearningCurve(points: readonly LearningCurvePoint[]): number {
  if (points.length === 0) throw new RangeError('a learning curve needs at least one point');
  const byLabels = new Map<number, { sum: number; n: number }>();
  points.forEach((p, i) => {
    if (!Number.isFinite(p.labels) || p.labels < 0) {
      throw new RangeError(`points[${i}].labels is ${p.labels}, expected a non-negative number`);
    }
    if (!Number.isFinite(p.accuracy)) {
      throw new RangeError(`points[${i}].accuracy is ${p.accuracy}, expected a finite number`);
    }
    const entry = byLabels.get(p.labels) ?? { sum: 0, n: 0 };
    entry.sum += p.accuracy;
    entry.n++;
    byLabels.set(p.labels, entry);
  });
  const curve = [...byLabels.entries()]
    .map(([labels, { sum, n }]) => ({ labels, accuracy: sum / n }))
    .sort((a, b) => a.labels - b.labels);
  if (curve.length === 1) return curve[0].accuracy;
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1];
    const b = curve[i];
    area += ((b.labels - a.labels) * (a.accuracy + b.accuracy)) / 2;
  }
  return area / (curve[curve.length - 1].labels - curve[0].labels);
}
