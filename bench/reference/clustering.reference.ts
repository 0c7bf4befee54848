/**
 * The single-thread implementation before the selection team (Quarry 0.1, verbatim but for import
 * paths): the JS baseline of `bench:selection` and the oracle of the sharded-selection spec.
 */
import { squaredDistance } from '../../src/strategies/math';

/**
 * Agglomerative clustering with average linkage (UPGMA) on Euclidean distances, cut into
 * `clusterCount` clusters.
 *
 * Nearest-neighbour-chain algorithm (Müllner, "Modern hierarchical, agglomerative clustering
 * algorithms", 2011): O(n²) time and a condensed O(n²/2) Float64 distance matrix, updated by the
 * Lance–Williams formula d(k, i∪j) = (|i| d(k,i) + |j| d(k,j)) / (|i| + |j|). Average linkage is
 * reducible, so sorting the chain's merges by height gives the same dendrogram as the naive
 * O(n³) algorithm; the cut applies the n - clusterCount lowest merges. Ties between equal
 * distances go to the chain's previous element, then to the lower index, so the result is
 * deterministic.
 *
 * @param embeddings row-major, `dim` columns
 * @param members the rows to cluster (n of them)
 * @returns one label per member, in `members` order: clusters are numbered 0, 1, ... in order of
 *   their first member
 */
export function averageLinkage(
  embeddings: Float32Array,
  dim: number,
  members: ArrayLike<number>,
  clusterCount: number,
): Int32Array {
  const n = members.length;
  const labels = new Int32Array(n);
  if (n === 0) return labels;
  const target = Math.max(1, Math.min(clusterCount, n));

  // Condensed upper triangle: pair (i, j), i < j, at at(i, j).
  const base = new Float64Array(n);
  for (let i = 0; i < n; i++) base[i] = i * n - (i * (i + 1)) / 2 - i - 1;
  const at = (i: number, j: number) => (i < j ? base[i] + j : base[j] + i);
  const distance = new Float64Array((n * (n - 1)) / 2);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      distance[base[i] + j] = Math.sqrt(
        squaredDistance(embeddings, members[i], embeddings, members[j], dim),
      );
    }
  }

  const size = new Float64Array(n).fill(1);
  const active = new Uint8Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  const mergeA = new Int32Array(n - 1);
  const mergeB = new Int32Array(n - 1);
  const height = new Float64Array(n - 1);

  for (let merged = 0; merged < n - 1; merged++) {
    if (chainLength === 0) {
      let lowest = 0;
      while (!active[lowest]) lowest++;
      chain[chainLength++] = lowest;
    }
    let a: number;
    let b: number;
    let d: number;
    for (;;) {
      a = chain[chainLength - 1];
      const previous = chainLength > 1 ? chain[chainLength - 2] : -1;
      b = previous;
      d = previous >= 0 ? distance[at(a, previous)] : Infinity;
      for (let x = 0; x < n; x++) {
        if (x === a || !active[x]) continue;
        const dx = distance[at(a, x)];
        if (dx < d) {
          d = dx;
          b = x;
        }
      }
      if (b === previous) break;
      chain[chainLength++] = b;
    }
    chainLength -= 2;

    // The merged cluster lives in the lower slot, so slot i always contains point i.
    const keep = Math.min(a, b);
    const drop = Math.max(a, b);
    mergeA[merged] = keep;
    mergeB[merged] = drop;
    height[merged] = d;
    const sk = size[keep];
    const sd = size[drop];
    for (let x = 0; x < n; x++) {
      if (x === keep || x === drop || !active[x]) continue;
      const ik = at(keep, x);
      distance[ik] = (sk * distance[ik] + sd * distance[at(drop, x)]) / (sk + sd);
    }
    size[keep] = sk + sd;
    active[drop] = 0;
  }

  // Stable, so equal heights keep the chain's order, in which a child merge precedes its parent.
  const order = Array.from({ length: n - 1 }, (_, i) => i).sort(
    (x, y) => height[x] - height[y] || x - y,
  );
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const root = (i: number) => {
    let r = i;
    while (parent[r] !== r) r = parent[r];
    while (parent[i] !== r) {
      const up = parent[i];
      parent[i] = r;
      i = up;
    }
    return r;
  };
  for (let m = 0; m < n - target; m++) {
    const x = root(mergeA[order[m]]);
    const y = root(mergeB[order[m]]);
    if (x < y) parent[y] = x;
    else parent[x] = y;
  }

  const numberOf = new Int32Array(n).fill(-1);
  let clusters = 0;
  for (let i = 0; i < n; i++) {
    const r = root(i);
    if (numberOf[r] < 0) numberOf[r] = clusters++;
    labels[i] = numberOf[r];
  }
  return labels;
}
