import { clusterMargin } from '../../../src/strategies/builtin/cluster-margin';
import { averageLinkage } from '../../../src/strategies/builtin/clustering';
import { mulberry32 } from '../../../src/strategies/math';
import { indices, pool, select } from './helpers';

/*
 * Two classes, p = [q, 1-q], margin |2q - 1|. Three well-separated groups of embeddings:
 *   A = rows 0, 1, 2 near (0,0); B = rows 3, 4 near (100,0); C = row 5 at (0,100).
 *           q        margin   group
 * row 0   .75       .5       A
 * row 1   .5625     .125     A
 * row 2   .625      .25      A
 * row 3   .5        0        B
 * row 4   .875      .75      B
 * row 5   .6875     .375     C
 * Clusters are numbered by their first row: A = 0, B = 1, C = 2; smallest first: C, B, A.
 */
const margins = [0.5, 0.125, 0.25, 0, 0.75, 0.375];
const rows = pool({
  probabilities: [0.75, 0.5625, 0.625, 0.5, 0.875, 0.6875].map((q) => [q, 1 - q]),
  embeddings: [
    [0, 0],
    [1, 0],
    [0, 1],
    [100, 0],
    [101, 0],
    [0, 100],
  ],
});

describe('cluster-margin', () => {
  it('goes round-robin over the clusters from the smallest, each giving its lowest-margin item', () => {
    // Round 1: C -> 5, B -> 3 (margin 0), A -> 1 (.125); round 2: B -> 4, A -> 2; round 3: A -> 0.
    const picks = select(clusterMargin, rows, 6, { params: { clusterCount: 3 } });
    expect(indices(picks)).toEqual([5, 3, 1, 4, 2, 0]);
    expect(picks.map((p) => p.reason.cluster)).toEqual([2, 1, 0, 1, 0, 0]);
    expect(picks.map((p) => p.reason.margin)).toEqual([5, 3, 1, 4, 2, 0].map((r) => margins[r]));
    expect(picks.map((p) => p.score)).toEqual(picks.map((p) => 0 - p.reason.margin));
  });

  it('cuts into as many clusters as the batch size by default', () => {
    expect(indices(select(clusterMargin, rows, 3))).toEqual([5, 3, 1]);
  });

  it('clusters only the candidatePool lowest-margin items', () => {
    // Candidates (4 lowest margins): 3 (0), 1 (.125), 2 (.25), 5 (.375); rows 0 and 4 are out.
    // Clusters {1, 2} = 0, {3} = 1, {5} = 2; sizes 1, 1, 2 -> 3, 5, then 1.
    const picks = select(clusterMargin, rows, 3, { params: { candidatePool: 4 } });
    expect(indices(picks)).toEqual([3, 5, 1]);
  });

  it('breaks ties between equal-margin items in a cluster by the lower index', () => {
    const tied = pool({
      probabilities: [
        [0.75, 0.25],
        [0.5, 0.5],
        [0.5, 0.5],
      ],
      embeddings: [[0], [1], [2]],
    });
    expect(indices(select(clusterMargin, tied, 3, { params: { clusterCount: 1 } }))).toEqual([
      1, 2, 0,
    ]);
  });

  it('returns every row once when size exceeds the pool', () => {
    expect(indices(select(clusterMargin, rows, 10)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('average-linkage clustering', () => {
  /*
   * Points on a line: 0, 2, c, 9, 10. Merges: {9,10} at 1, {0,2} at 2. Then c joins the group
   * with the smaller average distance: {0,2} at c - 1, {9,10} at 9.5 - c.
   *   c = 5.125: average 4.125 vs 4.375 -> {0,2}  (complete linkage would say {9,10}: 5.125 vs 4.875)
   *   c = 5.375: average 4.375 vs 4.125 -> {9,10} (single linkage would say {0,2}: 3.375 vs 3.625)
   */
  const cluster = (c: number) =>
    Array.from(averageLinkage(Float32Array.of(0, 2, c, 9, 10), 1, [0, 1, 2, 3, 4], 2));

  it('joins a point to the group at the smaller average distance', () => {
    expect(cluster(5.125)).toEqual([0, 0, 0, 1, 1]);
    expect(cluster(5.375)).toEqual([0, 0, 1, 1, 1]);
  });

  it('matches a naive O(n³) average-linkage at every cut', () => {
    const random = mulberry32(17);
    const n = 40;
    const dim = 3;
    const e = Float32Array.from({ length: n * dim }, () => random() * 10);
    const dist = (i: number, j: number) =>
      Math.hypot(...Array.from({ length: dim }, (_, c) => e[i * dim + c] - e[j * dim + c]));
    let groups = Array.from({ length: n }, (_, i) => [i]);
    const partitions = new Map<number, string>();
    const canonical = (labels: ArrayLike<number>) => {
      const byLabel = new Map<number, number[]>();
      Array.from(labels).forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
      return JSON.stringify([...byLabel.values()].map((g) => g.join(',')).sort());
    };
    const labelsOf = (gs: number[][]) => {
      const labels = new Array<number>(n);
      gs.forEach((g, k) => g.forEach((i) => (labels[i] = k)));
      return labels;
    };
    partitions.set(n, canonical(labelsOf(groups)));
    while (groups.length > 1) {
      let best = [0, 1];
      let bestD = Infinity;
      for (let a = 0; a < groups.length; a++) {
        for (let b = a + 1; b < groups.length; b++) {
          let sum = 0;
          for (const i of groups[a]) for (const j of groups[b]) sum += dist(i, j);
          const d = sum / (groups[a].length * groups[b].length);
          if (d < bestD) {
            bestD = d;
            best = [a, b];
          }
        }
      }
      const [a, b] = best;
      groups = [...groups.filter((_, k) => k !== a && k !== b), [...groups[a], ...groups[b]]];
      partitions.set(groups.length, canonical(labelsOf(groups)));
    }
    const members = Array.from({ length: n }, (_, i) => i);
    for (let k = 1; k <= n; k++) {
      expect(canonical(averageLinkage(e, dim, members, k))).toBe(partitions.get(k));
    }
  });

  it('numbers clusters by their first member', () => {
    const labels = averageLinkage(Float32Array.of(50, 0, 51, 1, 100), 1, [0, 1, 2, 3, 4], 3);
    expect(Array.from(labels)).toEqual([0, 1, 0, 1, 2]);
  });
});
