/**
 * The trainer plugin interface. A trainer fits a classifier to labelled feature vectors and gives
 * back a model that predicts in memory and exports itself as ONNX. Built-in trainers and
 * third-party ones implement the same contract; a plugin module exports `trainers: Trainer[]`
 * (see `registry.ts`).
 *
 * Conventions every trainer follows:
 * - Training is deterministic: the same data, options and `seed` give the same weights, bit for
 *   bit, on the same platform. Randomness comes from a seeded generator, never `Math.random`.
 * - Trainers run in `trainer.worker.ts` threads: self-contained (no server state, no I/O).
 * - The exported ONNX graph and `predict` compute the same function (to float32 rounding).
 */
import type { InputProblem } from '../../errors';
import type { DenseLayer } from '../../ml/onnx-build';
import type { PluginLifecycle } from '../registry';

/** Labelled rows to train on, with options already validated and completed with defaults. */
export interface TrainInput<O = Record<string, unknown>> {
  /** Row-major `rows x dim` float32 feature vectors, all finite. */
  features: Float32Array;
  /** Class index of each row, integers in `[0, classCount)`; `rows` of them. */
  labels: Int32Array | readonly number[];
  rows: number;
  dim: number;
  /** Width of the probability output; classes without a training row are allowed. */
  classCount: number;
  /**
   * Mean and scale of every item of the dataset (labelled or not), when the caller knows them:
   * what a `standardize: 'dataset'` option learns from (see `standardizerFor`).
   */
  datasetStandardizer?: Standardizer;
  options: O;
}

/** What a trained model gives for a set of rows. */
export interface Prediction {
  rows: number;
  classCount: number;
  /** Row-major `rows x classCount`; each row sums to 1. */
  probabilities: Float32Array;
  /** Row-major `rows x embeddingDim`, the graph's `embedding` output; when asked for. */
  embeddings?: Float32Array;
  embeddingDim: number;
}

/** Standardisation baked into the model: `(x - mean) / scale`, per feature. */
export interface Standardizer {
  mean: Float32Array;
  /** Never zero: constant features get scale 1 (see `fitStandardizer`). */
  scale: Float32Array;
}

/** Names of the input and outputs of every exported graph. */
export const ONNX_NAMES = {
  input: 'features',
  probabilities: 'probabilities',
  embedding: 'embedding',
} as const;

/**
 * A trained classifier. Its `predict` runs the same graph as `export()` writes (standardise,
 * dense layers, softmax), in float64 arithmetic over the float32 parameters.
 */
export interface TrainedModel {
  /** Code of the trainer that made it. */
  readonly trainer: string;
  readonly inputDim: number;
  readonly classCount: number;
  /** Width of the `embedding` output: the input to the last layer. */
  readonly embeddingDim: number;
  readonly standardize: Standardizer;
  /** The dense layers in ONNX layout (row-major `[inDim, outDim]` weights), last gives logits. */
  readonly layers: readonly DenseLayer[];
  /** Passes over the training rows. */
  readonly epochs: number;
  /**
   * Mean cross-entropy (natural log) of the final model on the training rows, without the L2
   * penalty.
   */
  readonly finalLoss: number;
  /**
   * Mean cross-entropy over each epoch's mini-batches, measured before each batch's update, so
   * it lags the weights a little; one entry per epoch.
   */
  readonly lossHistory: Float64Array;
  /**
   * What training chose from the data rather than from the options (e.g. the cross-validated
   * `C` of `softmax`, the epochs early stopping kept for `mlp`); JSON-serialisable.
   */
  readonly fitted?: Record<string, unknown>;
  /**
   * Probabilities (and, if asked, embeddings) for row-major `rows x inputDim` features.
   *
   * @throws RangeError when `features` does not hold `rows x inputDim` values
   */
  predict(features: Float32Array, rows: number, options?: { embeddings?: boolean }): Prediction;
  /**
   * The model as ONNX bytes: input `features` `[N, inputDim]`, outputs `probabilities`
   * `[N, classCount]` and `embedding` `[N, embeddingDim]` (see {@link ONNX_NAMES}).
   */
  export(): Uint8Array;
}

/**
 * A training algorithm, registered under a stable code (`code`, `description`, `init`/`destroy`:
 * see `PluginLifecycle`).
 */
export interface Trainer<O = Record<string, unknown>> extends PluginLifecycle {
  /**
   * JSON Schema (draft 2020-12 subset understood by ajv) of the options, an object schema whose
   * properties carry `default`s. Validated, and defaults applied, before `train` is called.
   */
  readonly optionsSchema: Record<string, unknown>;
  /**
   * Checks across options that a schema cannot say clearly, given the options with their
   * defaults applied; returns the problems, each naming its option (`options.a`).
   */
  checkOptions?(options: any): InputProblem[];
  /**
   * Fits a model. Synchronous and CPU-bound: call it from a thread of `trainer.worker.ts`, not
   * from the server's event loop. The input has been checked (`checkTrainInput`).
   */
  train(input: TrainInput<O>): TrainedModel;
}

/** What a plugin module exports. */
export interface TrainerModule {
  trainers: Trainer<any>[];
}
