/**
 * Limited-memory BFGS (L-BFGS) for smooth unconstrained minimisation, with a line search that
 * meets the strong Wolfe conditions: Nocedal & Wright, "Numerical Optimization" (2nd ed.),
 * Algorithm 7.4 (two-loop recursion) and Algorithms 3.5/3.6 (bracketing and zoom). This is the
 * method scikit-learn's `lbfgs` solver runs (through SciPy's L-BFGS-B without bounds). No npm
 * optimiser library of this kind was found that is maintained and typed, so it lives here, with
 * unit tests against known optima (test/unit/trainers/lbfgs.spec.ts).
 */

/**
 * The objective: writes the gradient at `x` into `gradient` (same length) and returns the value.
 * Must not keep or change `x`.
 */
export type Objective = (x: Float64Array, gradient: Float64Array) => number;

/** Options of {@link minimizeLbfgs}. */
export interface LbfgsOptions {
  /** Correction pairs kept (`m`). Default 10, as SciPy's `maxcor`. */
  memory?: number;
  /** Iterations (line searches) at most. Default 1000. */
  maxIterations?: number;
  /** Converged when the largest absolute gradient entry is at most this. Default 1e-6. */
  gradientTolerance?: number;
  /**
   * Converged when an iteration lowers the value by at most this times `max(|f|, 1)`: nothing
   * left to gain at float64 precision. Default 1e-13.
   */
  valueTolerance?: number;
}

/** What {@link minimizeLbfgs} found. */
export interface LbfgsResult {
  x: Float64Array;
  value: number;
  /** Largest absolute gradient entry at `x`. */
  gradientMax: number;
  iterations: number;
  /** Objective evaluations, line searches included. */
  evaluations: number;
  /** Whether a tolerance was met (otherwise `maxIterations` ran out or the line search failed). */
  converged: boolean;
}

const DEFAULTS: Required<LbfgsOptions> = {
  memory: 10,
  maxIterations: 1000,
  gradientTolerance: 1e-6,
  valueTolerance: 1e-13,
};

/** Sufficient decrease (c1) and curvature (c2) constants of the strong Wolfe conditions. */
const WOLFE = { c1: 1e-4, c2: 0.9 };
const MAX_LINE_SEARCH_STEPS = 40;

/**
 * Minimises `objective` from `x0` (not changed). Deterministic: no randomness.
 *
 * @example
 * ```ts
 * // f(x) = (x0 - 3)^2 + 10 (x1 + 1)^2
 * const { x } = minimizeLbfgs((x, g) => {
 *   g[0] = 2 * (x[0] - 3);
 *   g[1] = 20 * (x[1] + 1);
 *   return (x[0] - 3) ** 2 + 10 * (x[1] + 1) ** 2;
 * }, new Float64Array(2));
 * ```
 */
export function minimizeLbfgs(
  objective: Objective,
  x0: Float64Array,
  options: LbfgsOptions = {},
): LbfgsResult {
  const { memory, maxIterations, gradientTolerance, valueTolerance } = { ...DEFAULTS, ...options };
  const n = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let f = objective(x, g);
  let evaluations = 1;
  if (!Number.isFinite(f)) throw new RangeError(`the objective is ${f} at the starting point`);

  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(memory);
  const d = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);

  let iterations = 0;
  let converged = maxAbs(g) <= gradientTolerance;
  while (!converged && iterations < maxIterations) {
    // Two-loop recursion: d = -H g.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let k = s.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(s[k], d);
      axpy(-alpha[k], y[k], d);
    }
    if (s.length > 0) {
      const last = s.length - 1;
      scale(d, dot(s[last], y[last]) / dot(y[last], y[last]));
    } else {
      // First step: a unit step along -g could be huge; start at length 1 in the inf-norm.
      scale(d, 1 / Math.max(1, maxAbs(g)));
    }
    for (let k = 0; k < s.length; k++) {
      const beta = rho[k] * dot(y[k], d);
      axpy(alpha[k] - beta, s[k], d);
    }
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (rounding in a flat region): forget the curvature pairs.
      s.length = y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i] / Math.max(1, maxAbs(g));
      slope = dot(g, d);
    }

    const search = lineSearch(objective, x, f, g, d, slope, xNew, gNew);
    evaluations += search.evaluations;
    iterations++;
    if (!search.ok) break;

    const sk = new Float64Array(n);
    const yk = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sk[i] = xNew[i] - x[i];
      yk[i] = gNew[i] - g[i];
    }
    const sy = dot(sk, yk);
    // The curvature condition makes sy > 0; keep only pairs that keep H positive definite.
    if (sy > 1e-12 * dot(yk, yk)) {
      if (s.length === memory) {
        s.shift();
        y.shift();
        rho.shift();
      }
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
    }
    const decrease = f - search.value;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    f = search.value;
    converged =
      maxAbs(g) <= gradientTolerance || decrease <= valueTolerance * Math.max(Math.abs(f), 1);
  }
  return { x, value: f, gradientMax: maxAbs(g), iterations, evaluations, converged };
}

/**
 * Finds a step `t` along `d` that meets the strong Wolfe conditions, writing `x + t d` and its
 * gradient into `xOut` and `gOut`. `ok` is false when no such step was found (then `xOut` holds
 * the best point seen only if it lowered the value; the caller stops).
 */
function lineSearch(
  objective: Objective,
  x: Float64Array,
  f0: number,
  g0: Float64Array,
  d: Float64Array,
  slope0: number,
  xOut: Float64Array,
  gOut: Float64Array,
): { ok: boolean; value: number; evaluations: number } {
  const { c1, c2 } = WOLFE;
  let evaluations = 0;
  const at = (t: number): { f: number; slope: number } => {
    for (let i = 0; i < x.length; i++) xOut[i] = x[i] + t * d[i];
    const f = objective(xOut, gOut);
    evaluations++;
    return { f, slope: dot(gOut, d) };
  };
  const accept = (f: number) => ({ ok: true, value: f, evaluations });

  let tPrev = 0;
  let fPrev = f0;
  let slopePrev = slope0;
  let t = 1;
  for (let step = 0; step < MAX_LINE_SEARCH_STEPS; step++) {
    const { f, slope } = at(t);
    if (!Number.isFinite(f)) {
      // Overflow far out: come back towards the last good step.
      t = tPrev + (t - tPrev) / 10;
      continue;
    }
    if (f > f0 + c1 * t * slope0 || (step > 0 && f >= fPrev)) {
      return zoom(tPrev, fPrev, slopePrev, t, f, slope);
    }
    if (Math.abs(slope) <= -c2 * slope0) return accept(f);
    if (slope >= 0) return zoom(t, f, slope, tPrev, fPrev, slopePrev);
    tPrev = t;
    fPrev = f;
    slopePrev = slope;
    t *= 2;
  }
  return { ok: false, value: f0, evaluations };

  // Nocedal & Wright Algorithm 3.6: `lo` satisfies sufficient decrease with the lowest value
  // seen, and the minimiser lies between lo and hi.
  function zoom(
    tLo: number,
    fLo: number,
    slopeLo: number,
    tHi: number,
    fHi: number,
    slopeHi: number,
  ): { ok: boolean; value: number; evaluations: number } {
    for (let step = 0; step < MAX_LINE_SEARCH_STEPS; step++) {
      const lo = Math.min(tLo, tHi);
      const width = Math.abs(tHi - tLo);
      let t = cubicMinimizer(tLo, fLo, slopeLo, tHi, fHi, slopeHi);
      // Safeguard: stay well inside the interval, else bisect.
      if (!Number.isFinite(t) || t < lo + 0.1 * width || t > lo + 0.9 * width) {
        t = (tLo + tHi) / 2;
      }
      const { f, slope } = at(t);
      if (!Number.isFinite(f) || f > f0 + c1 * t * slope0 || f >= fLo) {
        tHi = t;
        fHi = f;
        slopeHi = slope;
      } else {
        if (Math.abs(slope) <= -c2 * slope0) return accept(f);
        if (slope * (tHi - tLo) >= 0) {
          tHi = tLo;
          fHi = fLo;
          slopeHi = slopeLo;
        }
        tLo = t;
        fLo = f;
        slopeLo = slope;
      }
      if (width < 1e-16 * Math.max(1, Math.abs(tLo))) break;
    }
    // The interval shrank to nothing: take the best point if it lowered the value at all.
    if (tLo > 0 && fLo < f0) {
      const { f } = at(tLo);
      return { ok: true, value: f, evaluations };
    }
    return { ok: false, value: f0, evaluations };
  }
}

/** Minimiser of the cubic through two points with their slopes (NaN when it has none). */
function cubicMinimizer(
  a: number,
  fa: number,
  ga: number,
  b: number,
  fb: number,
  gb: number,
): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const root = d1 * d1 - ga * gb;
  if (root < 0) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(root);
  return b - ((b - a) * (gb + d2 - d1)) / (gb - ga + 2 * d2);
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function scale(x: Float64Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}

function maxAbs(x: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]));
  return worst;
}
