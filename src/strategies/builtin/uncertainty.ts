import { argmax, argmaxExcept, entropy } from '../math';
import type { PointwiseStrategy, ScoredRows } from '../types';
import { NO_PARAMS_SCHEMA, type NoParams, probabilitiesOf } from './shared';

/*
 * The three classic uncertainty scores of one model's predicted distribution (Settles, "Active
 * Learning Literature Survey", 2009, section 3.1). Each row is scored on its own; the server
 * keeps the top N, ties going to the lower row index.
 */

/** The pointwise uncertainty scores that batch strategies can use for candidates and ranking. */
export const UNCERTAINTY_CODES = ['least-confidence', 'margin', 'entropy'] as const;
export type UncertaintyCode = (typeof UNCERTAINTY_CODES)[number];

/** 1 - max p of the row starting at `offset`. */
export function leastConfidenceOf(p: Float32Array, offset: number, classCount: number): number {
  const top = argmax(p, offset, classCount);
  return 1 - p[offset + top];
}

/** p1 - p2, the gap between the two most probable classes (p2 = 0 with a single class). */
export function marginOf(p: Float32Array, offset: number, classCount: number): number {
  const first = argmax(p, offset, classCount);
  const second = argmaxExcept(p, offset, classCount, first);
  return p[offset + first] - (second < 0 ? 0 : p[offset + second]);
}

/** The score (higher = more uncertain) of one row under `code`. */
export function uncertaintyOf(
  code: UncertaintyCode,
  p: Float32Array,
  offset: number,
  classCount: number,
): number {
  switch (code) {
    case 'least-confidence':
      return leastConfidenceOf(p, offset, classCount);
    case 'margin':
      // Negated rather than 1 - margin: exact, so distinct margins never collapse into a tie.
      return 0 - marginOf(p, offset, classCount);
    case 'entropy':
      return entropy(p, offset, classCount);
    default: {
      const unknown: never = code;
      throw new Error(`Unknown uncertainty score ${JSON.stringify(unknown)}.`);
    }
  }
}

/** One `code` score per row of the first model's probabilities, written into `out`. */
export function uncertaintyScores(
  code: UncertaintyCode,
  pool: ScoredRows,
  out: Float64Array = new Float64Array(pool.rows),
): Float64Array {
  const p = probabilitiesOf(pool, code);
  const k = pool.classCount;
  for (let row = 0; row < pool.rows; row++) out[row] = uncertaintyOf(code, p, row * k, k);
  return out;
}

/**
 * A pointwise strategy that scores each row by `code` of the first model's probabilities, and
 * explains a row with `reason(p, offset, classCount)` of the row starting at `offset`.
 */
function uncertaintyStrategy(
  code: UncertaintyCode,
  description: string,
  reason: (p: Float32Array, offset: number, classCount: number) => Record<string, number>,
): PointwiseStrategy<NoParams> {
  return {
    code,
    kind: 'pointwise',
    description,
    needs: ['PROBABILITIES'],
    paramsSchema: NO_PARAMS_SCHEMA,
    score(pool, _params, out) {
      uncertaintyScores(code, pool, out);
    },
    reason(pool, row) {
      const k = pool.classCount;
      return reason(probabilitiesOf(pool, code), row * k, k);
    },
  };
}

/** Least confidence: score = 1 - max p; ties go to the lower row index. */
export const leastConfidence = uncertaintyStrategy(
  'least-confidence',
  'Least confidence: prefers items whose most probable class has the lowest probability (score = 1 - max p). See Settles, "Active Learning Literature Survey", 2009.',
  (p, offset, k) => {
    const predictedClass = argmax(p, offset, k);
    return { confidence: p[offset + predictedClass], predictedClass };
  },
);

/**
 * Margin: score = -(p1 - p2); ties go to the lower row index. The reason's `secondClass` is -1
 * for a single-class model (whose margin is 1).
 */
export const margin = uncertaintyStrategy(
  'margin',
  'Margin: prefers items whose two most probable classes are closest (score = -(p1 - p2)). See Scheffer, Decomain & Wrobel, "Active Hidden Markov Models for Information Extraction", 2001.',
  (p, offset, k) => {
    const predictedClass = argmax(p, offset, k);
    const secondClass = argmaxExcept(p, offset, k, predictedClass);
    return { margin: marginOf(p, offset, k), predictedClass, secondClass };
  },
);

/** Entropy: score = -sum p ln p (nats, 0 ln 0 = 0); ties go to the lower row index. */
export const entropyStrategy = uncertaintyStrategy(
  'entropy',
  'Entropy: prefers items whose predicted distribution has the highest Shannon entropy (in nats). See Settles, "Active Learning Literature Survey", 2009.',
  (p, offset, k) => ({ entropy: entropy(p, offset, k), predictedClass: argmax(p, offset, k) }),
);
