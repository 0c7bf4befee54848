import { filterWidth } from '../kernels/int8-filter';
import { KCENTER_BLOCK_ROWS, kCenterArgs, type KCenterLayout } from '../kernels/k-center.passes';
import { leadTeam, PASS } from '../kernels/passes';
import type { SelectionTeam } from '../kernels/team';
import type { BatchStrategy, Pick } from '../types';
import { batchCount, embeddingsOf, marginCandidates } from './shared';

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
 * Greedy k-center (core-set) selection: each pick is the row farthest (Euclidean, in embedding
 * space) from its nearest centre, the centres being the labelled items and the rows picked so
 * far. Exact greedy with a min-distance array: O(rows x (labelled + size) x dim) time at worst,
 * O(rows + labelled + size) memory, no allocation per row; rows whose nearest centre is far
 * from the new centre are skipped by the triangle inequality (see `PRUNE_MARGIN`), which pays
 * off on clustered embeddings. Ties go to the lower row index. Score and reason: the distance to
 * the nearest centre when the row was picked (for the very first pick without labelled items,
 * the distance to the pool's mean; see {@link meanOf}).
 *
 * The distance passes run on the selection team (`ctx.team`: every inference thread over one
 * shared memory, with a WebAssembly SIMD kernel); each block of rows is computed with the same
 * arithmetic whichever thread runs it, and the leader reduces the blocks in row order, so the
 * picks do not depend on the number of threads.
 */
export const kCenter: BatchStrategy<KCenterParams> = {
  code: 'k-center',
  kind: 'batch',
  usesTeam: true,
  description:
    'K-center greedy (core-set): picks, one at a time, the item farthest in embedding space from every labelled and already picked item, so the batch covers the pool. See Sener & Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR 2018.',
  needs: ['EMBEDDINGS'],
  ...marginCandidates(
    0,
    'When > 0, only this many items with the smallest margins are considered (needs probabilities). 0: the whole pool.',
  ),
  select({ size, pool, labelled, team }) {
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
    return greedy(team ?? leadTeam(), embeddings, rows, dim, fixedEmbeddings, fixed, count);
  },
};

/** Lays out the pool in the team's memory and runs the greedy loop; see {@link kCenter}. */
function greedy(
  team: SelectionTeam,
  embeddings: Float32Array,
  rows: number,
  dim: number,
  fixedEmbeddings: Float32Array,
  fixed: number,
  count: number,
): Pick[] {
  const blocks = Math.ceil(rows / KCENTER_BLOCK_ROWS);
  const dimPad = filterWidth(dim);
  const l: KCenterLayout = {
    emb: team.putF32(embeddings),
    rows,
    dim,
    minD2: team.alloc(rows * 8),
    nearest: team.alloc(rows * 4),
    picked: team.alloc(rows),
    idx: team.alloc(rows * 4),
    out: team.alloc(rows * 8),
    bestD2: team.alloc(blocks * 8),
    bestRow: team.alloc(blocks * 4),
    centre: team.alloc(dim * 8),
    gaps: team.alloc((fixed + count) * 8),
    labelled: team.putF32(fixedEmbeddings),
    labelled64: team.alloc(fixed * dim * 8),
    fixed,
    pickedRows: team.alloc(count * 4),
    labelledIdx: team.alloc(fixed * 4),
    q: team.alloc(rows * dimPad),
    dimPad,
    scale: team.alloc(rows * 8),
    q2: team.alloc(rows * 8),
    qError: team.alloc(rows * 8),
    centre16: team.alloc(dimPad * 2),
  };
  team.f64(l.minD2, rows).fill(Infinity);
  team.i32(l.nearest, rows).fill(-1);
  team.f64(l.labelled64, fixed * dim).set(fixedEmbeddings);
  const labelledIdx = team.i32(l.labelledIdx, fixed);
  for (let c = 0; c < fixed; c++) labelledIdx[c] = c;
  const emb = team.f32(l.emb, rows * dim);
  const centre = team.f64(l.centre, dim);
  const centre16 = new Int16Array(team.memory.buffer, l.centre16, dimPad);
  const q = new Int8Array(team.memory.buffer, l.q, rows * dimPad);
  const picked = team.u8(l.picked, rows);
  const pickedRows = team.i32(l.pickedRows, count);

  /** The farthest row over the blocks' bests, in block order (so ties go to the lower row). */
  const farthest = (): { row: number; d2: number } => {
    const bestD2 = team.f64(l.bestD2, blocks);
    const bestRow = team.i32(l.bestRow, blocks);
    let row = 0;
    let d2 = -1;
    for (let b = 0; b < blocks; b++) {
      if (bestRow[b] >= 0 && bestD2[b] > d2) {
        d2 = bestD2[b];
        row = bestRow[b];
      }
    }
    return { row, d2 };
  };

  if (dimPad > 0) team.run(PASS.kCenterQuantize, blocks, kCenterArgs(l));
  let next: number;
  let nextD2: number;
  if (fixed > 0) {
    team.run(PASS.kCenterLabelled, blocks, kCenterArgs(l));
    ({ row: next, d2: nextD2 } = farthest());
  } else {
    centre.set(meanOf(embeddings, rows, dim));
    team.run(PASS.kCenterMeanDistance, blocks, kCenterArgs(l));
    ({ row: next, d2: nextD2 } = farthest());
  }

  const picks: Pick[] = [];
  for (;;) {
    const t = picks.length;
    const distance = Math.sqrt(nextD2);
    picks.push({ index: next, score: distance, reason: { distance } });
    picked[next] = 1;
    pickedRows[t] = next;
    if (t + 1 === count) return picks;

    const id = fixed + t;
    centre.set(emb.subarray(next * dim, (next + 1) * dim));
    centre16.set(q.subarray(next * dimPad, (next + 1) * dimPad));
    team.run(PASS.kCenterGaps, Math.ceil(id / KCENTER_BLOCK_ROWS), kCenterArgs(l, id));
    team.run(PASS.kCenterStep, blocks, kCenterArgs(l, id, next));
    ({ row: next, d2: nextD2 } = farthest());
  }
}

/**
 * The pool's mean, rounded to float32: the first centre when no item is labelled yet. The row
 * farthest from it (ties: lower index) is the first pick: the greedy step itself applied to a
 * single virtual centre at the mean, so it is an outlying row rather than whichever row has the
 * lowest id (and does not depend on the order of the rows).
 */
function meanOf(embeddings: Float32Array, rows: number, dim: number): Float32Array {
  const sum = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dim; c++) sum[c] += embeddings[r * dim + c];
  }
  const mean = new Float32Array(dim);
  for (let c = 0; c < dim; c++) mean[c] = sum[c] / rows;
  return mean;
}
