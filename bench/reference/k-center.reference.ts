/**
 * The single-thread implementation before the selection team (Quarry 0.1, verbatim but for import
 * paths): the JS baseline of `bench:selection` and the oracle of the sharded-selection spec.
 */
import { squaredDistance } from '../../src/strategies/math';
import type { BatchStrategy, Pick } from '../../src/strategies/types';
import { batchCount, embeddingsOf, marginCandidates } from '../../src/strategies/builtin/shared';

/** Parameters of {@link kCenter}. */
export interface KCenterParams {
  /**
   * When > 0, only the this many rows with the smallest margins are candidates (bounds the
   * O(rows x size x dim) work on large pools; needs the model's probabilities too). Default 0:
   * the whole pool.
   */
  candidatePool: number;
}

/**
 * The row (ties: lower index) farthest from the mean of all rows, and its squared distance.
 * The first centre when no item is labelled yet: the greedy step itself applied to a single
 * virtual centre at the mean, so it is an outlying row rather than whichever row has the lowest
 * id (and does not depend on the order of the rows).
 */
function farthestFromMean(
  embeddings: Float32Array,
  rows: number,
  dim: number,
): { row: number; d2: number } {
  const sum = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dim; c++) sum[c] += embeddings[r * dim + c];
  }
  const mean = new Float32Array(dim);
  for (let c = 0; c < dim; c++) mean[c] = sum[c] / rows;
  let row = 0;
  let d2 = -1;
  for (let r = 0; r < rows; r++) {
    const d = squaredDistance(embeddings, r, mean, 0, dim);
    if (d > d2) {
      d2 = d;
      row = r;
    }
  }
  return { row, d2 };
}

/**
 * A row is compared with a new centre c only when c could be strictly closer than its nearest
 * centre j: by the triangle inequality, d(r, c) >= d(j, c) - d(r, j) >= d(r, j) once
 * d(j, c)² >= 4 d(r, j)² (Elkan, "Using the Triangle Inequality to Accelerate k-Means", 2003).
 * The factor leaves a margin far above rounding error, so pruning never changes a pick.
 */
const PRUNE_MARGIN = 1 + 1e-6;

/**
 * Greedy k-center (core-set) selection: each pick is the row farthest (Euclidean, in embedding
 * space) from its nearest centre, the centres being the labelled items and the rows picked so
 * far. Exact greedy with a min-distance array: O(rows x (labelled + size) x dim) time at worst,
 * O(rows + labelled + size) memory, no allocation per row; rows whose nearest centre is far
 * from the new centre are skipped by the triangle inequality (see {@link PRUNE_MARGIN}), which
 * pays off on clustered embeddings. Ties go to the lower row index. Score and reason: the
 * distance to the nearest centre when the row was picked (for the very first pick without
 * labelled items, the distance to the pool's mean; see {@link farthestFromMean}).
 */
export const kCenter: BatchStrategy<KCenterParams> = {
  code: 'k-center',
  kind: 'batch',
  description:
    'K-center greedy (core-set): picks, one at a time, the item farthest in embedding space from every labelled and already picked item, so the batch covers the pool. See Sener & Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR 2018.',
  needs: ['EMBEDDINGS'],
  ...marginCandidates(
    0,
    'When > 0, only this many items with the smallest margins are considered (needs probabilities). 0: the whole pool.',
  ),
  select({ size, pool, labelled }) {
    const rows = pool.rows;
    const count = batchCount(size, pool);
    if (count === 0) return [];
    const { embeddings, dim } = embeddingsOf(pool, 'k-center');
    const fixed = labelled?.rows ?? 0;
    const fixedEmbeddings = labelled?.embeddings ?? new Float32Array(0);
    if (fixedEmbeddings.length !== fixed * dim) {
      throw new Error(
        `k-center: labelled.embeddings has ${fixedEmbeddings.length} values; expected ${fixed} x ${dim}.`,
      );
    }

    // Centres are numbered 0 .. fixed-1 (labelled), then fixed + t (the t-th pick).
    const minD2 = new Float64Array(rows).fill(Infinity);
    const nearest = new Int32Array(rows).fill(-1);
    const picked = new Uint8Array(rows);
    const pickedRows = new Int32Array(count);
    const quarterGap2 = new Float64Array(fixed + count);

    let next = 0;
    let nextD2 = -1;
    if (fixed > 0) {
      for (let l = 0; l < fixed; l++) {
        for (let r = 0; r < rows; r++) {
          const d = squaredDistance(embeddings, r, fixedEmbeddings, l, dim);
          if (d < minD2[r]) {
            minD2[r] = d;
            nearest[r] = l;
          }
        }
      }
      for (let r = 0; r < rows; r++) {
        if (minD2[r] > nextD2) {
          nextD2 = minD2[r];
          next = r;
        }
      }
    } else {
      ({ row: next, d2: nextD2 } = farthestFromMean(embeddings, rows, dim));
    }

    const picks: Pick[] = [];
    for (;;) {
      const t = picks.length;
      const distance = Math.sqrt(nextD2);
      picks.push({ index: next, score: distance, reason: { distance } });
      picked[next] = 1;
      pickedRows[t] = next;
      if (t + 1 === count) return picks;

      const centre = next;
      const id = fixed + t;
      for (let l = 0; l < fixed; l++) {
        quarterGap2[l] = squaredDistance(fixedEmbeddings, l, embeddings, centre, dim) / 4;
      }
      for (let u = 0; u < t; u++) {
        quarterGap2[fixed + u] =
          squaredDistance(embeddings, pickedRows[u], embeddings, centre, dim) / 4;
      }
      nextD2 = -1;
      for (let r = 0; r < rows; r++) {
        if (picked[r]) continue;
        let d = minD2[r];
        const j = nearest[r];
        if (d > 0 && (j < 0 || quarterGap2[j] < d * PRUNE_MARGIN)) {
          const dc = squaredDistance(embeddings, r, embeddings, centre, dim);
          if (dc < d) {
            minD2[r] = d = dc;
            nearest[r] = id;
          }
        }
        if (d > nextD2) {
          nextD2 = d;
          next = r;
        }
      }
    }
  },
};
