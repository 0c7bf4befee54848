import { badge } from '../../../src/strategies/builtin/badge';
import { mulberry32 } from '../../../src/strategies/math';
import { indices, pool, randomPool, select } from './helpers';

/*
 * Two classes, 2-d embeddings h. a = p - onehot(argmax p); g = a ⊗ h; ||g||² = ||a||² ||h||².
 *          p           ŷ   a              h      ||a||²  ||h||²  ||g||²   g (rows of a_i h)
 * row 0  [.5, .5]      0   [-.5, .5]      (1,0)  .5      1       .5       [[-.5,0],[.5,0]]
 * row 1  [.75,.25]     0   [-.25,.25]     (2,0)  .125    4       .5       [[-.5,0],[.5,0]]  = row 0's g
 * row 2  [.25,.75]     1   [.25,-.25]     (0,3)  .125    9       1.125    [[0,.75],[0,-.75]]
 * row 3  [1, 0]        0   [0, 0]         (5,5)  0       50      0        0
 *
 * First pick: the largest ||g||², row 2 (d2 = 1.125).
 * D² to row 2: row 0: .25 + .5625 + .25 + .5625 = 1.625; row 1: 1.625 (same g); row 3: 1.125.
 * Total 4.375; running sums 1.625 (row 0), 3.25 (row 1), 4.375 (row 3).
 */
const rows = pool({
  probabilities: [
    [0.5, 0.5],
    [0.75, 0.25],
    [0.25, 0.75],
    [1, 0],
  ],
  embeddings: [
    [1, 0],
    [2, 0],
    [0, 3],
    [5, 5],
  ],
});
const constant = (u: number) => () => u;

describe('badge', () => {
  it('picks the row with the largest gradient embedding first', () => {
    const [first] = select(badge, rows, 1, { random: constant(0.5) });
    expect(first.index).toBe(2);
    expect(first.reason.gradientNorm).toBeCloseTo(Math.sqrt(1.125), 12);
    expect(first.reason.d2).toBeCloseTo(1.125, 12);
  });

  it('draws the next rows by D² sampling and never draws a row whose gradient equals a pick', () => {
    // u = 0.5 x 4.375 = 2.1875 falls in row 1's share (1.625, 3.25]. Row 0's g equals row 1's,
    // so its D² drops to 0 and row 3 (D² = min(1.125, ||g_1||² = .5) = .5) is drawn whatever u;
    // row 0 comes last, all remaining rows being at distance 0.
    const picks = select(badge, rows, 4, { random: constant(0.5) });
    expect(indices(picks)).toEqual([2, 1, 3, 0]);
    expect(picks.map((p) => p.reason.d2)).toEqual([
      expect.closeTo(1.125, 12),
      expect.closeTo(1.625, 12),
      expect.closeTo(0.5, 12),
      0,
    ]);
    expect(picks.map((p) => p.score)).toEqual(picks.map((p) => p.reason.d2));
  });

  it('lands on the row whose share of the total D² holds the random draw', () => {
    // u = 0.1 x 4.375 = 0.4375 -> row 0; then row 1 (same g) is at 0, row 3 at .5 -> row 3; row 1.
    expect(indices(select(badge, rows, 4, { random: constant(0.1) }))).toEqual([2, 0, 3, 1]);
    // u = 0.9 x 4.375 = 3.9375 -> row 3 (g = 0); then rows 0 and 1 are at ||g||² = .5 each,
    // u = 0.9 x 1 = 0.9 -> row 1; row 0 last.
    expect(indices(select(badge, rows, 4, { random: constant(0.9) }))).toEqual([2, 3, 1, 0]);
  });

  it('draws the second row with probability proportional to its squared distance (k-means++)', () => {
    const counts = new Map<number, number>();
    const trials = 4000;
    for (let seed = 0; seed < trials; seed++) {
      const second = select(badge, rows, 2, { random: mulberry32(seed) })[1].index;
      counts.set(second, (counts.get(second) ?? 0) + 1);
    }
    // Expected shares 1.625/4.375 = .371 (rows 0, 1) and 1.125/4.375 = .257 (row 3); sd ~ .008.
    expect((counts.get(0) ?? 0) / trials).toBeCloseTo(0.371, 1);
    expect((counts.get(1) ?? 0) / trials).toBeCloseTo(0.371, 1);
    expect((counts.get(3) ?? 0) / trials).toBeCloseTo(0.257, 1);
  });

  it('is reproducible for the same seeded generator', () => {
    const many = randomPool(9, 200, 4, 8);
    const a = indices(select(badge, many, 20, { random: mulberry32(11) }));
    const b = indices(select(badge, many, 20, { random: mulberry32(11) }));
    expect(new Set(a).size).toBe(20);
    expect(b).toEqual(a);
  });

  it('breaks a tie for the first pick by the lower index', () => {
    // Rows 0 and 1 of the fixture both have ||g||² = .5.
    const tied = pool({
      probabilities: [
        [0.5, 0.5],
        [0.75, 0.25],
      ],
      embeddings: [
        [1, 0],
        [2, 0],
      ],
    });
    expect(indices(select(badge, tied, 2))).toEqual([0, 1]);
  });

  it('returns every row once when size exceeds the pool', () => {
    expect(indices(select(badge, rows, 9)).sort()).toEqual([0, 1, 2, 3]);
  });

  it('asks for margin candidates, 5000 by default, or the whole pool for 0', () => {
    expect(badge.candidatePool({ candidatePool: 5000 })).toEqual({
      strategy: 'margin',
      size: 5000,
    });
    expect(badge.candidatePool({ candidatePool: 0 })).toBeNull();
  });
});
