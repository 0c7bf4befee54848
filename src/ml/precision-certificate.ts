/**
 * Certified auto-labelling: exact (Clopper-Pearson) binomial bounds, and the choice of a
 * confidence threshold whose precision is at least a target with a stated confidence, by
 * fixed-sequence testing over candidate thresholds fixed before any label is looked at
 * (Learn-then-Test: Angelopoulos, Bates, Candès, Jordan & Lei, "Learn then Test: Calibrating
 * Predictive Algorithms to Achieve Risk Control", 2021).
 *
 * Pure math on numbers the server computed; invalid arguments are the caller's bug and throw
 * `RangeError`.
 */
import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';

/**
 * The candidate thresholds, most conservative first. Fixed in the code, so they are chosen
 * before the labels are seen, as Learn-then-Test requires. Dense near 1, where a good model's
 * confidences crowd.
 */
export const CANDIDATE_THRESHOLDS: readonly number[] = (() => {
  const out = [0.9999, 0.9995];
  for (let k = 999; k >= 990; k--) out.push(k / 1000);
  for (let k = 197; k >= 180; k--) out.push(k / 200);
  for (let k = 89; k >= 20; k--) out.push(k / 100);
  return Object.freeze(out);
})();

function checkCount(successes: number, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`n must be a non-negative integer; got ${n}.`);
  }
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`successes must be an integer from 0 to n (${n}); got ${successes}.`);
  }
}

function checkLevel(name: string, alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`${name} must be in (0, 1); got ${alpha}.`);
}

/**
 * The exact one-sided lower confidence bound of a binomial proportion: the p with
 * P(Binomial(n, p) ≥ successes) = alpha, i.e. the alpha quantile of Beta(successes, n − successes + 1)
 * (0 for 0 successes). The true proportion is at least this with probability ≥ 1 − alpha.
 *
 * @example clopperPearsonLower(59, 59, 0.05); // 0.9505 (0.05^(1/59))
 */
export function clopperPearsonLower(successes: number, n: number, alpha: number): number {
  checkCount(successes, n);
  checkLevel('alpha', alpha);
  if (successes === 0) return 0;
  return betaQuantile(alpha, successes, n - successes + 1);
}

/** The exact one-sided upper bound: the 1 − alpha quantile of Beta(successes + 1, n − successes). */
export function clopperPearsonUpper(successes: number, n: number, alpha: number): number {
  checkCount(successes, n);
  checkLevel('alpha', alpha);
  if (successes === n) return 1;
  return betaQuantile(1 - alpha, successes + 1, n - successes);
}

/**
 * The exact two-sided Clopper-Pearson interval at `level` (default 0.95): each end is a
 * one-sided bound at (1 − level) / 2. [0, 1] with no estimate when n = 0.
 *
 * @example clopperPearsonInterval(8, 10); // { estimate: 0.8, lower: 0.4439, upper: 0.9748 }
 */
export function clopperPearsonInterval(
  successes: number,
  n: number,
  level = 0.95,
): { successes: number; n: number; estimate: number | null; lower: number; upper: number } {
  checkCount(successes, n);
  checkLevel('level', level);
  if (n === 0) return { successes, n, estimate: null, lower: 0, upper: 1 };
  const alpha = (1 - level) / 2;
  return {
    successes,
    n,
    estimate: successes / n,
    lower: clopperPearsonLower(successes, n, alpha),
    upper: clopperPearsonUpper(successes, n, alpha),
  };
}

/**
 * The fewest items a threshold must rest on before it can be certified at all: with no error
 * among n items the exact lower bound is delta^(1/n), which reaches `target` from
 * n = ceil(ln delta / ln target) on (59 for 0.95 at delta 0.05, 299 for 0.99).
 */
export function minimumCertifiableCount(target: number, delta: number): number {
  checkLevel('delta', delta);
  if (!(target > 0 && target < 1)) throw new RangeError(`target must be in (0, 1); got ${target}.`);
  return Math.ceil(Math.log(delta) / Math.log(target) - 1e-12);
}

/** One tested candidate: the validation items at or above it, and the bound they give. */
export interface CandidateTest {
  threshold: number;
  /** Validation items (of the class, for a per-class test) at or above the threshold. */
  n: number;
  errors: number;
  /** The exact one-sided lower bound of the precision at 1 − delta. */
  bound: number;
  certified: boolean;
  /** Which fixed sequence tested it: an index into {@link CHAIN_STARTS}. */
  chain: number;
}

/** What certifying one set of validation items gave. */
export interface CertifiedThreshold {
  /** The lowest certified candidate, or null when none was. */
  threshold: number | null;
  /** The target precision. */
  target: number;
  /**
   * The error rate of each test: the delta asked (delta / classes per class) split over the
   * {@link CHAIN_STARTS} sequences.
   */
  delta: number;
  /** Items, errors and bound at the chosen threshold (at the first tested one when none was). */
  n: number;
  errors: number;
  bound: number;
  /** The candidates tested, chain by chain; each chain stops at its first one not certified. */
  tested: CandidateTest[];
  /**
   * When nothing was certified: about how many more validation labels (drawn at random, as the
   * ones used) would let a threshold be certified if the model's precision stays what it is on
   * the validation items; null when its measured precision is not above the target anywhere.
   */
  moreLabelsNeeded: number | null;
}

/** Options of {@link certifyThreshold}. */
export interface CertifyOptions {
  /** The precision to guarantee, in (0, 1). */
  target: number;
  /** 1 − the confidence of the guarantee, in (0, 1). */
  delta: number;
  /** The candidates, most conservative (highest) first. Default {@link CANDIDATE_THRESHOLDS}. */
  candidates?: readonly number[];
}

/**
 * Growth of the item count between two tested candidates: a candidate is tested only once it
 * rests on 25% more validation items than the last one tested. Measured on 200 random splits
 * of the digits (bench/autolabel.ts and test/unit/precision-certificate.spec.ts): testing every
 * grid value walks down until the validation items' luck runs out, and the pool, which holds the
 * other items, then misses the target more often (183 of 200 splits met 0.9); steps of 25% kept
 * it at 194 to 200 of 200 for targets 0.9 to 0.98, at a coverage 2 to 8 points lower.
 */
export const TEST_STEP_GROWTH = 1.25;

/**
 * Where the fixed sequences start, as a share of the validation items: one at the top (the
 * fewest items that could be certified), one at half of them, each tested at delta / 2 (so that
 * together they keep delta, by Bonferroni). A model whose most confident items hold a few
 * confident mistakes (common after few labels) stops the top chain at its first test; the second
 * chain never looks there. On the digits with 1% confident mistakes, 200 of 200 splits were
 * certified at 0.9 against 20 with the top chain alone; at 0.98 without such mistakes it
 * certified 29 splits against 89 (the price of delta / 2). With so few items that half of them
 * are fewer than the first sequence starts with, only the first runs, at the whole delta.
 */
export const CHAIN_STARTS: readonly number[] = [0, 0.5];

/**
 * Fixed-sequence testing of the candidate thresholds λ1 > λ2 > ... (Learn-then-Test): for each
 * in turn the null hypothesis "the precision of the items at or above λ is below target" is
 * rejected when the exact lower bound of the validation items at or above λ reaches the target;
 * testing stops at the first candidate not rejected. Two such sequences run (see
 * {@link CHAIN_STARTS}), each at delta / 2, and the lowest candidate either certified is chosen:
 * each sequence certifies a threshold whose precision is below the target with probability at
 * most delta / 2, so both together at most delta.
 *
 * Candidates at or above which fewer than {@link minimumCertifiableCount} items lie (or, for the
 * second sequence, fewer than half of the validation items) are passed over, and after that a
 * candidate is tested only when it rests on {@link TEST_STEP_GROWTH} times the items of the last
 * one tested. These rules read confidences only, not labels, so the sequences are fixed before
 * the labels are looked at.
 *
 * @param confidences top-class confidence of each validation item
 * @param correct whether the model's top class is the item's label
 */
export function certifyThreshold(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  options: CertifyOptions,
): CertifiedThreshold {
  const { target, delta, candidates = CANDIDATE_THRESHOLDS } = options;
  if (confidences.length !== correct.length) {
    throw new RangeError(
      `confidences and correct must have one entry per item; got ${confidences.length} and ${correct.length}.`,
    );
  }
  const counts = candidates.map((threshold) => {
    let n = 0;
    let errors = 0;
    for (let i = 0; i < confidences.length; i++) {
      if (confidences[i] >= threshold) {
        n += 1;
        if (!correct[i]) errors += 1;
      }
    }
    return { threshold, n, errors };
  });
  // The second sequence only when it starts below the first one's start (it depends on the
  // number of items, not on the labels): otherwise one sequence at the whole delta.
  const total = confidences.length;
  const split = Math.ceil(CHAIN_STARTS[1] * total) > minimumCertifiableCount(target, delta / 2);
  const starts = split ? CHAIN_STARTS : CHAIN_STARTS.slice(0, 1);
  const chainDelta = delta / starts.length;
  const nMin = minimumCertifiableCount(target, chainDelta);
  const tested: CandidateTest[] = [];
  let chosen: CandidateTest | null = null;
  starts.forEach((start, chain) => {
    let level = Math.max(nMin, Math.ceil(start * total));
    for (const c of counts) {
      if (c.n < level) continue;
      while (level <= c.n) level = Math.ceil(level * TEST_STEP_GROWTH);
      const bound = clopperPearsonLower(c.n - c.errors, c.n, chainDelta);
      const test = { ...c, chain, bound, certified: bound >= target };
      tested.push(test);
      if (!test.certified) break;
      if (!chosen || test.threshold < chosen.threshold) chosen = test;
    }
  });
  const found = chosen as CandidateTest | null;
  const at = found ?? tested[0] ?? { n: 0, errors: 0, bound: 0 };
  return {
    threshold: found ? found.threshold : null,
    target,
    delta: chainDelta,
    n: at.n,
    errors: at.errors,
    bound: at.bound,
    tested,
    moreLabelsNeeded: found ? 0 : moreLabelsNeeded(counts, total, target, chainDelta, nMin),
  };
}

/** Most validation labels {@link moreLabelsNeeded} looks at. */
const MAX_NEEDED = 1_000_000;

/**
 * About how many more validation labels would certify some candidate, if at each candidate the
 * share of items at or above it and their precision stayed as measured: the fewest over the
 * candidates whose measured precision is above the target (on at least 10 items).
 */
function moreLabelsNeeded(
  counts: { threshold: number; n: number; errors: number }[],
  total: number,
  target: number,
  delta: number,
  nMin: number,
): number | null {
  let best: number | null = null;
  for (const c of counts) {
    if (c.n < 10) continue;
    const precision = 1 - c.errors / c.n;
    if (!(precision > target)) continue;
    const coverage = c.n / total;
    let n = Math.max(nMin, c.n);
    // Grow n by about 2% a step until the bound on the scaled-up counts reaches the target.
    while (n <= MAX_NEEDED) {
      const errors = Math.round(n * (1 - precision));
      if (clopperPearsonLower(n - errors, n, delta) >= target) break;
      n = Math.max(n + 1, Math.ceil(n * 1.02));
    }
    if (n > MAX_NEEDED) continue;
    const more = Math.max(1, Math.ceil(n / coverage) - total);
    if (best === null || more < best) best = more;
  }
  return best;
}

/** Per-class certification: each class's own threshold, delta split evenly over the classes. */
export interface PerClassCertificate {
  /** delta / classCount per class (Bonferroni), so that all hold together with 1 − delta. */
  classes: CertifiedThreshold[];
}

/**
 * A threshold per predicted class (items the model gives class c are judged on the validation
 * items it gives class c), each certified at delta / classCount, so that with probability at
 * least 1 − delta every class's auto-labels reach the target, and so all of them together.
 * A class with no certified threshold gets no auto-labels.
 */
export function certifyPerClass(
  confidences: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  predictedClass: ArrayLike<number>,
  classCount: number,
  options: CertifyOptions,
): PerClassCertificate {
  const perDelta = options.delta / classCount;
  const classes: CertifiedThreshold[] = [];
  for (let c = 0; c < classCount; c++) {
    const conf: number[] = [];
    const ok: boolean[] = [];
    for (let i = 0; i < confidences.length; i++) {
      if (predictedClass[i] !== c) continue;
      conf.push(confidences[i]);
      ok.push(Boolean(correct[i]));
    }
    classes.push(certifyThreshold(conf, ok, { ...options, delta: perDelta }));
  }
  return { classes };
}
