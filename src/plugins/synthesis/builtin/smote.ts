import { randomInt, squaredDistance, topK } from '../../../strategies/math';
import type { SynthesisMethod, SyntheticVector } from '../types';
import {
  baseRows,
  describeCounts,
  eligibleRows,
  interpolate,
  missingClass,
  rowsByClass,
  withClassesParam,
} from './shared';

/** Parameters of {@link smote}. */
export interface SmoteParams {
  /** How many nearest same-class neighbours to choose from. Default 5. */
  k: number;
  /** Classes to synthesise for (e.g. the minority ones); empty (default): every class. */
  classes: number[];
}

/**
 * SMOTE (Chawla, Bowyer, Hall & Kegelmeyer, "SMOTE: Synthetic Minority Over-sampling
 * Technique", JAIR 16, 2002): a point on the segment between an item and one of its k nearest
 * neighbours of the same class (squared Euclidean distance, ties to the lower row), chosen
 * uniformly, at a uniform gap in [0, 1). Classes with a single item are skipped (unless named in
 * `classes`, which is an error). Record: `gap`, `k` (neighbours chosen from, at most the class
 * size - 1), `neighbourRank` (1 = nearest). Intended class: the items' class.
 */
export const smote: SynthesisMethod<SmoteParams> = {
  code: 'smote',
  description:
    'SMOTE: interpolates between a labelled item and one of its k nearest neighbours of the same class (Chawla et al., "SMOTE: Synthetic Minority Over-sampling Technique", JAIR, 2002).',
  paramsSchema: withClassesParam({
    k: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 5,
      description: 'How many nearest same-class neighbours to choose from.',
    },
  }),
  checkInput(labelled, params) {
    const byClass = rowsByClass(labelled);
    const missing = missingClass(byClass, params.classes);
    if (missing) return missing;
    const single = params.classes.find((c) => (byClass.get(c)?.length ?? 0) < 2);
    if (single !== undefined) {
      return `smote interpolates between two items of the same class, but params.classes names class ${single}, which has 1 labelled item; it needs at least 2 (${describeCounts(byClass)}).`;
    }
    if (![...byClass.values()].some((rows) => rows.length >= 2)) {
      return `smote interpolates between two items of the same class, but no class has 2 labelled items (${describeCounts(byClass)}). Label more items, or use gaussian.`;
    }
    return undefined;
  },
  synthesize({ labelled, count, params, random }) {
    const byClass = rowsByClass(labelled);
    const eligible = eligibleRows(byClass, params.classes, 2);
    const neighbours = new Map<number, number[]>();
    const neighboursOf = (row: number): number[] => {
      let found = neighbours.get(row);
      if (!found) {
        const members = byClass.get(labelled.classes[row]) as number[];
        const closeness = new Float64Array(members.length);
        members.forEach((other, i) => {
          closeness[i] =
            other === row
              ? -Infinity
              : -squaredDistance(labelled.features, row, labelled.features, other, labelled.dim);
        });
        found = topK(closeness, Math.min(params.k, members.length - 1)).map((i) => members[i]);
        neighbours.set(row, found);
      }
      return found;
    };
    return baseRows(eligible, count, random).map((a): SyntheticVector => {
      const near = neighboursOf(a);
      const rank = randomInt(random, near.length);
      const b = near[rank];
      const gap = random();
      return {
        features: interpolate(labelled, a, b, gap),
        parents: [labelled.itemIds[a], labelled.itemIds[b]],
        intendedClass: labelled.classes[a],
        record: { gap, k: near.length, neighbourRank: rank + 1 },
      };
    });
  },
};
