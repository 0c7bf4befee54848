import { trainNetwork, type DescentOptions } from '../network';
import type { Trainer } from '../types';
import { descentProperties } from './shared';

const AUTO_EPOCHS = { minSteps: 1000, minEpochs: 10, maxEpochs: 1000 };

/** Options of the `softmax` trainer (see its schema for ranges and defaults). */
export type SoftmaxOptions = DescentOptions;

/**
 * Multinomial logistic regression: one dense layer from the standardised features to the
 * logits. Its `embedding` output is the standardised input.
 */
export const softmax: Trainer<SoftmaxOptions> = {
  code: 'softmax',
  description:
    'Multinomial logistic regression with L2 regularisation, trained by mini-batch Adam on standardised features. Fast and hard to overfit; a good first model.',
  optionsSchema: {
    type: 'object',
    properties: descentProperties({ learningRate: 0.01, l2: 1e-3, autoEpochs: AUTO_EPOCHS }),
    additionalProperties: false,
  },
  train(input) {
    // Small initial weights: the seed still matters, but training starts near the uniform model.
    return trainNetwork('softmax', input, {
      hidden: [],
      outputInitGain: 0.01,
      autoEpochs: AUTO_EPOCHS,
    });
  },
};
