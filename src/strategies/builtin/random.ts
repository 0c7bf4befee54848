import { mulberry32, samplePermutation, seedFrom } from '../math';
import type { BatchStrategy } from '../types';

/** Parameters of {@link random}. */
export interface RandomParams {
  /** Seeds the shuffle: the same seed and pool give the same selection. Default 0. */
  seed: number;
}

/**
 * Uniform random sampling, the baseline every other strategy should beat. A partial
 * Fisher–Yates shuffle of the rows driven by mulberry32 seeded from `params.seed`, so a selection
 * is reproducible, and a larger `size` with the same seed extends a smaller one. Picks are in
 * draw order; score = size - draw (the first draw scores highest). No ties arise.
 */
export const random: BatchStrategy<RandomParams> = {
  code: 'random',
  kind: 'batch',
  description:
    'Random: a uniformly random sample of the pool, reproducible for a given seed. The baseline to compare other strategies against.',
  needs: [],
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      seed: {
        type: 'integer',
        minimum: 0,
        maximum: 4294967295,
        default: 0,
        description: 'Seeds the shuffle; the same seed and pool give the same selection.',
      },
    },
  },
  candidatePool: () => null,
  select({ size, pool, params }) {
    const order = samplePermutation(pool.rows, size, mulberry32(seedFrom(params.seed)));
    return Array.from(order, (index, draw) => ({
      index,
      score: order.length - draw,
      reason: { draw },
    }));
  },
};
