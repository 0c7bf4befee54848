import { BADGE_BLOCK_ROWS, badgeArgs, type BadgeLayout } from '../kernels/badge.passes';
import { filterWidth } from '../kernels/int8-filter';
import { leadTeam, PASS } from '../kernels/passes';
import type { SelectionTeam } from '../kernels/team';
import type { BatchStrategy, Pick, SelectionContext } from '../types';
import { batchCount, embeddingsOf, marginCandidates, probabilitiesOf } from './shared';

/** Parameters of {@link badge}. */
export interface BadgeParams {
  /**
   * How many rows with the smallest margins are candidates; 0: the whole pool. Default 5000.
   * The seeding costs O(candidates x size x (classes + dim)).
   */
  candidatePool: number;
}

/**
 * BADGE: k-means++ seeding over gradient embeddings g = (p - onehot(argmax p)) ⊗ h, the
 * last-layer gradient of the cross-entropy loss under the model's own prediction, with h the
 * embedding. As in the authors' code, the first pick is the row with the largest ||g|| (ties:
 * lower index); each further pick is drawn with probability proportional to its squared
 * distance to the nearest pick (D² sampling) with `ctx.random`. When every remaining row is at
 * distance 0, the lowest-index remaining row is taken.
 *
 * g is never materialised: with a = p - onehot(ŷ),
 *   ||g_x - g_y||² = ||a_x||²||h_x||² + ||a_y||²||h_y||² - 2 <a_x,a_y> <h_x,h_y>,
 *   <a_x,a_y> = <p_x,p_y> - p_x[ŷ_y] - p_y[ŷ_x] + [ŷ_x = ŷ_y],
 *   ||a_x||² = ||p_x||² - 2 p_x[ŷ_x] + 1,
 * so each pick costs O(rows x (classes + dim)) and memory stays O(rows). Rows whose two
 * squared norms are so close that the difference is cancellation noise count as duplicates
 * (`DUPLICATE_TOLERANCE`).
 *
 * The distance passes run on the selection team (every inference thread, see `k-center`); the
 * draw itself sums the distances in row order on one thread, so the draws do not depend on the
 * number of threads.
 *
 * Score = d2, the squared distance to the nearest earlier pick when drawn (for the first pick,
 * ||g||², its distance to the zero gradient of a fully confident prediction).
 */
export const badge: BatchStrategy<BadgeParams> = {
  code: 'badge',
  kind: 'batch',
  usesTeam: true,
  description:
    'BADGE: k-means++ seeding over gradient embeddings, so the batch is both uncertain (large gradients) and diverse. See Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.',
  needs: ['PROBABILITIES', 'EMBEDDINGS'],
  ...marginCandidates(
    5000,
    'How many items with the smallest margins are considered; 0: the whole pool.',
  ),
  select(ctx) {
    const count = batchCount(ctx.size, ctx.pool);
    if (count === 0) return [];
    return seed(ctx.team ?? leadTeam(), ctx, count);
  },
};

function seed(team: SelectionTeam, ctx: SelectionContext<BadgeParams>, count: number): Pick[] {
  const { pool, random } = ctx;
  const rows = pool.rows;
  const p = probabilitiesOf(pool, 'badge');
  const k = pool.classCount;
  const { embeddings, dim } = embeddingsOf(pool, 'badge');
  const blocks = Math.ceil(rows / BADGE_BLOCK_ROWS);
  const dimPad = filterWidth(dim);
  const l: BadgeLayout = {
    emb: team.putF32(embeddings),
    probabilities: team.putF32(p),
    rows,
    dim,
    k,
    predicted: team.alloc(rows * 4),
    a2: team.alloc(rows * 8),
    h2: team.alloc(rows * 8),
    minD2: team.alloc(rows * 8),
    picked: team.alloc(rows),
    idx: team.alloc(rows * 4),
    out: team.alloc(rows * 8),
    bestG2: team.alloc(blocks * 8),
    bestRow: team.alloc(blocks * 4),
    centre: team.alloc(dim * 8),
    q: team.alloc(rows * dimPad),
    dimPad,
    scale: team.alloc(rows * 8),
    q2: team.alloc(rows * 8),
    qError: team.alloc(rows * 8),
    centre16: team.alloc(dimPad * 2),
  };
  team.run(PASS.badgeInit, blocks, badgeArgs(l));
  const a2 = team.f64(l.a2, rows);
  const h2 = team.f64(l.h2, rows);
  const minD2 = team.f64(l.minD2, rows).fill(Infinity);
  const picked = team.u8(l.picked, rows);
  const centre = team.f64(l.centre, dim);
  const emb = team.f32(l.emb, rows * dim);
  const q = new Int8Array(team.memory.buffer, l.q, rows * dimPad);
  const centre16 = new Int16Array(team.memory.buffer, l.centre16, dimPad);

  // The first pick: the largest ||g||² over the blocks in order (ties: the lower row).
  const bestG2 = team.f64(l.bestG2, blocks);
  const bestRow = team.i32(l.bestRow, blocks);
  let next = 0;
  let nextD2 = -1;
  for (let b = 0; b < blocks; b++) {
    if (bestG2[b] > nextD2) {
      nextD2 = bestG2[b];
      next = bestRow[b];
    }
  }

  const picks: Pick[] = [];
  for (;;) {
    picks.push({
      index: next,
      score: nextD2,
      reason: { gradientNorm: Math.sqrt(a2[next] * h2[next]), d2: nextD2 },
    });
    picked[next] = 1;
    minD2[next] = 0;
    if (picks.length === count) return picks;

    const c = next;
    centre.set(emb.subarray(c * dim, (c + 1) * dim));
    centre16.set(q.subarray(c * dimPad, (c + 1) * dimPad));
    team.run(PASS.badgeStep, blocks, badgeArgs(l, c, a2[c] * h2[c]));
    let total = 0;
    for (let r = 0; r < rows; r++) if (!picked[r]) total += minD2[r];

    next = -1;
    if (total > 0) {
      // D² sampling: the first row whose running sum passes u lands on row r with
      // probability minD2[r] / total.
      const u = random() * total;
      let running = 0;
      for (let r = 0; r < rows; r++) {
        if (picked[r] || minD2[r] <= 0) continue;
        running += minD2[r];
        next = r;
        if (running > u) break;
      }
    } else {
      for (let r = 0; r < rows && next < 0; r++) if (!picked[r]) next = r;
    }
    nextD2 = minD2[next];
  }
}
