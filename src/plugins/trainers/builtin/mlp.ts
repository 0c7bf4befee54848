import { trainNetwork, type DescentOptions } from '../network';
import type { Trainer } from '../types';
import { descentProperties } from './shared';

const AUTO_EPOCHS = { minSteps: 1500, minEpochs: 5, maxEpochs: 1000 };

/** Options of the `mlp` trainer (see its schema for ranges and defaults). */
export interface MlpOptions extends DescentOptions {
  hiddenUnits: number;
  activation: 'relu' | 'tanh';
}

/**
 * A multilayer perceptron with one hidden layer. Its `embedding` output is the hidden layer
 * (after the activation).
 */
export const mlp: Trainer<MlpOptions> = {
  code: 'mlp',
  description:
    'A neural network with one hidden layer (ReLU or tanh) and L2 regularisation, trained by mini-batch Adam on standardised features. Learns non-linear boundaries; its hidden layer is the embedding.',
  optionsSchema: {
    type: 'object',
    properties: {
      ...descentProperties({ learningRate: 0.003, l2: 1e-3, autoEpochs: AUTO_EPOCHS }),
      hiddenUnits: {
        type: 'integer',
        minimum: 1,
        maximum: 4096,
        default: 64,
        description: 'Width of the hidden layer, and of the embedding.',
      },
      activation: {
        enum: ['relu', 'tanh'],
        default: 'relu',
        description: 'Activation of the hidden layer.',
      },
    },
    additionalProperties: false,
  },
  train(input) {
    const { hiddenUnits, activation } = input.options;
    return trainNetwork('mlp', input, {
      hidden: [{ units: hiddenUnits, activation }],
      outputInitGain: 1,
      autoEpochs: AUTO_EPOCHS,
    });
  },
};
