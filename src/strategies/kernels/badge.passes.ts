/**
 * The passes of BADGE's k-means++ seeding, one block of rows at a time; the leader's loop (the
 * D² draw, which sums in row order) is in `../builtin/badge.ts`. Same arithmetic as the
 * single-thread code it replaced (`dot` through the `dot` kernel), so the same draws.
 */
import { argmax, dot, squaredNorm } from '../math';
import { FILTER_SLACK, quantizeRows } from './int8-filter';
import type { Pass, TeamMemory } from './team';

/**
 * Squared distances closer to 0 than this fraction of the two squared norms are cancellation
 * noise of the expanded formula: the rows are treated as duplicates (distance 0), so they are
 * never drawn again, as in exact arithmetic.
 */
export const DUPLICATE_TOLERANCE = 1e-12;

export const BADGE_BLOCK_ROWS = 2048;

/** Addresses and sizes shared by the BADGE passes, in the order of {@link badgeArgs}. */
export interface BadgeLayout {
  /** rows x dim float32 embeddings; rows x k float32 probabilities. */
  emb: number;
  probabilities: number;
  rows: number;
  dim: number;
  k: number;
  /** int32, float64, float64 per row: argmax p, ||p - onehot||², ||h||². */
  predicted: number;
  a2: number;
  h2: number;
  /** float64 per row: squared gradient distance to the nearest pick. */
  minD2: number;
  /** uint8 per row. */
  picked: number;
  /** int32 and float64 per row: scratch. */
  idx: number;
  out: number;
  /** float64 and int32 per block: the largest ||g||² and its row. */
  bestG2: number;
  bestRow: number;
  /** dim float64: the last pick's embedding, widened. */
  centre: number;
  /** The int8 copy of the embeddings (see `int8-filter.ts`); `dimPad` 0: no filter. */
  q: number;
  dimPad: number;
  scale: number;
  q2: number;
  qError: number;
  /** dimPad int16: the last pick's int8 row, widened. */
  centre16: number;
}

const FIELDS: (keyof BadgeLayout)[] = [
  'emb',
  'probabilities',
  'rows',
  'dim',
  'k',
  'predicted',
  'a2',
  'h2',
  'minD2',
  'picked',
  'idx',
  'out',
  'bestG2',
  'bestRow',
  'centre',
  'q',
  'dimPad',
  'scale',
  'q2',
  'qError',
  'centre16',
];

export function badgeArgs(layout: BadgeLayout, ...extra: number[]): number[] {
  return [...FIELDS.map((f) => layout[f]), ...extra];
}

function layoutOf(args: Float64Array): BadgeLayout {
  const layout = {} as BadgeLayout;
  FIELDS.forEach((f, i) => (layout[f] = args[i]));
  return layout;
}

/**
 * Predicted class, ||a||² and ||h||² of each row, the block's largest ||g||², and the int8 copy
 * of its embeddings.
 */
const init: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const start = block * BADGE_BLOCK_ROWS;
  const end = Math.min(l.rows, start + BADGE_BLOCK_ROWS);
  const k = l.k;
  const p = team.f32(l.probabilities, l.rows * k);
  const embeddings = team.f32(l.emb, l.rows * l.dim);
  const predicted = team.i32(l.predicted, l.rows);
  const a2 = team.f64(l.a2, l.rows);
  const h2 = team.f64(l.h2, l.rows);
  let best = -1;
  let row = 0;
  for (let r = start; r < end; r++) {
    const y = argmax(p, r * k, k);
    predicted[r] = y;
    a2[r] = Math.max(0, squaredNorm(p, r, k) - 2 * p[r * k + y] + 1);
    h2[r] = squaredNorm(embeddings, r, l.dim);
    const g2 = a2[r] * h2[r];
    if (g2 > best) {
      best = g2;
      row = r;
    }
  }
  team.f64(l.bestG2, block + 1)[block] = best;
  team.i32(l.bestRow, block + 1)[block] = row;
  if (l.dimPad > 0) quantizeRows(team, l.emb, l.rows, l.dim, l, start, end);
};

/** Lowers each unpicked row's minD2 to its distance to the last pick (args: its row, its ||g||²). */
const step: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const c = args[FIELDS.length];
  const g2c = args[FIELDS.length + 1];
  const start = block * BADGE_BLOCK_ROWS;
  const end = Math.min(l.rows, start + BADGE_BLOCK_ROWS);
  const k = l.k;
  const p = team.f32(l.probabilities, l.rows * k);
  const predicted = team.i32(l.predicted, l.rows);
  const a2 = team.f64(l.a2, l.rows);
  const h2 = team.f64(l.h2, l.rows);
  const minD2 = team.f64(l.minD2, l.rows);
  const picked = team.u8(l.picked, l.rows);
  const idx = team.i32(l.idx, l.rows);
  const out = team.f64(l.out, l.rows);
  let n = 0;
  for (let r = start; r < end; r++) if (!picked[r]) idx[start + n++] = r;
  if (l.dimPad > 0) n = filter(team, l, start, n, c, g2c);
  team.kernel.dot(l.emb, l.idx + start * 4, n, l.centre, l.dim, l.out + start * 8);
  const yc = predicted[c];
  for (let i = start; i < start + n; i++) {
    const r = idx[i];
    const y = predicted[r];
    const aa = dot(p, r, p, c, k) - p[r * k + yc] - p[c * k + y] + (y === yc ? 1 : 0);
    const g2r = a2[r] * h2[r];
    let d2 = g2r + g2c - 2 * aa * out[i];
    if (d2 <= DUPLICATE_TOLERANCE * (g2r + g2c)) d2 = 0;
    if (d2 < minD2[r]) minD2[r] = d2;
  }
};

/**
 * Keeps, of the `n` listed rows from `start`, those whose distance to pick c could be below
 * their minD2; returns how many. With H = <h_r, h_c> and its estimate H' = s_r s_c <q_r, q_c>
 * (exact integers), |H - H'| <= e_r ||h_c|| + s_r ||q_r|| e_c; aa is computed as in the exact
 * pass, so the exact d2 = g2r + g2c - 2 aa H is at least the bound below (less a slack for
 * rounding); a row whose bound is at least its minD2 (and above the duplicate threshold) keeps
 * its value, which is what the exact pass would leave.
 */
function filter(
  team: TeamMemory,
  l: BadgeLayout,
  start: number,
  n: number,
  c: number,
  g2c: number,
): number {
  const k = l.k;
  const p = team.f32(l.probabilities, l.rows * k);
  const predicted = team.i32(l.predicted, l.rows);
  const a2 = team.f64(l.a2, l.rows);
  const h2 = team.f64(l.h2, l.rows);
  const minD2 = team.f64(l.minD2, l.rows);
  const idx = team.i32(l.idx, l.rows);
  const out = team.f64(l.out, l.rows);
  const scale = team.f64(l.scale, l.rows);
  const q2 = team.f64(l.q2, l.rows);
  const qError = team.f64(l.qError, l.rows);
  team.kernel.qdot(l.q, l.idx + start * 4, n, l.centre16, l.dimPad, l.out + start * 8);
  const yc = predicted[c];
  const sc = scale[c];
  const hc = Math.sqrt(h2[c]) * (1 + FILTER_SLACK);
  const ec = qError[c];
  // The exact pass's float64 dot product of two rows is within dim ulps of <h_r, h_c>.
  const dotSlack = l.dim * 2.3e-16 + FILTER_SLACK;
  let kept = 0;
  for (let i = start; i < start + n; i++) {
    const r = idx[i];
    const d = minD2[r];
    if (d === Infinity) {
      idx[start + kept++] = r;
      continue;
    }
    const y = predicted[r];
    const aa = dot(p, r, p, c, k) - p[r * k + yc] - p[c * k + y] + (y === yc ? 1 : 0);
    const g2r = a2[r] * h2[r];
    const s = scale[r];
    const estimate = s * sc * out[i];
    const error = qError[r] * hc + s * Math.sqrt(q2[r]) * ec + dotSlack * Math.sqrt(h2[r]) * hc;
    const worst = aa >= 0 ? estimate + error : estimate - error;
    const magnitude = g2r + g2c + 2 * Math.abs(aa) * (Math.abs(estimate) + error);
    const low = g2r + g2c - 2 * aa * worst - FILTER_SLACK * magnitude;
    const skip =
      low > DUPLICATE_TOLERANCE * (g2r + g2c) * (1 + FILTER_SLACK) && low >= d * (1 + FILTER_SLACK);
    if (!skip) idx[start + kept++] = r;
  }
  return kept;
}

export const BADGE_PASSES = { init, step };
