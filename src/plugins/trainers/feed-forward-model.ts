/**
 * The trained feed-forward classifier: predicts in memory with the training kernel and exports
 * ONNX. Built by `trainNetwork` (`network.ts`), or by a plugin trainer from its own
 * parameters.
 */
import { buildFeedForwardOnnx, type DenseLayer } from '../../ml/onnx-build';
import { forward, GROUP, toForwardLayer } from './network-kernel';
import { ONNX_NAMES, type Prediction, type Standardizer, type TrainedModel } from './types';

/** What {@link FeedForwardModel} is made of. */
export interface FeedForwardModelParts {
  trainer: string;
  standardize: Standardizer;
  /** At least one; the last gives the logits (its activation must be `none`). */
  layers: DenseLayer[];
  epochs: number;
  finalLoss: number;
  lossHistory: Float64Array;
  /** See `TrainedModel.fitted`. */
  fitted?: Record<string, unknown>;
}

/**
 * A trained feed-forward classifier: standardisation, dense layers, softmax. Plugin trainers
 * may build one from their own parameters to get `predict` and `export` for free.
 */
export class FeedForwardModel implements TrainedModel {
  readonly trainer: string;
  readonly inputDim: number;
  readonly classCount: number;
  readonly embeddingDim: number;
  readonly standardize: Standardizer;
  readonly layers: readonly DenseLayer[];
  readonly epochs: number;
  readonly finalLoss: number;
  readonly lossHistory: Float64Array;
  readonly fitted?: Record<string, unknown>;

  constructor(parts: FeedForwardModelParts) {
    const { layers } = parts;
    if (layers.length === 0) throw new RangeError('a model needs at least one layer');
    const logits = layers[layers.length - 1];
    if ((logits.activation ?? 'none') !== 'none') {
      throw new RangeError('the last layer gives the logits: its activation must be none');
    }
    this.trainer = parts.trainer;
    this.inputDim = layers[0].inDim;
    this.classCount = logits.outDim;
    this.embeddingDim = logits.inDim;
    this.standardize = parts.standardize;
    this.layers = layers;
    this.epochs = parts.epochs;
    this.finalLoss = parts.finalLoss;
    this.lossHistory = parts.lossHistory;
    if (parts.fitted) this.fitted = parts.fitted;
  }

  predict(
    features: Float32Array,
    rows: number,
    options: { embeddings?: boolean } = {},
  ): Prediction {
    const { inputDim: dim, classCount, embeddingDim, layers } = this;
    if (!Number.isSafeInteger(rows) || rows < 0) {
      throw new RangeError(`rows must be a non-negative integer, got ${String(rows)}`);
    }
    if (features.length !== rows * dim) {
      throw new RangeError(
        `features has ${features.length} values, expected rows x inputDim = ${rows * dim}`,
      );
    }
    const probabilities = new Float32Array(rows * classCount);
    const embeddings = options.embeddings ? new Float32Array(rows * embeddingDim) : undefined;
    const { mean, scale } = this.standardize;
    // The training kernel over float64 copies of the float32 parameters, four rows at a time.
    const forwardLayers = layers.map(toForwardLayer);
    const probs = forwardLayers[forwardLayers.length - 1].out;
    const hidden =
      forwardLayers.length > 1 ? forwardLayers[forwardLayers.length - 2].out : undefined;
    const group = new Float64Array(GROUP * dim);
    for (let start = 0; start < rows; start += GROUP) {
      const n = Math.min(GROUP, rows - start);
      for (let k = 0; k < n * dim; k++) {
        const i = k % dim;
        group[k] = Math.fround(Math.fround(features[start * dim + k] - mean[i]) / scale[i]);
      }
      if (n < GROUP) group.fill(0, n * dim);
      forward(forwardLayers, group);
      probabilities.set(probs.subarray(0, n * classCount), start * classCount);
      if (embeddings) {
        const source = hidden ?? group;
        embeddings.set(source.subarray(0, n * embeddingDim), start * embeddingDim);
      }
    }
    return { rows, classCount, probabilities, embeddings, embeddingDim };
  }

  export(): Uint8Array {
    return buildFeedForwardOnnx({
      inputName: ONNX_NAMES.input,
      inputDim: this.inputDim,
      standardize: this.standardize,
      layers: [...this.layers],
      outputs: { probabilities: ONNX_NAMES.probabilities, embedding: ONNX_NAMES.embedding },
    });
  }
}
