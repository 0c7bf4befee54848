/**
 * The distance passes of k-center greedy, one block of rows (or of centres) at a time; the
 * leader's loop is in `../builtin/k-center.ts`. Every value is computed with the same arithmetic
 * as the single-thread code it replaced (`squaredDistance`, through the `sqdist` kernel), so the
 * picks are identical for any number of threads.
 */
import { FILTER_SLACK, quantizeRows } from './int8-filter';
import type { Pass, TeamMemory } from './team';

/**
 * A row is compared with a new centre c only when c could be strictly closer than its nearest
 * centre j: by the triangle inequality, d(r, c) >= d(j, c) - d(r, j) >= d(r, j) once
 * d(j, c)² >= 4 d(r, j)² (Elkan, "Using the Triangle Inequality to Accelerate k-Means", 2003).
 * The factor leaves a margin far above rounding error, so pruning never changes a pick.
 */
export const PRUNE_MARGIN = 1 + 1e-6;

/** Rows per block of a row pass; centres per block of the gap pass. */
export const KCENTER_BLOCK_ROWS = 2048;

/** Addresses and sizes shared by the k-center passes, in the order of {@link kCenterArgs}. */
export interface KCenterLayout {
  /** rows x dim float32 embeddings. */
  emb: number;
  rows: number;
  dim: number;
  /** float64 per row: squared distance to the nearest centre. */
  minD2: number;
  /** int32 per row: the nearest centre's number (-1: none yet). */
  nearest: number;
  /** uint8 per row: 1 once picked. */
  picked: number;
  /** int32 and float64 per row: scratch of the row passes. */
  idx: number;
  out: number;
  /** float64 and int32 per block: each block's farthest row and its squared distance. */
  bestD2: number;
  bestRow: number;
  /** dim float64: the centre of the pass, widened. */
  centre: number;
  /** float64 per centre (labelled, then picked): a quarter of its squared distance to the new centre. */
  gaps: number;
  /** fixed x dim float32 (the labelled items) and fixed x dim float64 (the same, widened). */
  labelled: number;
  labelled64: number;
  fixed: number;
  /** int32 per pick: the rows picked so far. */
  pickedRows: number;
  /** int32 0 .. fixed-1, the labelled items as an index list. */
  labelledIdx: number;
  /**
   * The filter's copy of the embeddings: int8 rows of `dimPad` values (a multiple of 16,
   * zero-padded), a float64 scale per row (the row ≈ scale · q), ||q||² and a bound on
   * ||row - scale · q||, as float64 per row; the new centre's q widened to `dimPad` int16.
   * `dimPad` 0: no filter.
   */
  q: number;
  dimPad: number;
  scale: number;
  q2: number;
  qError: number;
  centre16: number;
}

const FIELDS: (keyof KCenterLayout)[] = [
  'emb',
  'rows',
  'dim',
  'minD2',
  'nearest',
  'picked',
  'idx',
  'out',
  'bestD2',
  'bestRow',
  'centre',
  'gaps',
  'labelled',
  'labelled64',
  'fixed',
  'pickedRows',
  'labelledIdx',
  'q',
  'dimPad',
  'scale',
  'q2',
  'qError',
  'centre16',
];

/** The layout as pass arguments, followed by `extra`. */
export function kCenterArgs(layout: KCenterLayout, ...extra: number[]): number[] {
  return [...FIELDS.map((f) => layout[f]), ...extra];
}

function layoutOf(args: Float64Array): KCenterLayout {
  const layout = {} as KCenterLayout;
  FIELDS.forEach((f, i) => (layout[f] = args[i]));
  return layout;
}

function rangeOf(l: KCenterLayout, block: number): [number, number] {
  const start = block * KCENTER_BLOCK_ROWS;
  return [start, Math.min(l.rows, start + KCENTER_BLOCK_ROWS)];
}

/** Writes the block's farthest unpicked row by `minD2`-like values (ties: lower row). */
function blockArgmax(
  team: TeamMemory,
  l: KCenterLayout,
  block: number,
  values: Float64Array,
  skipPicked: boolean,
): void {
  const [start, end] = rangeOf(l, block);
  const picked = team.u8(l.picked, l.rows);
  let best = -1;
  let row = -1;
  for (let r = start; r < end; r++) {
    if (skipPicked && picked[r]) continue;
    const d = values[r];
    if (d > best) {
      best = d;
      row = r;
    }
  }
  team.f64(l.bestD2, 1 + block)[block] = best;
  team.i32(l.bestRow, 1 + block)[block] = row;
}

/** Lists the block's rows [start, end) in the idx scratch; returns how many. */
function listAll(team: TeamMemory, l: KCenterLayout, start: number, end: number): number {
  const idx = team.i32(l.idx, l.rows);
  for (let r = start; r < end; r++) idx[r] = r;
  return end - start;
}

/** Squared distance of every row to the centre (the pool's mean), and each block's farthest. */
const meanDistance: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const [start, end] = rangeOf(l, block);
  const n = listAll(team, l, start, end);
  team.kernel.sqdist(l.emb, l.idx + start * 4, n, l.centre, l.dim, l.out + start * 8);
  blockArgmax(team, l, block, team.f64(l.out, l.rows), false);
};

/** Nearest labelled item of every row of the block, labelled items in order; then the farthest. */
const labelledCentres: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const [start, end] = rangeOf(l, block);
  const n = listAll(team, l, start, end);
  const minD2 = team.f64(l.minD2, l.rows);
  const nearest = team.i32(l.nearest, l.rows);
  const out = team.f64(l.out, l.rows);
  for (let c = 0; c < l.fixed; c++) {
    const centre = l.labelled64 + c * l.dim * 8;
    team.kernel.sqdist(l.emb, l.idx + start * 4, n, centre, l.dim, l.out + start * 8);
    for (let r = start; r < end; r++) {
      if (out[r] < minD2[r]) {
        minD2[r] = out[r];
        nearest[r] = c;
      }
    }
  }
  blockArgmax(team, l, block, minD2, false);
};

/** A quarter of each earlier centre's squared distance to the new one (args: count). */
const gaps: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const count = args[FIELDS.length];
  const start = block * KCENTER_BLOCK_ROWS;
  const end = Math.min(count, start + KCENTER_BLOCK_ROWS);
  const k = team.kernel;
  const fixedEnd = Math.min(end, l.fixed);
  if (start < fixedEnd) {
    k.sqdist(
      l.labelled,
      l.labelledIdx + start * 4,
      fixedEnd - start,
      l.centre,
      l.dim,
      l.gaps + start * 8,
    );
  }
  const from = Math.max(start, l.fixed);
  if (from < end) {
    const at = l.pickedRows + (from - l.fixed) * 4;
    k.sqdist(l.emb, at, end - from, l.centre, l.dim, l.gaps + from * 8);
  }
  const quarter = team.f64(l.gaps, count);
  for (let j = start; j < end; j++) quarter[j] = quarter[j] / 4;
};

/** The filter's int8 copy of the block's rows (see `int8-filter.ts`). */
const quantize: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const [start, end] = rangeOf(l, block);
  quantizeRows(team, l.emb, l.rows, l.dim, l, start, end);
};

/**
 * One greedy step: rows that the new centre c (args: its number and row) may be nearer to, then
 * the farthest. Two filters decide which rows get the exact distance, and neither changes a
 * value. The triangle inequality (see {@link PRUNE_MARGIN}); then the int8 copies (a quarter of
 * the memory traffic, an exact integer dot product): with x' = scale · q,
 * ||x - c|| >= ||x' - c'|| - ||x - x'|| - ||c - c'||, so a row whose lower bound is at least its
 * current distance cannot get nearer and keeps its value. The rows left (a few percent once the
 * first picks are made) get the exact `sqdist`.
 */
const step: Pass = (team, args, block) => {
  const l = layoutOf(args);
  const id = args[FIELDS.length];
  const centreRow = args[FIELDS.length + 1];
  const [start, end] = rangeOf(l, block);
  const picked = team.u8(l.picked, l.rows);
  const minD2 = team.f64(l.minD2, l.rows);
  const nearest = team.i32(l.nearest, l.rows);
  const quarterGap2 = team.f64(l.gaps, id);
  const idx = team.i32(l.idx, l.rows);
  const out = team.f64(l.out, l.rows);
  let n = 0;
  for (let r = start; r < end; r++) {
    if (picked[r]) continue;
    const d = minD2[r];
    const j = nearest[r];
    if (d > 0 && (j < 0 || quarterGap2[j] < d * PRUNE_MARGIN)) idx[start + n++] = r;
  }
  if (l.dimPad > 0) n = filter(team, l, start, n, centreRow);
  team.kernel.sqdist(l.emb, l.idx + start * 4, n, l.centre, l.dim, l.out + start * 8);
  for (let i = start; i < start + n; i++) {
    const r = idx[i];
    if (out[i] < minD2[r]) {
      minD2[r] = out[i];
      nearest[r] = id;
    }
  }
  blockArgmax(team, l, block, minD2, true);
};

/** Keeps, of the `n` listed rows from `start`, those the int8 bound cannot rule out; returns how many. */
function filter(team: TeamMemory, l: KCenterLayout, start: number, n: number, c: number): number {
  const idx = team.i32(l.idx, l.rows);
  const out = team.f64(l.out, l.rows);
  const minD2 = team.f64(l.minD2, l.rows);
  const scale = team.f64(l.scale, l.rows);
  const q2 = team.f64(l.q2, l.rows);
  const qError = team.f64(l.qError, l.rows);
  team.kernel.qdot(l.q, l.idx + start * 4, n, l.centre16, l.dimPad, l.out + start * 8);
  const sc = scale[c];
  const c2 = sc * sc * q2[c];
  const ec = qError[c];
  let kept = 0;
  for (let i = start; i < start + n; i++) {
    const r = idx[i];
    const s = scale[r];
    const x2 = s * s * q2[r];
    // ||x' - c'||², within a few ulps of (x2 + c2): the slack covers them.
    const d2 = x2 + c2 - 2 * s * sc * out[i] - FILTER_SLACK * (x2 + c2);
    const low = Math.sqrt(Math.max(0, d2)) - qError[r] - ec;
    if (!(low > 0 && low * low >= minD2[r] * (1 + FILTER_SLACK))) idx[start + kept++] = r;
  }
  return kept;
}

export const K_CENTER_PASSES = { meanDistance, labelledCentres, gaps, quantize, step };
