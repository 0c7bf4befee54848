/**
 * The stopping signal of active learning after Bloodgood & Vijay-Shanker, "A Method for Stopping
 * Active Learning Based on Stabilizing Predictions and the Need for User-Adjustable Stopping"
 * (CoNLL 2009): each new model version's predictions on a fixed set of unlabelled items (the
 * stop set) are compared with the previous version's by Cohen's kappa; when the mean of the
 * last three kappas exceeds 0.99, the predictions have stabilised and more labels buy little.
 */

/** Most items in a dataset's stop set. */
export const MAX_STOP_SET = 2000;
/** Kappas averaged by the signal. */
export const STOP_WINDOW = 3;
/** The mean kappa above which the predictions have stabilised. */
export const STOP_KAPPA = 0.99;

/**
 * Cohen's kappa between two raters' classes of the same items: (po − pe) / (1 − pe), po the
 * share of agreement, pe the agreement expected by chance from each rater's class shares.
 * When both give one and the same class to every item (pe = 1) it is 1.
 */
export function cohenKappa(a: ArrayLike<number>, b: ArrayLike<number>, classCount: number): number {
  if (a.length !== b.length) {
    throw new RangeError(`the raters judged ${a.length} and ${b.length} items; expected the same`);
  }
  const n = a.length;
  if (n === 0) throw new RangeError("Cohen's kappa needs at least one item");
  const ca = new Float64Array(classCount);
  const cb = new Float64Array(classCount);
  let agree = 0;
  for (let i = 0; i < n; i++) {
    ca[a[i]] += 1;
    cb[b[i]] += 1;
    if (a[i] === b[i]) agree += 1;
  }
  const po = agree / n;
  let pe = 0;
  for (let c = 0; c < classCount; c++) pe += (ca[c] / n) * (cb[c] / n);
  if (pe >= 1 - 1e-12) return po === 1 ? 1 : 0;
  return (po - pe) / (1 - pe);
}

/** The signal after a model version, from the kappas of the versions so far (oldest first). */
export interface StoppingSignal {
  /** The mean of the last {@link STOP_WINDOW} kappas; null with fewer. */
  meanKappa: number | null;
  stabilised: boolean;
}

/** The signal from the kappas of successive versions, oldest first (nulls: no comparison). */
export function stoppingSignal(kappas: readonly (number | null)[]): StoppingSignal {
  const last = kappas.slice(-STOP_WINDOW);
  if (last.length < STOP_WINDOW || last.some((k) => k === null)) {
    return { meanKappa: null, stabilised: false };
  }
  const meanKappa = (last as number[]).reduce((s, k) => s + k, 0) / STOP_WINDOW;
  return { meanKappa, stabilised: meanKappa > STOP_KAPPA };
}
