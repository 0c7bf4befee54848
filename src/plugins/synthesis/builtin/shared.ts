/** What the built-in synthesis methods share: class bookkeeping, base-row order, interpolation. */
import { samplePermutation, type Random } from '../../../strategies/math';
import type { LabelledVectors } from '../types';

/** The `classes` parameter every built-in method takes. */
export const CLASSES_PROPERTY = {
  type: 'array',
  items: { type: 'integer', minimum: 0 },
  uniqueItems: true,
  default: [],
  description: 'Synthesise from items of these classes only; empty: every class.',
};

/**
 * The `paramsSchema` of a built-in method: its own `properties`, then the `classes` parameter
 * every built-in method takes ({@link CLASSES_PROPERTY}).
 */
export function withClassesParam(properties: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { ...properties, classes: CLASSES_PROPERTY },
  };
}

/** Labelled rows per class index, each list in ascending row order. */
export function rowsByClass(labelled: LabelledVectors): Map<number, number[]> {
  const byClass = new Map<number, number[]>();
  for (let row = 0; row < labelled.rows; row++) {
    const c = labelled.classes[row];
    const list = byClass.get(c);
    if (list) list.push(row);
    else byClass.set(c, [row]);
  }
  return byClass;
}

/** `class 0: 5 items, class 2: 1 item`, for messages. */
export function describeCounts(byClass: Map<number, number[]>): string {
  if (byClass.size === 0) return 'no labelled items';
  return [...byClass.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, rows]) => `class ${c}: ${rows.length} item${rows.length === 1 ? '' : 's'}`)
    .join(', ');
}

/** The first class of `classes` that has no labelled item, as a message; or nothing. */
export function missingClass(
  byClass: Map<number, number[]>,
  classes: number[],
): string | undefined {
  const missing = classes.find((c) => !byClass.has(c));
  if (missing === undefined) return undefined;
  return `params.classes names class ${missing}, which has no labelled items (${describeCounts(byClass)}).`;
}

/** The classes to work on: `classes`, or all labelled classes when it is empty; ascending. */
export function selectedClasses(byClass: Map<number, number[]>, classes: number[]): number[] {
  return (classes.length > 0 ? [...classes] : [...byClass.keys()]).sort((a, b) => a - b);
}

/**
 * The rows to synthesise from, ascending: those of the selected classes (see
 * {@link selectedClasses}) that have at least `minPerClass` labelled rows.
 */
export function eligibleRows(
  byClass: Map<number, number[]>,
  classes: number[],
  minPerClass = 1,
): number[] {
  return selectedClasses(byClass, classes)
    .flatMap((c) => {
      const rows = byClass.get(c) ?? [];
      return rows.length >= minPerClass ? rows : [];
    })
    .sort((a, b) => a - b);
}

/** `count` base rows: successive random permutations of `rows`. */
export function baseRows(rows: readonly number[], count: number, random: Random): number[] {
  const out: number[] = [];
  while (out.length < count) {
    const order = samplePermutation(rows.length, Math.min(rows.length, count - out.length), random);
    for (const i of order) out.push(rows[i]);
  }
  return out;
}

/** A fresh `dim`-long vector: a + t (b - a), in float64 before rounding to float32. */
export function interpolate(
  labelled: LabelledVectors,
  a: number,
  b: number,
  t: number,
): Float32Array {
  const { features, dim } = labelled;
  const out = new Float32Array(dim);
  const oa = a * dim;
  const ob = b * dim;
  for (let f = 0; f < dim; f++)
    out[f] = features[oa + f] + t * (features[ob + f] - features[oa + f]);
  return out;
}
