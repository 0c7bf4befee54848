/**
 * Training of small feed-forward classifiers (softmax regression, one-hidden-layer MLPs) with
 * mini-batch Adam: initialisation, the epoch loop and the optimiser. The forward and backward
 * passes are in `network-kernel.ts`; the trained model, which predicts in memory and exports
 * ONNX, is {@link FeedForwardModel} (`feed-forward-model.ts`). Pure computation over typed
 * arrays; the built-in trainers are thin wrappers around {@link trainNetwork}.
 */
import { mulberry32, seedFrom, type Random } from '../../strategies/math';
import { standardizeRows, standardizerFor, type StandardizeMode } from './data';
import { FeedForwardModel } from './feed-forward-model';
import {
  backward,
  crossEntropyDelta,
  forward,
  GROUP,
  toDenseLayer,
  type Layer,
} from './network-kernel';
import type { Standardizer, TrainInput } from './types';

export { FeedForwardModel, type FeedForwardModelParts } from './feed-forward-model';

/** Options every gradient-descent trainer shares (the built-ins' schemas document them). */
export interface DescentOptions {
  /** Passes over the rows; absent: see {@link NetworkSpec.autoEpochs}. */
  epochs?: number;
  learningRate: number;
  l2: number;
  /** Rows per gradient step; 0, or `rows` or more, means full-batch. */
  batchSize: number;
  seed: number;
  /** Where the standardisation comes from; default `labelled`. */
  standardize?: StandardizeMode;
  /**
   * Hold out `validationFraction` of the labels, stop when their error count has not fallen
   * for `patience` epochs, then refit on all labels for the epoch count of the (last) fewest
   * errors. Default off.
   */
  earlyStopping?: boolean;
  validationFraction?: number;
  patience?: number;
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
 * Fits the network to the rows with mini-batch Adam on the mean cross-entropy plus
 * `l2 / 2 * (sum of squared weights)` (biases are not penalised; the penalty is added to the
 * gradient, i.e. coupled L2 rather than AdamW's decoupled decay). Features are standardised
 * first as `options.standardize` says (see `standardizerFor`); the model keeps the
 * standardisation. With `earlyStopping`, the epochs are chosen on held-out labels (see
 * {@link DescentOptions.earlyStopping}); the model's `fitted.earlyStopping` tells what happened.
 *
 * Deterministic for the same input, options and seed: initial weights and the per-epoch
 * shuffle come from mulberry32 seeded with `seedFrom(seed)`.
 */
export function trainNetwork(
  code: string,
  input: TrainInput<DescentOptions>,
  spec: NetworkSpec,
): FeedForwardModel {
  const { features, labels, rows, dim, options } = input;
  const batchSize = options.batchSize === 0 || options.batchSize > rows ? rows : options.batchSize;
  const maxEpochs = options.epochs ?? autoEpochs(rows, batchSize, spec.autoEpochs);
  const standardize = standardizerFor(options.standardize ?? 'labelled', input);
  const x = standardizeRows(features, rows, dim, standardize);
  const y = Int32Array.from(labels);
  const all = Int32Array.from({ length: rows }, (_, i) => i);

  const patience = options.patience ?? 100;
  // Within `patience` epochs of the limit nothing can stop early (large sets get few epochs):
  // holding labels out and fitting twice would only double the work.
  const stopping =
    options.earlyStopping && maxEpochs > patience ? earlyStoppingSplit(y, options) : undefined;
  if (!stopping) {
    const run = runEpochs(input, x, y, all, maxEpochs, spec);
    return toModel(code, standardize, run, maxEpochs);
  }
  // Epochs are chosen on a held-out part of the labels; then the model is fitted again, on all
  // of them, for that many epochs (from the same initial weights): with a few dozen labels,
  // leaving a tenth out of the final model costs more than the second, shorter run.
  const probe = runEpochs(input, x, y, stopping.train, maxEpochs, spec, {
    rows: stopping.validation,
    patience,
  });
  const epochs = Math.max(1, probe.bestEpoch);
  const run = runEpochs(input, x, y, all, epochs, spec);
  return toModel(code, standardize, run, epochs, {
    earlyStopping: {
      epochs,
      probeEpochs: probe.epochsRun,
      maxEpochs,
      validationRows: stopping.validation.length,
      validationErrors: probe.bestErrors,
    },
  });
}

/** What {@link runEpochs} gives back. */
interface EpochsRun {
  layers: Layer[];
  lossHistory: Float64Array;
  finalLoss: number;
  epochsRun: number;
  /**
   * With validation: the last epoch (1-based) with the fewest validation errors, and how many.
   */
  bestEpoch: number;
  bestErrors: number;
}

/**
 * Mini-batch Adam over `trainRows` for up to `epochs` epochs. With `validation`, measures the
 * validation rows' errors after each epoch and stops once they have not fallen for `patience`
 * epochs.
 */
function runEpochs(
  input: TrainInput<DescentOptions>,
  x: Float32Array,
  y: Int32Array,
  trainRows: Int32Array,
  epochs: number,
  spec: NetworkSpec,
  validation?: { rows: Int32Array; patience: number },
): EpochsRun {
  const { dim, classCount, options } = input;
  const { learningRate, l2 } = options;
  const rows = trainRows.length;
  const batchSize = options.batchSize === 0 || options.batchSize > rows ? rows : options.batchSize;
  const random = mulberry32(seedFrom(options.seed));
  const layers = initLayers(dim, classCount, spec, random);
  const last = layers[layers.length - 1];
  const group = new Float64Array(GROUP * dim);
  const groupLabels = new Int32Array(GROUP);
  const load = (rowsOf: Int32Array, from: number, to: number): number =>
    loadGroup(x, y, dim, rowsOf, from, to, group, groupLabels);
  const meanLoss = (rowsOf: Int32Array): number => {
    let sum = 0;
    for (let k = 0; k < rowsOf.length; k += GROUP) {
      const n = load(rowsOf, k, rowsOf.length);
      forward(layers, group);
      sum += crossEntropyDelta(last, groupLabels, n);
    }
    return sum / rowsOf.length;
  };

  const errorCount = (rowsOf: Int32Array): number => {
    let errors = 0;
    for (let k = 0; k < rowsOf.length; k += GROUP) {
      const n = load(rowsOf, k, rowsOf.length);
      forward(layers, group);
      for (let g = 0; g < n; g++) {
        const o = g * classCount;
        let top = 0;
        for (let c = 1; c < classCount; c++) if (last.out[o + c] > last.out[o + top]) top = c;
        if (top !== groupLabels[g]) errors++;
      }
    }
    return errors;
  };
  const order = Int32Array.from(trainRows);
  const history: number[] = [];
  let step = 0;
  let bestEpoch = 0;
  let bestErrors = Infinity;
  let lastGain = 0;
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
    history.push(lossSum / rows);
    if (validation) {
      // Scored by errors (fewer is better; a tie goes to the later epoch), not by loss: on a
      // few held-out labels the loss starts rising with the model's confidence long before the
      // errors do, and stopping there left small label sets badly underfit.
      const errors = errorCount(validation.rows);
      if (errors < bestErrors) lastGain = epoch + 1;
      if (errors <= bestErrors) {
        bestErrors = errors;
        bestEpoch = epoch + 1;
      }
      if (epoch + 1 - lastGain >= validation.patience) break;
    }
  }
  return {
    layers,
    lossHistory: Float64Array.from(history),
    finalLoss: meanLoss(order),
    epochsRun: history.length,
    bestEpoch,
    bestErrors,
  };
}

/**
 * The seeded split of the labelled rows for early stopping: each class's rows in a random
 * order, every `1 / validationFraction`-th one held out (so each class with enough rows is in
 * both parts). Undefined when fewer than 2 rows would be held out or fewer than 2 remain: too
 * few to stop on, and training runs its epochs.
 */
function earlyStoppingSplit(
  y: Int32Array,
  options: DescentOptions,
): { train: Int32Array; validation: Int32Array } | undefined {
  const random = mulberry32(seedFrom(`early-stopping:${options.seed}`));
  const order = Int32Array.from({ length: y.length }, (_, i) => i);
  shuffle(order, random);
  const sorted = Array.from(order).sort((a, b) => y[a] - y[b]);
  const fraction = options.validationFraction ?? 0.1;
  const train: number[] = [];
  const validation: number[] = [];
  let credit = 0.5;
  for (const row of sorted) {
    credit += fraction;
    if (credit >= 1) {
      credit -= 1;
      validation.push(row);
    } else {
      train.push(row);
    }
  }
  if (validation.length < 2 || train.length < 2) return undefined;
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}

function toModel(
  code: string,
  standardize: Standardizer,
  run: EpochsRun,
  epochs: number,
  fitted?: Record<string, unknown>,
): FeedForwardModel {
  return new FeedForwardModel({
    trainer: code,
    standardize,
    layers: run.layers.map(toDenseLayer),
    epochs,
    finalLoss: run.finalLoss,
    lossHistory: run.lossHistory,
    fitted,
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
