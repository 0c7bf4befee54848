import { argmax, sortByScore } from '../math';
import type { BatchStrategy } from '../types';
import { batchCount, candidatePoolSchema, narrowTo, probabilitiesOf, roundRobin } from './shared';
import { UNCERTAINTY_CODES, type UncertaintyCode, uncertaintyScores } from './uncertainty';

/** Parameters of {@link classBalanced}. */
export interface ClassBalancedParams {
  /** The uncertainty score that ranks items within a predicted class. Default `margin`. */
  score: UncertaintyCode;
  /**
   * How many of the most uncertain items (by `score`) are candidates; 0: the whole pool.
   * Default 5000.
   */
  candidatePool: number;
}

/**
 * Class-balanced uncertainty sampling: the candidates are grouped by predicted class (argmax of
 * the first model; ties: lower class) and taken round-robin over the classes in class order, each
 * class giving its most uncertain remaining item (ties: lower row index). A class that runs out
 * is skipped, so the counts per predicted class differ by at most one wherever the candidates
 * allow it. Picks are in round-robin order; score = the uncertainty score.
 */
export const classBalanced: BatchStrategy<ClassBalancedParams> = {
  code: 'class-balanced',
  kind: 'batch',
  description:
    'Class-balanced uncertainty: takes the most uncertain items of each predicted class in turn, so rare classes get as many queries as common ones.',
  needs: ['PROBABILITIES'],
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      score: {
        type: 'string',
        enum: [...UNCERTAINTY_CODES],
        default: 'margin',
        description: 'The uncertainty score that ranks the items of each predicted class.',
      },
      candidatePool: candidatePoolSchema(
        5000,
        'How many of the most uncertain items (by score) are considered; 0: the whole pool. Keep it well above size x classes so that rare classes have candidates.',
      ),
    },
  },
  candidatePool: (params) => narrowTo(params.score, params.candidatePool),
  select({ size, pool, params }) {
    const rows = pool.rows;
    const count = batchCount(size, pool);
    if (count === 0) return [];
    const p = probabilitiesOf(pool, 'class-balanced');
    const k = pool.classCount;
    const scores = uncertaintyScores(params.score, pool);

    const byClass: number[][] = Array.from({ length: k }, () => []);
    for (let r = 0; r < rows; r++) byClass[argmax(p, r * k, k)].push(r);
    for (const members of byClass) sortByScore(scores, members);

    return roundRobin(
      byClass,
      byClass.map((_, c) => c),
      count,
      (index, c) => ({
        index,
        score: scores[index],
        reason: { score: scores[index], predictedClass: c },
      }),
    );
  },
};
