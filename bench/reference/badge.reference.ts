/**
 * The single-thread implementation before the selection team (Quarry 0.1, verbatim but for import
 * paths): the JS baseline of `bench:selection` and the oracle of the sharded-selection spec.
 */
import { argmax, dot, squaredNorm } from '../../src/strategies/math';
import type { BatchStrategy, Pick } from '../../src/strategies/types';
import {
  batchCount,
  embeddingsOf,
  marginCandidates,
  probabilitiesOf,
} from '../../src/strategies/builtin/shared';

/** Parameters of {@link badge}. */
export interface BadgeParams {
  /**
   * How many rows with the smallest margins are candidates; 0: the whole pool. Default 5000.
   * The seeding costs O(candidates x size x (classes + dim)).
   */
  candidatePool: number;
}

/**
 * Squared distances closer to 0 than this fraction of the two squared norms are cancellation
 * noise of the expanded formula: the rows are treated as duplicates (distance 0), so they are
 * never drawn again, as in exact arithmetic.
 */
const DUPLICATE_TOLERANCE = 1e-12;

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
 * so each pick costs O(rows x (classes + dim)) and memory stays O(rows).
 *
 * Score = d2, the squared distance to the nearest earlier pick when drawn (for the first pick,
 * ||g||², its distance to the zero gradient of a fully confident prediction).
 */
export const badge: BatchStrategy<BadgeParams> = {
  code: 'badge',
  kind: 'batch',
  description:
    'BADGE: k-means++ seeding over gradient embeddings, so the batch is both uncertain (large gradients) and diverse. See Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.',
  needs: ['PROBABILITIES', 'EMBEDDINGS'],
  ...marginCandidates(
    5000,
    'How many items with the smallest margins are considered; 0: the whole pool.',
  ),
  select({ size, pool, random }) {
    const rows = pool.rows;
    const count = batchCount(size, pool);
    if (count === 0) return [];
    const p = probabilitiesOf(pool, 'badge');
    const k = pool.classCount;
    const { embeddings, dim } = embeddingsOf(pool, 'badge');

    const predicted = new Int32Array(rows);
    const a2 = new Float64Array(rows);
    const h2 = new Float64Array(rows);
    let first = 0;
    let firstG2 = -1;
    for (let r = 0; r < rows; r++) {
      const y = argmax(p, r * k, k);
      predicted[r] = y;
      a2[r] = Math.max(0, squaredNorm(p, r, k) - 2 * p[r * k + y] + 1);
      h2[r] = squaredNorm(embeddings, r, dim);
      const g2 = a2[r] * h2[r];
      if (g2 > firstG2) {
        firstG2 = g2;
        first = r;
      }
    }

    const minD2 = new Float64Array(rows).fill(Infinity);
    const picked = new Uint8Array(rows);
    const picks: Pick[] = [];
    let next = first;
    let nextD2 = firstG2;
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
      const yc = predicted[c];
      const g2c = a2[c] * h2[c];
      let total = 0;
      for (let r = 0; r < rows; r++) {
        if (picked[r]) continue;
        const y = predicted[r];
        const aa = dot(p, r, p, c, k) - p[r * k + yc] - p[c * k + y] + (y === yc ? 1 : 0);
        const g2r = a2[r] * h2[r];
        let d2 = g2r + g2c - 2 * aa * dot(embeddings, r, embeddings, c, dim);
        if (d2 <= DUPLICATE_TOLERANCE * (g2r + g2c)) d2 = 0;
        if (d2 < minD2[r]) minD2[r] = d2;
        total += minD2[r];
      }

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
  },
};
