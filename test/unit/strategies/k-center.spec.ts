import { kCenter } from '../../../src/strategies/builtin/k-center';
import { mulberry32, squaredDistance } from '../../../src/strategies/math';
import { indices, pool, randomPool, select } from './helpers';

/*
 * 2-d embeddings; labelled centres L0 = (0,0) and L1 = (10,0).
 *               d² to L0  d² to L1  nearest
 * row 0 (1,0)       1        81        1
 * row 1 (5,0)      25        25       25
 * row 2 (0,6)      36       136       36
 * row 3 (10,3)    109         9        9
 * row 4 (5,8)      89        89       89   <- pick 1 (√89)
 * then with (5,8) as a centre: row 2 -> min(36, 25+4) = 29; the others keep theirs
 * row 5 (0,-6)     36       136       36   <- pick 2 (6)
 * then with (0,-6): nothing closer (row 0: 37, row 1: 61, row 2: 144, row 3: 181, row 6: 106)
 *                                          <- pick 3: row 2 (√29)
 * then with (0,6): row 1: 25+36 = 61 > 25  <- pick 4: row 1 (5)
 * then with (5,0): row 3: 25+9 = 34 > 9, row 6: 16+1 = 17 > 2, row 0: 16 > 1
 *                                          <- pick 5: row 3 (3), pick 6: row 6 (√2), pick 7: row 0 (1)
 * row 6 (9,-1)     82         2        2
 */
const points = [
  [1, 0],
  [5, 0],
  [0, 6],
  [10, 3],
  [5, 8],
  [0, -6],
  [9, -1],
];
const rows = pool({ embeddings: points });
const labelled = { rows: 2, embeddings: Float32Array.of(0, 0, 10, 0) };

describe('k-center', () => {
  it('picks, each step, the row farthest from its nearest centre, starting from the labelled items', () => {
    const picks = select(kCenter, rows, 7, { labelled });
    expect(indices(picks)).toEqual([4, 5, 2, 1, 3, 6, 0]);
    expect(picks.map((p) => p.reason.distance)).toEqual([89, 36, 29, 25, 9, 2, 1].map(Math.sqrt));
    expect(picks.map((p) => p.score)).toEqual(picks.map((p) => p.reason.distance));
  });

  it('returns only the first picks for a smaller size', () => {
    expect(indices(select(kCenter, rows, 3, { labelled }))).toEqual([4, 5, 2]);
  });

  it('starts from the row farthest from the pool mean when nothing is labelled', () => {
    /*
     * mean = (30/7, 10/7) = (4.286, 1.429); d² to it: row 5 (0,-6): 18.37 + 55.18 = 73.55 (largest;
     * next row 4: 0.51 + 43.18 = 43.69).
     * From (0,-6): row 4 (5,8) is farthest, 25 + 196 = 221.
     * Then min(d² to (0,-6), d² to (5,8)): row 0 min(37, 80) = 37, row 1 min(61, 64) = 61,
     * row 2 min(144, 29) = 29, row 3 min(181, 50) = 50, row 6 min(106, 97) = 97 <- farthest.
     */
    const picks = select(kCenter, rows, 3);
    expect(indices(picks)).toEqual([5, 4, 6]);
    expect(picks[0].reason.distance).toBeCloseTo(Math.sqrt(73.551), 3);
    expect(picks[1].reason.distance).toBe(Math.sqrt(221));
    expect(picks[2].reason.distance).toBe(Math.sqrt(97));
  });

  it('breaks ties in distance by the lower index', () => {
    // From L0 = (0,0): rows (0,5), (5,0), (3,4) are all at 5. After (0,5): (5,0) stays at 5,
    // (3,4) drops to √10; after (5,0): (3,4) stays at √10 (its d² to (5,0) is 20).
    const tied = pool({
      embeddings: [
        [0, 5],
        [5, 0],
        [3, 4],
      ],
    });
    const picks = select(kCenter, tied, 3, {
      labelled: { rows: 1, embeddings: Float32Array.of(0, 0) },
    });
    expect(indices(picks)).toEqual([0, 1, 2]);
    expect(picks.map((p) => p.score)).toEqual([5, 5, Math.sqrt(10)]);
  });

  it('leaves rows that duplicate a labelled item for last, at distance 0', () => {
    const withDuplicate = pool({
      embeddings: [
        [0, 0],
        [3, 0],
        [0, 0],
        [1, 0],
      ],
    });
    const picks = select(kCenter, withDuplicate, 4, {
      labelled: { rows: 1, embeddings: Float32Array.of(0, 0) },
    });
    expect(indices(picks)).toEqual([1, 3, 0, 2]);
    expect(picks.map((p) => p.score)).toEqual([3, 1, 0, 0]);
  });

  it('selects exactly what a naive greedy loop selects on clustered data', () => {
    // Clustered, so that the triangle-inequality pruning skips most distance computations.
    const random = mulberry32(5);
    const dim = 6;
    const centres = Array.from({ length: 12 }, () =>
      Array.from({ length: dim }, () => random() * 40),
    );
    const data = Array.from({ length: 600 }, (_, i) =>
      centres[i % centres.length].map((x) => x + random() * 2 - 1),
    );
    const big = pool({ embeddings: data });
    const labelledRows = 5;
    const fixed = Float32Array.from(
      data
        .slice(0, labelledRows)
        .flat()
        .map((x) => x + 0.5),
    );
    const e = big.embeddings!;

    const naive = (size: number): number[] => {
      const min = Array.from({ length: data.length }, (_, r) => {
        let d = Infinity;
        for (let l = 0; l < labelledRows; l++)
          d = Math.min(d, squaredDistance(e, r, fixed, l, dim));
        return d;
      });
      const out: number[] = [];
      while (out.length < size) {
        let best = -1;
        for (let r = 0; r < data.length; r++) {
          if (!out.includes(r) && (best < 0 || min[r] > min[best])) best = r;
        }
        out.push(best);
        for (let r = 0; r < data.length; r++)
          min[r] = Math.min(min[r], squaredDistance(e, r, e, best, dim));
      }
      return out;
    };

    const picks = select(kCenter, big, 60, { labelled: { rows: labelledRows, embeddings: fixed } });
    expect(indices(picks)).toEqual(naive(60));
  });

  it('returns every row, ranked, when size exceeds the pool, and nothing for an empty pool', () => {
    expect(indices(select(kCenter, rows, 100, { labelled })).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(select(kCenter, randomPool(1, 0, 2, 3), 5)).toEqual([]);
    expect(indices(select(kCenter, pool({ embeddings: [[4, 4]] }), 3))).toEqual([0]);
  });

  it('asks for margin candidates only when candidatePool is set', () => {
    expect(kCenter.candidatePool({ candidatePool: 0 })).toBeNull();
    expect(kCenter.candidatePool({ candidatePool: 3000 })).toEqual({
      strategy: 'margin',
      size: 3000,
    });
  });

  it('fails with a message when the labelled embeddings have the wrong width', () => {
    expect(() =>
      select(kCenter, rows, 2, { labelled: { rows: 1, embeddings: Float32Array.of(1, 2, 3) } }),
    ).toThrow(/labelled.embeddings has 3 values; expected 1 x 2/);
  });
});
