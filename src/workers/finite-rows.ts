/**
 * Rows whose model outputs are not finite. A model may give NaN or Infinity for some inputs only
 * (an overflow, a log of a negative): such an item is left out of scoring and counted, never the
 * cause of a failed round or run.
 */

/** A row-major matrix of `width` values per row. */
export interface RowMatrix {
  data: Float32Array;
  width: number;
}

/** The rows (ascending) of which any matrix holds a NaN or an infinite value. */
export function nonFiniteRows(matrices: readonly RowMatrix[], rows: number): Int32Array {
  const bad: number[] = [];
  for (let r = 0; r < rows; r++) {
    search: for (const { data, width } of matrices) {
      for (let j = r * width, end = j + width; j < end; j++) {
        if (!Number.isFinite(data[j])) {
          bad.push(r);
          break search;
        }
      }
    }
  }
  return Int32Array.from(bad);
}

/** A copy of a row-major `data` of `width` values per row without the rows `drop` (ascending). */
export function withoutRows<T extends Float32Array | BigInt64Array>(
  data: T,
  width: number,
  drop: Int32Array,
): T {
  const rows = data.length / width;
  const kept = new (data.constructor as new (n: number) => T)((rows - drop.length) * width);
  let at = 0;
  let d = 0;
  for (let r = 0; r < rows; r++) {
    if (d < drop.length && drop[d] === r) {
      d++;
      continue;
    }
    kept.set(data.subarray(r * width, (r + 1) * width) as never, at);
    at += width;
  }
  return kept;
}
