/**
 * Training of small feed-forward classifiers (softmax regression, one-hidden-layer MLPs) with
 * mini-batch Adam, and the trained model that predicts in memory and exports ONNX. Pure
 * computation over typed arrays; the built-in trainers are thin wrappers around
 * {@link trainNetwork}.
 */
import { buildFeedForwardOnnx, type DenseLayer } from '../../ml/onnx-build';
import { mulberry32, seedFrom, type Random } from '../../strategies/math';
import { fitStandardizer, standardizeRows } from './data';
import {
  ONNX_NAMES,
  type Prediction,
  type Standardizer,
  type TrainedModel,
  type TrainInput,
} from './types';

/** Options every gradient-descent trainer shares (the built-ins' schemas document them). */
export interface DescentOptions {
  /** Passes over the rows; absent: see {@link NetworkSpec.autoEpochs}. */
  epochs?: number;
  learningRate: number;
  l2: number;
  /** Rows per gradient step; 0, or `rows` or more, means full-batch. */
  batchSize: number;
  seed: number;
}

/** One hidden layer of the network. */
export interface HiddenLayerSpec {
  units: number;
  activation: 'relu' | 'tanh';
}

/** The architecture: hidden layers (none for softmax regression) before the logits. */
export interface NetworkSpec {
  hidden: readonly HiddenLayerSpec[];
  /**
   * Standard deviation of the initial output-layer weights, times `1 / sqrt(inDim)`. Hidden
   * layers use He (ReLU) or Glorot (tanh) scaling; biases start at zero.
   */
  outputInitGain: number;
  /**
   * When `epochs` is not given: enough epochs for at least `minSteps` gradient steps, and at
   * least `minEpochs`, at most `maxEpochs`. Large sets converge in few passes, small ones need
   * many (100 rows at 64 per batch make 2 steps an epoch), and a pass over a small set is cheap.
   */
  autoEpochs: { minSteps: number; minEpochs: number; maxEpochs: number };
}

const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

/**
 * Rows pushed through the network together. Four rows share each weight's load in the forward
 * pass and each gradient's load and store in the backward pass: measured 1.6x faster than one
 * row at a time for softmax regression over 128 features and 10 classes in V8 (Node 20). The code is unrolled for 4.
 */
const GROUP = 4;

/**
 * A layer as the forward pass sees it. Weights are row-major `[outDim, inDim]` (ONNX's transpose)
 * so that every inner loop runs over contiguous memory.
 */
interface ForwardLayer {
  inDim: number;
  outDim: number;
  activation: 'relu' | 'tanh' | 'none';
  w: Float64Array;
  b: Float64Array;
  /** This layer's outputs for the current group of rows, row-major `[GROUP, outDim]`. */
  out: Float64Array;
}

/** A layer while training: its parameters, gradients, Adam moments and per-group buffers. */
interface Layer extends ForwardLayer {
  gw: Float64Array;
  gb: Float64Array;
  mw: Float64Array;
  vw: Float64Array;
  mb: Float64Array;
  vb: Float64Array;
  /** d loss / d (pre-activation output) for the current group, `[GROUP, outDim]`. */
  delta: Float64Array;
}

/**
 * Fits the network to the rows with mini-batch Adam on the mean cross-entropy plus
 * `l2 / 2 * (sum of squared weights)` (biases are not penalised; the penalty is added to the
 * gradient, i.e. coupled L2 rather than AdamW's decoupled decay). Features are standardised
 * with the training rows' mean and standard deviation first; the model keeps them.
 *
 * Deterministic for the same input, options and seed: initial weights and the per-epoch
 * shuffle come from mulberry32 seeded with `seedFrom(seed)`.
 */
export function trainNetwork(
  code: string,
  input: TrainInput<DescentOptions>,
  spec: NetworkSpec,
): FeedForwardModel {
  const { features, labels, rows, dim, classCount, options } = input;
  const { learningRate, l2 } = options;
  const batchSize = options.batchSize === 0 || options.batchSize > rows ? rows : options.batchSize;
  const epochs = options.epochs ?? autoEpochs(rows, batchSize, spec.autoEpochs);
  const random = mulberry32(seedFrom(options.seed));

  const standardize = fitStandardizer(features, rows, dim);
  const x = standardizeRows(features, rows, dim, standardize);
  const y = Int32Array.from(labels);
  const layers = initLayers(dim, classCount, spec, random);
  const last = layers[layers.length - 1];
  const group = new Float64Array(GROUP * dim);
  const groupLabels = new Int32Array(GROUP);
  const load = (rowsOf: Int32Array, from: number, to: number): number =>
    loadGroup(x, y, dim, rowsOf, from, to, group, groupLabels);

  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  const lossHistory = new Float64Array(epochs);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (batchSize < rows) shuffle(order, random);
    let lossSum = 0;
    for (let start = 0; start < rows; start += batchSize) {
      const end = Math.min(rows, start + batchSize);
      for (const layer of layers) {
        layer.gw.fill(0);
        layer.gb.fill(0);
      }
      for (let k = start; k < end; k += GROUP) {
        const n = load(order, k, end);
        forward(layers, group);
        lossSum += crossEntropyDelta(last, groupLabels, n);
        backward(layers, group);
      }
      step++;
      adamStep(layers, end - start, learningRate, l2, step);
    }
    lossHistory[epoch] = lossSum / rows;
  }

  let finalLoss = 0;
  for (let k = 0; k < rows; k += GROUP) {
    const n = load(order, k, rows);
    forward(layers, group);
    finalLoss += crossEntropyDelta(last, groupLabels, n);
  }

  return new FeedForwardModel({
    trainer: code,
    standardize,
    layers: layers.map(toDenseLayer),
    epochs,
    finalLoss: finalLoss / rows,
    lossHistory,
  });
}

/** The epochs {@link NetworkSpec.autoEpochs} asks for. */
export function autoEpochs(
  rows: number,
  batchSize: number,
  { minSteps, minEpochs, maxEpochs }: NetworkSpec['autoEpochs'],
): number {
  const stepsPerEpoch = Math.ceil(rows / batchSize);
  return Math.min(maxEpochs, Math.max(minEpochs, Math.ceil(minSteps / stepsPerEpoch)));
}

/**
 * Copies up to GROUP rows (`rowsOf[from .. to)`) of `x` into `group` and their labels into
 * `groupLabels`, zero-filling the rest of the group; returns how many rows it copied.
 */
function loadGroup(
  x: Float32Array,
  y: Int32Array,
  dim: number,
  rowsOf: Int32Array,
  from: number,
  to: number,
  group: Float64Array,
  groupLabels: Int32Array,
): number {
  const n = Math.min(GROUP, to - from);
  for (let g = 0; g < n; g++) {
    const row = rowsOf[from + g];
    const o = row * dim;
    const t = g * dim;
    for (let i = 0; i < dim; i++) group[t + i] = x[o + i];
    groupLabels[g] = y[row];
  }
  if (n < GROUP) group.fill(0, n * dim);
  return n;
}

function initLayers(dim: number, classCount: number, spec: NetworkSpec, random: Random): Layer[] {
  const normal = gaussian(random);
  const layers: Layer[] = [];
  let inDim = dim;
  const make = (outDim: number, activation: Layer['activation'], sd: number): Layer => {
    const n = outDim * inDim;
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = normal() * sd;
    const layer: Layer = {
      inDim,
      outDim,
      activation,
      w,
      b: new Float64Array(outDim),
      gw: new Float64Array(n),
      gb: new Float64Array(outDim),
      mw: new Float64Array(n),
      vw: new Float64Array(n),
      mb: new Float64Array(outDim),
      vb: new Float64Array(outDim),
      out: new Float64Array(GROUP * outDim),
      delta: new Float64Array(GROUP * outDim),
    };
    inDim = outDim;
    return layer;
  };
  for (const h of spec.hidden) {
    const gain = h.activation === 'relu' ? Math.SQRT2 : 1;
    layers.push(make(h.units, h.activation, gain / Math.sqrt(inDim)));
  }
  layers.push(make(classCount, 'none', spec.outputInitGain / Math.sqrt(inDim)));
  return layers;
}

/**
 * Fills each layer's `out` for the group of rows in `input` (`[GROUP, inDim]`); the last
 * layer's `out` holds the softmax probabilities.
 */
function forward(layers: readonly ForwardLayer[], input: Float64Array): void {
  let a = input;
  for (const layer of layers) {
    const { inDim, outDim, w, b, out, activation } = layer;
    const a1 = inDim;
    const a2 = 2 * inDim;
    const a3 = 3 * inDim;
    for (let j = 0; j < outDim; j++) {
      const o = j * inDim;
      let s0 = b[j];
      let s1 = s0;
      let s2 = s0;
      let s3 = s0;
      for (let i = 0; i < inDim; i++) {
        const wi = w[o + i];
        s0 += wi * a[i];
        s1 += wi * a[a1 + i];
        s2 += wi * a[a2 + i];
        s3 += wi * a[a3 + i];
      }
      out[j] = s0;
      out[outDim + j] = s1;
      out[2 * outDim + j] = s2;
      out[3 * outDim + j] = s3;
    }
    const n = GROUP * outDim;
    if (activation === 'relu') {
      for (let k = 0; k < n; k++) if (out[k] < 0) out[k] = 0;
    } else if (activation === 'tanh') {
      for (let k = 0; k < n; k++) out[k] = Math.tanh(out[k]);
    }
    a = out;
  }
  const { out, outDim } = layers[layers.length - 1];
  for (let g = 0; g < GROUP; g++) softmaxInPlace(out, g * outDim, outDim);
}

/**
 * For the first `n` rows of the group, sets `delta` to the gradient of the row's cross-entropy
 * with respect to the logits (`p - onehot(label)`), and returns the rows' summed loss,
 * `-ln p[label]` (floored so that a saturated wrong answer gives a large finite loss). The
 * padding rows get a zero delta, so they add nothing to the gradients.
 */
function crossEntropyDelta(last: Layer, labels: Int32Array, n: number): number {
  const { out: p, delta, outDim } = last;
  delta.fill(0);
  let loss = 0;
  for (let g = 0; g < n; g++) {
    const o = g * outDim;
    for (let c = 0; c < outDim; c++) delta[o + c] = p[o + c];
    delta[o + labels[g]] -= 1;
    loss -= Math.log(Math.max(p[o + labels[g]], 1e-300));
  }
  return loss;
}

/** Adds the group's gradients to each layer's `gw`/`gb`, from the last layer's `delta`. */
function backward(layers: Layer[], input: Float64Array): void {
  for (let l = layers.length - 1; l >= 0; l--) {
    const { inDim, outDim, w, gw, gb, delta } = layers[l];
    const a = l === 0 ? input : layers[l - 1].out;
    const a1 = inDim;
    const a2 = 2 * inDim;
    const a3 = 3 * inDim;
    for (let j = 0; j < outDim; j++) {
      const d0 = delta[j];
      const d1 = delta[outDim + j];
      const d2 = delta[2 * outDim + j];
      const d3 = delta[3 * outDim + j];
      // ReLU zeroes many hidden units' deltas: skipping them saves much of the first layer's work.
      if (d0 === 0 && d1 === 0 && d2 === 0 && d3 === 0) continue;
      gb[j] += d0 + d1 + d2 + d3;
      const o = j * inDim;
      for (let i = 0; i < inDim; i++) {
        gw[o + i] += d0 * a[i] + d1 * a[a1 + i] + d2 * a[a2 + i] + d3 * a[a3 + i];
      }
    }
    if (l === 0) break;
    const below = layers[l - 1];
    const prev = below.delta;
    prev.fill(0);
    for (let j = 0; j < outDim; j++) {
      const d0 = delta[j];
      const d1 = delta[outDim + j];
      const d2 = delta[2 * outDim + j];
      const d3 = delta[3 * outDim + j];
      const o = j * inDim;
      for (let i = 0; i < inDim; i++) {
        const wi = w[o + i];
        prev[i] += d0 * wi;
        prev[a1 + i] += d1 * wi;
        prev[a2 + i] += d2 * wi;
        prev[a3 + i] += d3 * wi;
      }
    }
    const h = below.out;
    const n = GROUP * inDim;
    if (below.activation === 'relu') {
      for (let k = 0; k < n; k++) if (h[k] <= 0) prev[k] = 0;
    } else if (below.activation === 'tanh') {
      for (let k = 0; k < n; k++) prev[k] *= 1 - h[k] * h[k];
    }
  }
}

function adamStep(
  layers: Layer[],
  batchRows: number,
  learningRate: number,
  l2: number,
  step: number,
): void {
  const { beta1, beta2, epsilon } = ADAM;
  const rate = (learningRate * Math.sqrt(1 - beta2 ** step)) / (1 - beta1 ** step);
  const inv = 1 / batchRows;
  for (const layer of layers) {
    update(layer.w, layer.gw, layer.mw, layer.vw, l2);
    update(layer.b, layer.gb, layer.mb, layer.vb, 0);
  }
  function update(
    p: Float64Array,
    g: Float64Array,
    m: Float64Array,
    v: Float64Array,
    decay: number,
  ): void {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * inv + decay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      p[i] -= (rate * m[i]) / (Math.sqrt(v[i]) + epsilon);
    }
  }
}

/** Softmax of `z[offset .. offset + n)`, in place. */
function softmaxInPlace(z: Float64Array, offset: number, n: number): void {
  const end = offset + n;
  let max = -Infinity;
  for (let c = offset; c < end; c++) if (z[c] > max) max = z[c];
  let sum = 0;
  for (let c = offset; c < end; c++) {
    z[c] = Math.exp(z[c] - max);
    sum += z[c];
  }
  for (let c = offset; c < end; c++) z[c] /= sum;
}

function shuffle(order: Int32Array, random: Random): void {
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/** Standard normal deviates (Box–Muller; the second of each pair is kept for the next call). */
function gaussian(random: Random): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - random();
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

/** The training layout `[outDim, inDim]` in float64 to ONNX's `[inDim, outDim]` in float32. */
function toDenseLayer(layer: Layer): DenseLayer {
  const { inDim, outDim, w, b, activation } = layer;
  const weights = new Float32Array(inDim * outDim);
  for (let j = 0; j < outDim; j++) {
    for (let i = 0; i < inDim; i++) weights[i * outDim + j] = w[j * inDim + i];
  }
  return { inDim, outDim, activation, weights, bias: Float32Array.from(b) };
}

/** What {@link FeedForwardModel} is made of. */
export interface FeedForwardModelParts {
  trainer: string;
  standardize: Standardizer;
  /** At least one; the last gives the logits (its activation must be `none`). */
  layers: DenseLayer[];
  epochs: number;
  finalLoss: number;
  lossHistory: Float64Array;
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
    const forwardLayers = layers.map(
      ({ inDim, outDim, weights, bias, activation }): ForwardLayer => {
        const w = new Float64Array(inDim * outDim);
        for (let i = 0; i < inDim; i++) {
          for (let j = 0; j < outDim; j++) w[j * inDim + i] = weights[i * outDim + j];
        }
        const out = new Float64Array(GROUP * outDim);
        return {
          inDim,
          outDim,
          activation: activation ?? 'none',
          w,
          b: Float64Array.from(bias),
          out,
        };
      },
    );
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
