import { betaVariate } from '../../../ml/distributions';
import { randomInt } from '../../../strategies/math';
import type { SynthesisMethod, SyntheticVector } from '../types';
import {
  baseRows,
  describeCounts,
  eligibleRows,
  interpolate,
  missingClass,
  rowsByClass,
  selectedClasses,
  withClassesParam,
} from './shared';

/** Parameters of {@link mixup}. */
export interface MixupParams {
  /** λ ~ Beta(alpha, alpha). Default 1 (λ uniform); below 1 λ clusters near 0 and 1. */
  alpha: number;
  /** Mix items of these classes only (at least two of them); empty (default): every class. */
  classes: number[];
}

/**
 * mixup (Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
 * ICLR 2018): λ x_a + (1 − λ) x_b for items a and b of different classes, λ ~ Beta(α, α), b
 * drawn uniformly among the items of other classes. Such points lie between classes, where a
 * label is most informative. Record: `lambda`, `classA`, `classB`. Intended class: the class
 * with the larger weight (a's when λ ≥ 0.5).
 */
export const mixup: SynthesisMethod<MixupParams> = {
  code: 'mixup',
  description:
    'mixup: a convex combination λ·a + (1 − λ)·b of two labelled items of different classes, λ ~ Beta(α, α) (Zhang et al., "mixup: Beyond Empirical Risk Minimization", ICLR, 2018).',
  paramsSchema: withClassesParam({
    alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 100,
      default: 1,
      description: 'λ ~ Beta(alpha, alpha): 1 draws λ uniformly; below 1 favours λ near 0 or 1.',
    },
  }),
  checkInput(labelled, params) {
    const byClass = rowsByClass(labelled);
    const missing = missingClass(byClass, params.classes);
    if (missing) return missing;
    const classes = selectedClasses(byClass, params.classes);
    if (classes.length < 2) {
      return `mixup combines items of two different classes, but ${params.classes.length > 0 ? 'params.classes names' : 'the labelled set has'} only ${classes.length} class${classes.length === 1 ? '' : 'es'} with labelled items (${describeCounts(byClass)}).`;
    }
    return undefined;
  },
  synthesize({ labelled, count, params, random }) {
    const byClass = rowsByClass(labelled);
    const eligible = eligibleRows(byClass, params.classes);
    return baseRows(eligible, count, random).map((a): SyntheticVector => {
      const classA = labelled.classes[a];
      const others = eligible.length - (byClass.get(classA) as number[]).length;
      // The pick-th eligible row of another class, found by skipping a's class: O(rows).
      let pick = randomInt(random, others);
      let b = -1;
      for (const row of eligible) {
        if (labelled.classes[row] === classA) continue;
        if (pick-- === 0) {
          b = row;
          break;
        }
      }
      const classB = labelled.classes[b];
      const lambda = betaVariate(random, params.alpha, params.alpha);
      return {
        features: interpolate(labelled, b, a, lambda),
        parents: [labelled.itemIds[a], labelled.itemIds[b]],
        intendedClass: lambda >= 0.5 ? classA : classB,
        record: { lambda, classA, classB },
      };
    });
  },
};
