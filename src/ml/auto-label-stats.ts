/**
 * The statistics behind auto-labelling: how sure we are of an agreement rate measured on a
 * sample (the Wilson score interval), and which confidence threshold makes model labels precise
 * enough, judged on human-labelled validation items.
 *
 * These functions are pure math on numbers the server computed; invalid arguments are the
 * caller's bug and throw `RangeError`. Validate user input (a target precision, a minimum
 * count) where it enters the API, before calling them.
 */

/** z for a two-sided 95% interval: the 0.975 quantile of the standard normal. */
export const Z_95 = 1.959964;

/** A proportion measured on a sample, with its confidence interval. */
export interface ProportionEstimate {
  successes: number;
  n: number;
  /** successes / n, or null when n = 0 (nothing was measured). */
  estimate: number | null;
  /** Bounds of the interval, within [0, 1]; [0, 1] when n = 0. */
  lower: number;
  upper: number;
}

/**
 * The Wilson score interval for a proportion (Wilson, "Probable Inference, the Law of
 * Succession, and Statistical Inference", JASA 22, 1927): unlike the normal approximation it
 * stays inside [0, 1] and is sensible at 0 and n successes and for small n. With n = 0 it is
 * [0, 1] and the estimate is null.
 *
 * center = (p + z²/2n) / (1 + z²/n),  half-width = z √(p(1 − p)/n + z²/4n²) / (1 + z²/n)
 *
 * @example
 * wilsonInterval(8, 10); // { estimate: 0.8, lower: 0.4902, upper: 0.9433 } (rounded)
 */
export function wilsonInterval(successes: number, n: number, z = Z_95): ProportionEstimate {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`n must be a non-negative integer; got ${n}.`);
  }
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`successes must be an integer from 0 to n (${n}); got ${successes}.`);
  }
  if (!(z > 0) || !Number.isFinite(z)) {
    throw new RangeError(`z must be a finite number > 0; got ${z}.`);
  }
  if (n === 0) return { successes, n, estimate: null, lower: 0, upper: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return {
    successes,
    n,
    estimate: p,
    // Exact at the ends, where rounding would otherwise leave 1e-17 or 0.9999999999999999.
    lower: successes === 0 ? 0 : Math.max(0, center - half),
    upper: successes === n ? 1 : Math.min(1, center + half),
  };
}

/** How model labels at or above a threshold fare on the validation items. */
export interface PrecisionAtThreshold {
  threshold: number;
  /** Validation items whose confidence is at or above the threshold. */
  count: number;
  /** How many of them the model got right. */
  correct: number;
  /** correct / count, or null when count = 0. */
  precision: number | null;
  /** count / all validation items (0 when there are none): the share that would be auto-labelled. */
  coverage: number;
  /** The Wilson interval of the precision. */
  interval: { lower: number; upper: number };
}

function checkTable(confidences: ArrayLike<number>, correct: ArrayLike<boolean | number>): void {
  if (confidences.length !== correct.length) {
    throw new RangeError(
      `confidences and correct must have one entry per validation item; got ${confidences.length} and ${correct.length}.`,
    );
  }
  for (let i = 0; i < confidences.length; i++) {
    if (!Number.isFinite(confidences[i])) {
      throw new RangeError(`confidences[${i}] must be a finite number; got ${confidences[i]}.`);
    }
  }
}

function atThreshold(
  threshold: number,
  count: number,
  correct: number,
  total: number,
  z: number,
): PrecisionAtThreshold {
  const { lower, upper } = wilsonInterval(correct, count, z);
  return {
    threshold,
    count,
    correct,
    precision: count === 0 ? null : correct / count,
    coverage: total === 0 ? 0 : count / total,
    interval: { lower, upper },
  };
}

/**
 * The precision of the model's labels on the validation items whose top-class confidence is at
 * or above `threshold`. `confidences[i]` is the model's top-class probability for validation
 * item i; `correct[i]` whether its top class equals the human label.
 *
 * @example
 * precisionAtThreshold([0.95, 0.9, 0.6], [true, false, true], 0.9);
 * // { threshold: 0.9, count: 2, correct: 1, precision: 0.5, coverage: 0.667, interval: ... }
 */
export function precisionAtThreshold(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  threshold: number,
  z = Z_95,
): PrecisionAtThreshold {
  checkTable(confidences, correct);
  let count = 0;
  let right = 0;
  for (let i = 0; i < confidences.length; i++) {
    if (confidences[i] >= threshold) {
      count += 1;
      if (correct[i]) right += 1;
    }
  }
  return atThreshold(threshold, count, right, confidences.length, z);
}

/** How {@link thresholdForPrecision} judges whether a threshold reaches the target. */
export type PrecisionCriterion =
  /** The measured precision reaches the target. */
  | 'estimate'
  /** The lower bound of its Wilson interval reaches the target: a conservative choice. */
  | 'lower-bound';

/** Options of {@link thresholdForPrecision}. */
export interface ThresholdOptions {
  /** Default `estimate`. */
  criterion?: PrecisionCriterion;
  /** z of the intervals reported (and of `lower-bound`). Default {@link Z_95}. */
  z?: number;
}

/** What {@link thresholdForPrecision} found. */
export type ThresholdChoice =
  /** The lowest supported threshold that reaches the target, with its precision and coverage. */
  | ({ status: 'FOUND' } & PrecisionAtThreshold)
  /** Fewer than `minCount` validation items in all: no threshold can be supported. */
  | { status: 'TOO_FEW_LABELS'; total: number; minCount: number; message: string }
  /**
   * No supported threshold reaches the target; `best` is the supported threshold with the
   * highest precision (the lowest such threshold on ties).
   */
  | { status: 'UNREACHABLE'; total: number; best: PrecisionAtThreshold; message: string };

/**
 * The lowest confidence threshold whose precision on the validation items at or above it
 * reaches `target`, judged only where at least `minCount` validation items support it.
 *
 * The rule:
 * - Candidates are the distinct confidence values of the validation items: threshold τ
 *   auto-labels items with confidence ≥ τ, so items of equal confidence are in or out together.
 * - A candidate is *supported* when at least `minCount` validation items have confidence ≥ τ.
 *   Unsupported candidates are never chosen: near the top of the confidence range a handful of
 *   items easily show a precision of 1 that means little.
 * - Fewer than `minCount` validation items in all gives `TOO_FEW_LABELS`.
 * - Otherwise the lowest supported candidate whose precision (or, with
 *   `criterion: 'lower-bound'`, the lower end of its Wilson interval) is ≥ `target` is `FOUND`;
 *   lower thresholds label more items, so this is the one with the largest coverage. When none
 *   reaches the target, `UNREACHABLE` reports the best supported candidate.
 *
 * Precision need not rise with the threshold; the choice guarantees the precision of the whole
 * set at or above the chosen threshold, which is what auto-labelling applies.
 *
 * @param confidences the model's top-class probability for each validation item
 * @param correct whether the model's top class equals the human label, per item
 * @param target the precision to reach, in (0, 1]
 * @param minCount the fewest validation items a threshold must rest on (an integer ≥ 1)
 */
export function thresholdForPrecision(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  target: number,
  minCount: number,
  options: ThresholdOptions = {},
): ThresholdChoice {
  const { criterion = 'estimate', z = Z_95 } = options;
  checkTable(confidences, correct);
  if (!(target > 0 && target <= 1)) {
    throw new RangeError(`target must be a precision in (0, 1]; got ${target}.`);
  }
  if (!Number.isInteger(minCount) || minCount < 1) {
    throw new RangeError(`minCount must be an integer >= 1; got ${minCount}.`);
  }
  const total = confidences.length;
  if (total < minCount) {
    return {
      status: 'TOO_FEW_LABELS',
      total,
      minCount,
      message: `Too few validation labels: a threshold must rest on at least ${minCount} labelled validation items, and there ${total === 1 ? 'is 1' : `are ${total}`}. Label ${minCount - total} more validation item${minCount - total === 1 ? '' : 's'}.`,
    };
  }
  const order = Array.from({ length: total }, (_, i) => i).sort(
    (a, b) => confidences[b] - confidences[a],
  );
  let found: PrecisionAtThreshold | undefined;
  let best: PrecisionAtThreshold | undefined;
  let count = 0;
  let right = 0;
  for (let k = 0; k < total; k++) {
    const i = order[k];
    count += 1;
    if (correct[i]) right += 1;
    const isGroupEnd = k + 1 === total || confidences[order[k + 1]] !== confidences[i];
    if (!isGroupEnd || count < minCount) continue;
    const here = atThreshold(confidences[i], count, right, total, z);
    const judged = criterion === 'lower-bound' ? here.interval.lower : (here.precision as number);
    if (judged >= target) found = here;
    if (!best || (here.precision as number) >= (best.precision as number)) best = here;
  }
  if (found) return { status: 'FOUND', ...found };
  // total >= minCount, so the last candidate (every item) is supported and `best` is set.
  const b = best as PrecisionAtThreshold;
  return {
    status: 'UNREACHABLE',
    total,
    best: b,
    message: `No threshold supported by at least ${minCount} validation items reaches a precision of ${target}${criterion === 'lower-bound' ? ' (at the lower bound of its interval)' : ''}; the best is ${(b.precision as number).toFixed(4)} at threshold ${b.threshold} (${b.count} items). Lower the target or label more validation items.`,
  };
}
