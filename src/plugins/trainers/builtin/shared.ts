/**
 * Options the built-in gradient-descent trainers share: schema fragments with their defaults.
 * The defaults suit small labelled sets (tens to thousands of rows, the usual active-learning
 * case) as well as large ones: without `epochs`, a small set gets many cheap passes and a large
 * one few (see `NetworkSpec.autoEpochs`).
 */
export const DESCENT_DEFAULTS = {
  batchSize: 64,
  seed: 0,
};

/**
 * JSON Schema properties of `DescentOptions` with the given `learningRate` and `l2` defaults; `autoEpochs` is how
 * the trainer chooses epochs when they are not given (documented in the schema).
 */
export function descentProperties(defaults: {
  learningRate: number;
  l2: number;
  autoEpochs: { minSteps: number; minEpochs: number; maxEpochs: number };
}) {
  const { minSteps, minEpochs, maxEpochs } = defaults.autoEpochs;
  return {
    epochs: {
      type: 'integer',
      minimum: 1,
      maximum: 100000,
      description: `Passes over the training rows. Default: enough for ${minSteps} gradient steps, at least ${minEpochs} and at most ${maxEpochs}.`,
    },
    learningRate: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 10,
      default: defaults.learningRate,
      description: 'Adam step size.',
    },
    l2: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      default: defaults.l2,
      description:
        'L2 penalty on the weights (not the biases): the loss is mean cross-entropy + l2 / 2 * sum of squared weights.',
    },
    batchSize: {
      type: 'integer',
      minimum: 0,
      default: DESCENT_DEFAULTS.batchSize,
      description: 'Rows per gradient step; 0 (or at least the row count) trains full-batch.',
    },
    seed: {
      type: 'integer',
      minimum: 0,
      maximum: 4294967295,
      default: DESCENT_DEFAULTS.seed,
      description: 'Seeds the initial weights and the shuffling: the same seed, the same model.',
    },
  } as const;
}
