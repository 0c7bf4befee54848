import { STANDARDIZE_OPTION } from '../data';
import { trainNetwork, type DescentOptions } from '../network';
import type { Trainer } from '../types';
import { descentProperties } from './shared';

const AUTO_EPOCHS = { minSteps: 1500, minEpochs: 5, maxEpochs: 1000 };

/** Options of the `mlp` trainer (see its schema for ranges and defaults). */
export interface MlpOptions extends DescentOptions {
  hiddenUnits: number;
  activation: 'relu' | 'tanh';
  standardize: NonNullable<DescentOptions['standardize']>;
  earlyStopping: boolean;
  validationFraction: number;
  patience: number;
}

/**
 * A multilayer perceptron with one hidden layer. Its `embedding` output is the hidden layer
 * (after the activation).
 */
export const mlp: Trainer<MlpOptions> = {
  code: 'mlp',
  description:
    'A neural network with one hidden layer (ReLU or tanh) and L2 regularisation, trained by mini-batch Adam on standardised features, with early stopping on held-out labels. Learns non-linear boundaries; its hidden layer is the embedding.',
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
      standardize: STANDARDIZE_OPTION,
      earlyStopping: {
        type: 'boolean',
        default: true,
        description:
          'Hold out validationFraction of the labels (each class in turn), train until their errors have not fallen for patience epochs (at most the epochs), then train on all labels for the epoch count of the last epoch with the fewest errors. Off when fewer than 2 labels would be held out, or when the epoch limit is not above patience (nothing could stop early).',
      },
      validationFraction: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 0.5,
        default: 0.1,
        description: 'Share of the labels held out for early stopping.',
      },
      patience: {
        type: 'integer',
        minimum: 1,
        maximum: 10000,
        default: 100,
        description: 'Epochs without fewer held-out errors before early stopping.',
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
