import {
  argmax,
  argmaxExcept,
  dot,
  entropy,
  mulberry32,
  randomInt,
  samplePermutation,
  seedFrom,
  sortByScore,
  squaredDistance,
  squaredNorm,
  topK,
} from '../../../src/strategies/math';

describe('topK', () => {
  it('returns the indices of the k highest scores, highest first', () => {
    expect(topK(Float64Array.of(0.2, 0.9, 0.5, 0.1, 0.7), 3)).toEqual([1, 4, 2]);
  });

  it('breaks ties by the lower index first', () => {
    // Scores 1, 3, 3, 1, 3: the three 3s in index order, then the 1s in index order.
    expect(topK(Float64Array.of(1, 3, 3, 1, 3), 5)).toEqual([1, 2, 4, 0, 3]);
    expect(topK(Float64Array.of(1, 3, 3, 1, 3), 2)).toEqual([1, 2]);
    expect(topK(new Float64Array(6), 3)).toEqual([0, 1, 2]);
  });

  it('returns every index when k is at least the length, and none when k is 0 or the input is empty', () => {
    expect(topK(Float64Array.of(2, 1), 5)).toEqual([0, 1]);
    expect(topK(Float64Array.of(2, 1), 0)).toEqual([]);
    expect(topK(new Float64Array(0), 3)).toEqual([]);
  });

  it('ranks NaN below every number', () => {
    expect(topK(Float64Array.of(NaN, -Infinity, 0, NaN), 4)).toEqual([2, 1, 0, 3]);
  });

  it('agrees with a full sort on a large random input with many ties', () => {
    const random = mulberry32(42);
    const scores = Float64Array.from({ length: 5000 }, () => Math.floor(random() * 50));
    const sorted = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
    for (const k of [1, 7, 100, 4999, 5000]) expect(topK(scores, k)).toEqual(sorted.slice(0, k));
  });
});

describe('sortByScore', () => {
  it('orders a subset of rows by score, ties by lower index', () => {
    const scores = Float64Array.of(5, 1, 5, 9, 1);
    expect(sortByScore(scores, [4, 2, 1, 0, 3])).toEqual([3, 0, 2, 1, 4]);
  });
});

describe('mulberry32', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const c = mulberry32(8);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
  });

  it('returns numbers in [0, 1) spread evenly over ten bins', () => {
    const random = mulberry32(123);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 100000; i++) {
      const x = random();
      expect(x >= 0 && x < 1).toBe(true);
      bins[Math.floor(x * 10)]++;
    }
    // Expected 10,000 per bin, standard deviation ~95.
    for (const n of bins) expect(Math.abs(n - 10000)).toBeLessThan(500);
  });
});

describe('seedFrom', () => {
  it('derives a stable 32-bit seed from strings and numbers', () => {
    expect(seedFrom('round-7')).toBe(seedFrom('round-7'));
    expect(seedFrom(0)).toBe(seedFrom('0'));
    expect(seedFrom(0)).not.toBe(seedFrom(1));
    expect(seedFrom('a')).not.toBe(seedFrom('b'));
    for (const v of [0, 1, 'x', 4294967295]) {
      const s = seedFrom(v);
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    }
  });
});

describe('randomInt and samplePermutation', () => {
  it('keeps randomInt in range even for a generator that returns 1', () => {
    expect(randomInt(() => 0.999999, 3)).toBe(2);
    expect(randomInt(() => 1, 3)).toBe(2);
    expect(randomInt(() => 0, 3)).toBe(0);
  });

  it('draws k distinct rows, and all of them when k >= n', () => {
    const draw = Array.from(samplePermutation(10, 4, mulberry32(3)));
    expect(draw).toHaveLength(4);
    expect(new Set(draw).size).toBe(4);
    expect(Array.from(samplePermutation(5, 9, mulberry32(3))).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(samplePermutation(0, 3, mulberry32(3))).toHaveLength(0);
  });

  it('follows Fisher–Yates: with draws 0.5 then 0 from 4 rows it swaps 0<->2 then 1<->1', () => {
    // i=0: j = 0 + floor(0.5 x 4) = 2 -> [2, 1, 0, 3]; i=1: j = 1 + floor(0 x 3) = 1 -> [2, 1, ...].
    const draws = [0.5, 0];
    expect(Array.from(samplePermutation(4, 2, () => draws.shift()!))).toEqual([2, 1]);
  });
});

describe('argmax and argmaxExcept', () => {
  it('find the largest value within a row, ties to the lower index', () => {
    const p = Float32Array.of(0.1, 0.9, 0.4, 0.4, 0.2);
    expect(argmax(p)).toBe(1);
    expect(argmax(p, 2, 3)).toBe(0); // 0.4, 0.4, 0.2 -> first 0.4
    expect(argmaxExcept(p, 2, 3, 0)).toBe(1); // the other 0.4
    expect(argmaxExcept(p, 0, 1, 0)).toBe(-1);
    expect(argmax(p, 0, 0)).toBe(-1);
  });
});

describe('entropy', () => {
  it('is in nats, 0 for a certain distribution and ln n for a uniform one', () => {
    expect(entropy(Float64Array.of(1, 0, 0))).toBe(0);
    expect(entropy(Float64Array.of(0.25, 0.25, 0.25, 0.25))).toBeCloseTo(Math.log(4), 12);
    // -(0.5 ln 0.5 + 2 x 0.25 ln 0.25) = 1.5 ln 2
    expect(entropy(Float32Array.of(9, 0.5, 0.25, 0.25), 1, 3)).toBeCloseTo(1.5 * Math.LN2, 12);
  });
});

describe('row distances', () => {
  const a = Float32Array.of(1, 2, 3, /* row 1 */ 4, 6, 3);
  const b = Float32Array.of(0, 0, 0, /* row 1 */ 1, 1, 1);

  it('computes squared distances, norms and dot products between rows', () => {
    // (4-1)² + (6-2)² + 0² = 25
    expect(squaredDistance(a, 0, a, 1, 3)).toBe(25);
    expect(squaredDistance(a, 1, b, 1, 3)).toBe(9 + 25 + 4);
    expect(squaredNorm(a, 0, 3)).toBe(14);
    expect(dot(a, 1, b, 1, 3)).toBe(13);
  });
});
