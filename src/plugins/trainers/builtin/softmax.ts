import {
  standardizeRows,
  standardizerFor,
  STANDARDIZE_OPTION,
  type StandardizeMode,
} from '../data';
import { FeedForwardModel } from '../feed-forward-model';
import {
  crossValidateC,
  CV_SOLVER,
  DEFAULT_CS,
  fitSoftmaxRegression,
  type RegressionRows,
} from '../softmax-regression';
import type { Trainer } from '../types';

/** Options of the `softmax` trainer (see its schema for ranges and defaults). */
export interface SoftmaxOptions {
  /** Inverse regularisation strength, as scikit-learn's; absent: chosen by cross-validation. */
  C?: number;
  Cs: number[];
  cvFolds: number;
  cvMaxRows: number;
  standardize: StandardizeMode;
  maxIterations: number;
  tolerance: number;
  seed: number;
}

/**
 * Multinomial logistic regression: one dense layer from the standardised features to the
 * logits, fitted to the optimum of scikit-learn's objective by full-batch L-BFGS. Its `embedding`
 * output is the standardised input.
 */
export const softmax: Trainer<SoftmaxOptions> = {
  code: 'softmax',
  description:
    "Multinomial logistic regression with L2 regularisation, fitted to its optimum by full-batch L-BFGS on standardised features (the model scikit-learn's LogisticRegression fits; C means the same). Without C, C is chosen by cross-validation on the labels. Fast and hard to overfit; a good first model.",
  optionsSchema: {
    type: 'object',
    properties: {
      C: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1e12,
        description:
          'Inverse regularisation strength, as scikit-learn\'s C: the loss is the sum of the rows\' cross-entropies + ||W||^2 / (2 C) (intercepts not penalised). Absent: chosen among "Cs" by cross-validation.',
      },
      Cs: {
        type: 'array',
        items: { type: 'number', exclusiveMinimum: 0, maximum: 1e12 },
        minItems: 1,
        maxItems: 50,
        default: [...DEFAULT_CS],
        description:
          "The candidates for C when C is not given; default LogisticRegressionCV's: ten values log-spaced from 1e-4 to 1e4.",
      },
      cvFolds: {
        type: 'integer',
        minimum: 2,
        maximum: 20,
        default: 5,
        description:
          'Folds of the stratified cross-validation that chooses C (fewer when there are fewer labelled rows). The candidate with the lowest held-out cross-entropy wins.',
      },
      cvMaxRows: {
        type: 'integer',
        minimum: 10,
        maximum: 10000000,
        default: 2000,
        description:
          'Cross-validation uses a stratified random subset of at most this many labelled rows; the final model is fitted on all of them.',
      },
      standardize: STANDARDIZE_OPTION,
      maxIterations: {
        type: 'integer',
        minimum: 1,
        maximum: 100000,
        default: 1000,
        description: 'L-BFGS iterations at most.',
      },
      tolerance: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 1e-6,
        description:
          'Converged when no entry of the gradient of the loss divided by the row count exceeds this.',
      },
      seed: {
        type: 'integer',
        minimum: 0,
        maximum: 4294967295,
        default: 0,
        description:
          'Seeds the cross-validation folds (the fit itself starts from zero and is deterministic).',
      },
    },
    additionalProperties: false,
  },
  train(input) {
    const { features, labels, rows, dim, classCount, options } = input;
    const standardize = standardizerFor(options.standardize, input);
    const data: RegressionRows = {
      x: Float64Array.from(standardizeRows(features, rows, dim, standardize)),
      y: Int32Array.from(labels),
      rows,
      dim,
      classCount,
    };
    const solver = { maxIterations: options.maxIterations, gradientTolerance: options.tolerance };
    let C = options.C;
    const fitted: Record<string, unknown> = {};
    if (C === undefined) {
      const cv = crossValidateC(data, {
        Cs: options.Cs,
        folds: options.cvFolds,
        seed: options.seed,
        maxRows: options.cvMaxRows,
        solver: CV_SOLVER,
      });
      C = cv.C;
      Object.assign(fitted, {
        C,
        cvFolds: cv.folds,
        cvAccuracies: cv.accuracies.map((a) => (Number.isNaN(a) ? null : a)),
        cvLosses: cv.losses.map((l) => (Number.isNaN(l) ? null : l)),
      });
    }
    const fit = fitSoftmaxRegression(data, C, solver);
    fitted.converged = fit.converged;
    // ONNX layout: [inDim, outDim].
    const weights = new Float32Array(dim * classCount);
    for (let c = 0; c < classCount; c++) {
      for (let i = 0; i < dim; i++) weights[i * classCount + c] = fit.weights[c * dim + i];
    }
    return new FeedForwardModel({
      trainer: 'softmax',
      standardize,
      layers: [
        {
          inDim: dim,
          outDim: classCount,
          activation: 'none',
          weights,
          bias: Float32Array.from(fit.intercepts),
        },
      ],
      epochs: fit.iterations,
      finalLoss: fit.meanLoss,
      lossHistory: Float64Array.of(fit.meanLoss),
      fitted,
    });
  },
};
