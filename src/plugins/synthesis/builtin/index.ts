/**
 * The built-in membership-query synthesis methods, a plugin module like any other
 * (`{ methods }`). Each works in the model's feature space on the labelled items and returns
 * new vectors with the items they came from.
 *
 * Base items are visited in successive random permutations of the eligible rows, so each
 * eligible item is used once before any is used twice (as SMOTE makes the same number of
 * synthetic items per minority item).
 */
import { betaVariate, standardNormal } from '../../../ml/distributions';
import {
  randomInt,
  samplePermutation,
  squaredDistance,
  topK,
  type Random,
} from '../../../strategies/math';
import type { LabelledVectors, SynthesisMethod, SyntheticVector } from '../types';

/** The `classes` parameter every built-in method takes. */
const CLASSES_PROPERTY = {
  type: 'array',
  items: { type: 'integer', minimum: 0 },
  uniqueItems: true,
  default: [],
  description: 'Synthesise from items of these classes only; empty: every class.',
};

/** Labelled rows per class index, each list in ascending row order. */
function rowsByClass(labelled: LabelledVectors): Map<number, number[]> {
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
function describeCounts(byClass: Map<number, number[]>): string {
  if (byClass.size === 0) return 'no labelled items';
  return [...byClass.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([c, rows]) => `class ${c}: ${rows.length} item${rows.length === 1 ? '' : 's'}`)
    .join(', ');
}

/** The first class of `classes` that has no labelled item, as a message; or nothing. */
function missingClass(byClass: Map<number, number[]>, classes: number[]): string | undefined {
  const missing = classes.find((c) => !byClass.has(c));
  if (missing === undefined) return undefined;
  return `params.classes names class ${missing}, which has no labelled items (${describeCounts(byClass)}).`;
}

/** The classes to work on: `classes`, or all labelled classes when it is empty; ascending. */
function selectedClasses(byClass: Map<number, number[]>, classes: number[]): number[] {
  return (classes.length > 0 ? [...classes] : [...byClass.keys()]).sort((a, b) => a - b);
}

/** `count` base rows: successive random permutations of `rows`. */
function baseRows(rows: readonly number[], count: number, random: Random): number[] {
  const out: number[] = [];
  while (out.length < count) {
    const order = samplePermutation(rows.length, Math.min(rows.length, count - out.length), random);
    for (const i of order) out.push(rows[i]);
  }
  return out;
}

/** A fresh `dim`-long vector: a + t (b - a), in float64 before rounding to float32. */
function interpolate(labelled: LabelledVectors, a: number, b: number, t: number): Float32Array {
  const { features, dim } = labelled;
  const out = new Float32Array(dim);
  const oa = a * dim;
  const ob = b * dim;
  for (let f = 0; f < dim; f++)
    out[f] = features[oa + f] + t * (features[ob + f] - features[oa + f]);
  return out;
}

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
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      k: {
        type: 'integer',
        minimum: 1,
        maximum: 100,
        default: 5,
        description: 'How many nearest same-class neighbours to choose from.',
      },
      classes: CLASSES_PROPERTY,
    },
  },
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
    const eligible = selectedClasses(byClass, params.classes).flatMap((c) => {
      const rows = byClass.get(c) ?? [];
      return rows.length >= 2 ? rows : [];
    });
    eligible.sort((a, b) => a - b);
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
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      alpha: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 100,
        default: 1,
        description: 'λ ~ Beta(alpha, alpha): 1 draws λ uniformly; below 1 favours λ near 0 or 1.',
      },
      classes: CLASSES_PROPERTY,
    },
  },
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
    const eligible = selectedClasses(byClass, params.classes).flatMap((c) => byClass.get(c) ?? []);
    eligible.sort((a, b) => a - b);
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
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      sigma: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 10,
        default: 0.1,
        description:
          'Noise standard deviation per feature, as a share of the feature’s standard deviation over the labelled set.',
      },
      classes: CLASSES_PROPERTY,
    },
  },
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

/** The built-in methods. */
export const methods: SynthesisMethod<any>[] = [smote, mixup, gaussian];
