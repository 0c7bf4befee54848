/**
 * Pure per-row arithmetic of the inference workers: softmax, argmax, top-k and row gathering.
 * No onnxruntime here, so it can be tested (and used) on any thread.
 */

/**
 * Turns row-major `rows x width` logits into probabilities in place. Stable: each row's maximum
 * is subtracted before `exp`, so large logits do not overflow.
 */
export function softmaxRows(values: Float32Array, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let max = -Infinity;
    for (let j = 0; j < width; j++) if (values[base + j] > max) max = values[base + j];
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const e = Math.exp(values[base + j] - max);
      values[base + j] = e;
      sum += e;
    }
    for (let j = 0; j < width; j++) values[base + j] /= sum;
  }
}

/** Each row's most probable class (ties: the lower class) and its probability. */
export function argmaxRows(
  probabilities: Float32Array,
  rows: number,
  width: number,
): { predictedClass: Int16Array; confidence: Float32Array } {
  const predictedClass = new Int16Array(rows);
  const confidence = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let best = 0;
    for (let j = 1; j < width; j++)
      if (probabilities[base + j] > probabilities[base + best]) best = j;
    predictedClass[r] = best;
    confidence[r] = probabilities[base + best];
  }
  return { predictedClass, confidence };
}

/** The index of the first non-finite value, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * The `keep` highest-scored rows, highest first; equal scores rank the lower row first. Scores
 * must not be NaN. A bounded heap: O(rows log keep) time, O(keep) memory.
 */
export function topRows(scores: Float64Array, keep: number): Int32Array {
  const k = Math.max(0, Math.min(keep, scores.length));
  // `a` ranks below `b`: lower score, or the same score on a later row.
  const worse = (a: number, b: number): boolean =>
    scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const heap = new Int32Array(k);
  let size = 0;
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && worse(heap[right], heap[left]) ? right : left;
      if (!worse(heap[child], heap[i])) return;
      [heap[i], heap[child]] = [heap[child], heap[i]];
      i = child;
    }
  };
  for (let row = 0; row < scores.length && k > 0; row++) {
    if (size < k) {
      let i = size++;
      heap[i] = row;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(heap[i], heap[parent])) break;
        [heap[i], heap[parent]] = [heap[parent], heap[i]];
        i = parent;
      }
    } else if (worse(heap[0], row)) {
      heap[0] = row;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/** The given rows of a row-major `? x width` matrix, in the given order. */
export function gatherRows(values: Float32Array, width: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => out.set(values.subarray(row * width, (row + 1) * width), i * width));
  return out;
}
