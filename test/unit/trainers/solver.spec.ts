import { minimizeLbfgs } from '../../../src/plugins/trainers/lbfgs';
import {
  crossValidateC,
  DEFAULT_CS,
  fitSoftmaxRegression,
  type RegressionRows,
} from '../../../src/plugins/trainers/softmax-regression';
import { mulberry32 } from '../../../src/strategies/math';
import { maxAbsDifference } from './helpers';

/**
 * 30 rows, 4 features, 3 classes that overlap: feature j carries a bump for class j % 3. The same
 * formula in Python gave the fixtures below (scikit-learn 1.2.1, `LogisticRegression(C, tol=1e-12,
 * max_iter=100000)` on the raw features, gradient of its objective below 3e-5 at its solution):
 *
 *   y = [(i * 7) % 3 for i in range(30)]
 *   X = [[sin(1.3 i + 0.7 j) + (0.9 if y[i] == j % 3 else 0) for j in range(4)] for i in range(30)]
 */
function overlapping(): RegressionRows {
  const rows = 30;
  const dim = 4;
  const y = Int32Array.from({ length: rows }, (_, i) => (i * 7) % 3);
  const x = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dim; j++) {
      x[i * dim + j] = Math.sin(1.3 * i + 0.7 * j) + (y[i] === j % 3 ? 0.9 : 0);
    }
  }
  return { x, y, rows, dim, classCount: 3 };
}

const SKLEARN = {
  0.5: {
    coef: [
      0.9097155607, -0.5117487413, -0.4993374877, 0.9499975153, -0.7150309055, 1.1133764898,
      -0.6036614348, -0.2086846487, -0.1946846552, -0.6016277485, 1.1029989225, -0.7413128666,
    ],
    intercept: [-0.3300346552, 0.1619109689, 0.1681236863],
  },
  10: {
    coef: [
      2.0139510277, -1.0963864636, -1.0841743041, 2.0565127697, -1.774199938, 2.6828750508,
      -1.5887971625, -0.2547330164, -0.2397510897, -1.5864885872, 2.6729714665, -1.8017797533,
    ],
    intercept: [-0.7005046412, 0.3476540029, 0.3528506382],
  },
};

describe('the L-BFGS solver', () => {
  it('finds the minimum of the Rosenbrock function at (1, 1)', () => {
    const result = minimizeLbfgs(
      (x, g) => {
        const [a, b] = x;
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.of(-1.2, 1),
      { gradientTolerance: 1e-9 },
    );
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 6);
    expect(result.x[1]).toBeCloseTo(1, 6);
  });

  it('solves an ill-conditioned quadratic: the minimiser of 1/2 x^T A x - b^T x is A^-1 b', () => {
    // A = diag(1, 10, 100, 1000, 10000), b = (1, 2, 3, 4, 5).
    const diag = [1, 10, 100, 1000, 10000];
    const b = [1, 2, 3, 4, 5];
    const result = minimizeLbfgs(
      (x, g) => {
        let f = 0;
        for (let i = 0; i < 5; i++) {
          g[i] = diag[i] * x[i] - b[i];
          f += 0.5 * diag[i] * x[i] * x[i] - b[i] * x[i];
        }
        return f;
      },
      new Float64Array(5),
      { gradientTolerance: 1e-10, valueTolerance: 0 },
    );
    expect(result.converged).toBe(true);
    expect(
      maxAbsDifference(
        result.x,
        b.map((v, i) => v / diag[i]),
      ),
    ).toBeLessThan(1e-10);
  });

  it('leaves the starting point alone and stops at once where the gradient is already zero', () => {
    const x0 = Float64Array.of(3);
    const result = minimizeLbfgs((x, g) => {
      g[0] = 2 * (x[0] - 3);
      return (x[0] - 3) ** 2;
    }, x0);
    expect(result.iterations).toBe(0);
    expect(result.converged).toBe(true);
    expect(Array.from(x0)).toEqual([3]);
  });
});

describe('softmax regression', () => {
  it.each([0.5, 10] as const)(
    "reaches scikit-learn's coefficients for C = %s (the same objective, the same C)",
    (C) => {
      const fit = fitSoftmaxRegression(overlapping(), C, { gradientTolerance: 1e-10 });
      expect(fit.converged).toBe(true);
      expect(maxAbsDifference(fit.weights, SKLEARN[C].coef)).toBeLessThan(1e-4);
      expect(maxAbsDifference(fit.intercepts, SKLEARN[C].intercept)).toBeLessThan(1e-4);
    },
  );

  it('regularises less as C grows: larger weights and a lower training loss', () => {
    const data = overlapping();
    const strong = fitSoftmaxRegression(data, 0.01);
    const weak = fitSoftmaxRegression(data, 100);
    const norm = (w: Float64Array) => Math.hypot(...w);
    expect(norm(weak.weights)).toBeGreaterThan(2 * norm(strong.weights));
    expect(weak.meanLoss).toBeLessThan(strong.meanLoss);
  });

  it('warm-started from another solution, reaches the same optimum', () => {
    const data = overlapping();
    const cold = fitSoftmaxRegression(data, 10, { gradientTolerance: 1e-10 });
    const start = fitSoftmaxRegression(data, 0.1);
    const warm = fitSoftmaxRegression(
      data,
      10,
      { gradientTolerance: 1e-10 },
      Float64Array.from([...start.weights, ...start.intercepts]),
    );
    expect(maxAbsDifference(warm.weights, cold.weights)).toBeLessThan(1e-6);
  });
});

describe('cross-validation of C', () => {
  /** Two classes; labels follow the first feature's sign, flipped for a share `noise` of rows. */
  function labelled(rows: number, noise: number, seed: number): RegressionRows {
    const random = mulberry32(seed);
    const dim = 5;
    const x = Float64Array.from({ length: rows * dim }, () => random() * 2 - 1);
    const y = Int32Array.from({ length: rows }, (_, r) => {
      const clean = x[r * dim] > 0 ? 1 : 0;
      return random() < noise ? 1 - clean : clean;
    });
    return { x, y, rows, dim, classCount: 2 };
  }
  const options = { Cs: [...DEFAULT_CS], folds: 5, seed: 0, maxRows: 5000, solver: {} };

  it('picks a C from the grid, weak regularisation for clean labels and strong for random ones', () => {
    const clean = crossValidateC(labelled(200, 0, 1), options);
    const random = crossValidateC(labelled(200, 0.5, 2), options);
    expect(DEFAULT_CS).toContain(clean.C);
    expect(DEFAULT_CS).toContain(random.C);
    expect(clean.folds).toBe(5);
    expect(clean.C).toBeGreaterThanOrEqual(100);
    expect(random.C).toBeLessThanOrEqual(0.01);
    // The winner has the lowest held-out loss of the candidates tried.
    const tried = clean.losses.filter((l) => !Number.isNaN(l));
    expect(clean.losses[DEFAULT_CS.indexOf(clean.C)]).toBe(Math.min(...tried));
  });

  it('is not misled by held-out rows of a class the training folds lack (single-row classes)', () => {
    // Ten well separated classes, five of them with one row: holding out that row leaves its
    // class untrained, and any confident model pays a huge loss on it. Scored on such rows too,
    // the clean data got C = 21.5; without them, it gets the weak regularisation it calls for.
    const random = mulberry32(4);
    const y = Int32Array.from([4, 4, 4, 4, 4, 1, 1, 1, 1, 1].flatMap((n, c) => Array(n).fill(c)));
    const rows = y.length;
    const dim = 10;
    const x = new Float64Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < dim; i++) x[r * dim + i] = (i === y[r] ? 3 : 0) + random() - 0.5;
    }
    const { C } = crossValidateC({ x, y, rows, dim, classCount: 10 }, options);
    expect(C).toBeGreaterThanOrEqual(1000);
  });

  it('uses fewer folds than asked when there are fewer rows, and is deterministic for a seed', () => {
    const data = labelled(3, 0, 3);
    data.y[0] = 0;
    data.y[1] = 1;
    const a = crossValidateC(data, options);
    expect(a.folds).toBe(3);
    expect(crossValidateC(data, options)).toEqual(a);
  });
});
