import { buildFeedForwardOnnx, type DenseLayer } from '../../src/ml/onnx-build';

function dense(inDim: number, outDim: number, seed: number, activation?: 'relu'): DenseLayer {
  const weights = Float32Array.from(
    { length: inDim * outDim },
    (_, i) => Math.sin(i * 0.7 + seed) * 0.15,
  );
  const bias = Float32Array.from({ length: outDim }, (_, i) => Math.cos(i + seed) * 0.05);
  return { inDim, outDim, activation, weights, bias };
}

/**
 * A small fixed MLP (featureDim -> hidden -> classes) as ONNX bytes: probabilities, and the hidden
 * layer as an embedding unless `embedding: false`. Different seeds give different models.
 */
export function testModel(
  opts: {
    featureDim?: number;
    classes?: number;
    hidden?: number;
    seed?: number;
    embedding?: boolean;
  } = {},
): Buffer {
  const { featureDim = 64, classes = 10, hidden = 16, seed = 1, embedding = true } = opts;
  return Buffer.from(
    buildFeedForwardOnnx({
      inputDim: featureDim,
      standardize: {
        mean: new Float32Array(featureDim).fill(4),
        scale: new Float32Array(featureDim).fill(6),
      },
      layers: [dense(featureDim, hidden, seed, 'relu'), dense(hidden, classes, seed + 1)],
      outputs: embedding
        ? { probabilities: 'probabilities', embedding: 'embedding' }
        : { probabilities: 'probabilities' },
    }),
  );
}
