import { mulberry32 } from '../../../src/strategies/math';
import {
  argmaxRows,
  firstNonFinite,
  gatherRows,
  softmaxRows,
  topRows,
} from '../../../src/strategies/rows';

describe('softmaxRows', () => {
  it('turns each row of logits into probabilities that sum to 1', () => {
    const logits = Float32Array.of(1, 2, 3, 0, 0, 0);
    softmaxRows(logits, 2, 3);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const sum = e[0] + e[1] + e[2];
    e.forEach((v, j) => expect(logits[j]).toBeCloseTo(v / sum, 6));
    [3, 4, 5].forEach((j) => expect(logits[j]).toBeCloseTo(1 / 3, 6));
  });

  it('stays finite for logits whose exp would overflow', () => {
    const logits = Float32Array.of(1000, 999, -1000);
    softmaxRows(logits, 1, 3);
    expect(firstNonFinite(logits)).toBe(-1);
    expect(logits[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(logits[2]).toBe(0);
  });
});

describe('argmaxRows', () => {
  it('gives each row its most probable class, the lower one on a tie', () => {
    const { predictedClass, confidence } = argmaxRows(
      Float32Array.of(0.2, 0.5, 0.3, 0.4, 0.4, 0.2),
      2,
      3,
    );
    expect(Array.from(predictedClass)).toEqual([1, 0]);
    expect(Array.from(confidence)).toEqual([0.5, 0.4].map(Math.fround));
  });
});

describe('topRows', () => {
  it('gives the highest scores first and the lower row first on a tie', () => {
    const scores = Float64Array.of(0.5, 0.9, 0.5, 0.1, 0.9, 0.5);
    expect(Array.from(topRows(scores, 4))).toEqual([1, 4, 0, 2]);
  });

  it('ranks infinities like any other score', () => {
    const scores = Float64Array.of(-Infinity, 1, Infinity, 0);
    expect(Array.from(topRows(scores, 4))).toEqual([2, 1, 3, 0]);
  });

  it('gives every row when asked for more rows than there are', () => {
    expect(Array.from(topRows(Float64Array.of(3, 1, 2), 10))).toEqual([0, 2, 1]);
  });

  it('agrees with a full sort on many random scores with ties', () => {
    const random = mulberry32(7);
    const scores = Float64Array.from({ length: 5000 }, () => Math.floor(random() * 200) / 10);
    const sorted = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
    for (const keep of [1, 17, 256, 5000]) {
      expect(Array.from(topRows(scores, keep))).toEqual(sorted.slice(0, keep));
    }
  });
});

describe('gatherRows', () => {
  it('copies the given rows in the given order', () => {
    const values = Float32Array.of(0, 1, 10, 11, 20, 21);
    expect(Array.from(gatherRows(values, 2, Int32Array.of(2, 0)))).toEqual([20, 21, 0, 1]);
  });
});
