/**
 * The synthetic data the benchmarks share: deterministic features and a feed-forward ONNX model
 * of seeded random weights (the same bytes every run, so figures compare across runs).
 */
import { buildFeedForwardOnnx } from '../src/ml/onnx-build';

/**
 * Features in [0, 1) for rows [start, start + rows) of `dim` floats each, from a linear
 * congruential generator seeded by the first row (`offset` varies the sequence per bench).
 */
export function syntheticFeatures(
  start: number,
  rows: number,
  dim: number,
  offset = 0,
): Float32Array {
  const out = new Float32Array(rows * dim);
  let s = (start * 2654435761 + offset) >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

export interface SyntheticModelSpec {
  inputDim: number;
  hidden: number;
  classes: number;
  /** Weights are uniform in [-scale / 2, scale / 2). */
  scale: number;
  seed: number;
  /** Also output the hidden layer as `embedding` (batch strategies need it). */
  embedding?: boolean;
}

/** A two-layer softmax model (ReLU hidden layer) as ONNX bytes. */
export function syntheticModel(spec: SyntheticModelSpec): Buffer {
  let seed = spec.seed;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * spec.scale;
  const layer = (inDim: number, outDim: number, activation?: 'relu') => ({
    inDim,
    outDim,
    activation,
    weights: Float32Array.from({ length: inDim * outDim }, rand),
    bias: new Float32Array(outDim),
  });
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: spec.inputDim,
      layers: [layer(spec.inputDim, spec.hidden, 'relu'), layer(spec.hidden, spec.classes)],
      outputs: spec.embedding
        ? { probabilities: 'probabilities', embedding: 'embedding' }
        : { probabilities: 'probabilities' },
    }),
  );
}

/**
 * The pool of the round benchmarks (rounds, selection, shards): 128-wide features and an MLP
 * 128-256-10 whose hidden layer is the embedding.
 */
export const POOL = { dim: 128, hidden: 256, classes: 10 } as const;

/** The round benchmarks' model (see {@link POOL}). */
export function poolModel(): Buffer {
  return syntheticModel({
    inputDim: POOL.dim,
    hidden: POOL.hidden,
    classes: POOL.classes,
    scale: 0.2,
    seed: 7,
    embedding: true,
  });
}

/** The round benchmarks' features for rows [start, start + rows) (see {@link POOL}). */
export function poolFeatures(start: number, rows: number): Float32Array {
  return syntheticFeatures(start, rows, POOL.dim);
}
