import { standardNormal } from '../../../ml/distributions';
import type { LabelledVectors, SynthesisMethod, SyntheticVector } from '../types';
import { baseRows, missingClass, rowsByClass, selectedClasses, withClassesParam } from './shared';

/** Parameters of {@link gaussian}. */
export interface GaussianParams {
  /** Noise standard deviation per feature, as a share of that feature's standard deviation over the labelled set. Default 0.1. */
  sigma: number;
  /** Perturb items of these classes only; empty (default): every class. */
  classes: number[];
}

/** Population standard deviation of each feature over all labelled rows (two passes, float64). */
export function featureStdDevs(labelled: LabelledVectors): Float64Array {
  const { rows, dim, features } = labelled;
  const mean = new Float64Array(dim);
  for (let row = 0; row < rows; row++)
    for (let f = 0; f < dim; f++) mean[f] += features[row * dim + f];
  for (let f = 0; f < dim; f++) mean[f] /= rows;
  const variance = new Float64Array(dim);
  for (let row = 0; row < rows; row++) {
    for (let f = 0; f < dim; f++) {
      const d = features[row * dim + f] - mean[f];
      variance[f] += d * d;
    }
  }
  return variance.map((v) => Math.sqrt(v / rows));
}

/**
 * Gaussian noise around a labelled item: x + ε, ε_f ~ N(0, (sigma · sd_f)²), where sd_f is
 * feature f's standard deviation over the labelled set (so noise respects each feature's
 * scale; a constant feature stays constant). Normal draws by Box–Muller. Record: `sigma`,
 * `noiseNorm` (Euclidean norm of ε). Intended class: the item's.
 */
export const gaussian: SynthesisMethod<GaussianParams> = {
  code: 'gaussian',
  description:
    'Gaussian noise: a labelled item plus normal noise whose standard deviation per feature is a share (sigma) of that feature’s standard deviation over the labelled set.',
  paramsSchema: withClassesParam({
    sigma: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10,
      default: 0.1,
      description:
        'Noise standard deviation per feature, as a share of the feature’s standard deviation over the labelled set.',
    },
  }),
  checkInput(labelled, params) {
    if (labelled.rows < 2) {
      return `gaussian scales its noise by the spread of the labelled set, which needs at least 2 labelled items; there ${labelled.rows === 1 ? 'is 1' : `are ${labelled.rows}`}.`;
    }
    const missing = missingClass(rowsByClass(labelled), params.classes);
    if (missing) return missing;
    if (featureStdDevs(labelled).every((sd) => sd === 0)) {
      return 'gaussian noise would only copy items: every feature has the same value on all labelled items.';
    }
    return undefined;
  },
  synthesize({ labelled, count, params, random }) {
    const byClass = rowsByClass(labelled);
    const eligible = selectedClasses(byClass, params.classes).flatMap((c) => byClass.get(c) ?? []);
    eligible.sort((a, b) => a - b);
    const scale = featureStdDevs(labelled).map((sd) => sd * params.sigma);
    const { dim, features } = labelled;
    return baseRows(eligible, count, random).map((a): SyntheticVector => {
      const out = new Float32Array(dim);
      let squared = 0;
      for (let f = 0; f < dim; f++) {
        const noise = scale[f] === 0 ? 0 : scale[f] * standardNormal(random);
        squared += noise * noise;
        out[f] = features[a * dim + f] + noise;
      }
      return {
        features: out,
        parents: [labelled.itemIds[a]],
        intendedClass: labelled.classes[a],
        record: { sigma: params.sigma, noiseNorm: Math.sqrt(squared) },
      };
    });
  },
};
