/**
 * The int8 copy of the embeddings that k-center and BADGE filter with: a row x ≈ x' = scale · q,
 * q in [-127, 127], with ||x - x'|| bounded from above. The `qdot` kernel gives <q, q_c> exactly
 * (integers), a quarter of the memory traffic of the float32 rows, so a pass first bounds each
 * row's distance from the copy and runs the exact float64 kernel only on the rows whose bound
 * cannot decide. The bounds only ever skip work whose result could not change a value.
 */
import type { TeamMemory } from './team';

/**
 * Relative rounding allowed for the filters' float64 arithmetic: far above the few ulps their
 * handful of operations can lose.
 */
export const FILTER_SLACK = 1e-9;

/** Widest rows the filter takes: dim x 127 x 127 must fit in an int32. */
export const MAX_FILTER_DIM = 65536;

/** Values per int8 row: `dim` rounded up to 16 (zero-padded), or 0 (no filter) when too wide. */
export function filterWidth(dim: number): number {
  return dim <= MAX_FILTER_DIM ? Math.ceil(dim / 16) * 16 : 0;
}

/** Where the int8 copy lives: int8 rows of `dimPad`, and float64 scale, ||q||², error per row. */
export interface Int8Copy {
  q: number;
  dimPad: number;
  scale: number;
  q2: number;
  qError: number;
}

/** Fills rows [start, end) of the int8 copy from the float32 rows at `emb`. */
export function quantizeRows(
  team: TeamMemory,
  emb: number,
  rows: number,
  dim: number,
  copy: Int8Copy,
  start: number,
  end: number,
): void {
  const { dimPad } = copy;
  const values = team.f32(emb, rows * dim);
  const q = new Int8Array(team.memory.buffer, copy.q, rows * dimPad);
  const scales = team.f64(copy.scale, rows);
  const q2 = team.f64(copy.q2, rows);
  const errors = team.f64(copy.qError, rows);
  for (let r = start; r < end; r++) {
    let max = 0;
    for (let c = 0; c < dim; c++) max = Math.max(max, Math.abs(values[r * dim + c]));
    const scale = max > 0 && max < Infinity ? max / 127 : 1;
    let e2 = 0;
    let n2 = 0;
    for (let c = 0; c < dim; c++) {
      const x = values[r * dim + c];
      const v = Math.max(-127, Math.min(127, Math.round(x / scale)));
      q[r * dimPad + c] = v;
      n2 += v * v;
      const d = x - scale * v;
      e2 += d * d;
    }
    scales[r] = scale;
    q2[r] = n2;
    // NaN (a NaN or infinite value in the row) keeps the row out of the filter: always exact.
    errors[r] = max < Infinity ? Math.sqrt(e2) * (1 + FILTER_SLACK) : NaN;
  }
}
