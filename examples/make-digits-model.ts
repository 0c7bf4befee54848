/**
 * Trains a small softmax regression on examples/data/digits.csv and writes it as ONNX to
 * examples/digits-logreg.onnx, for the README's first session (`npm run example:model`).
 * Plain full-batch gradient descent: a few seconds, about 0.97 accuracy on the training rows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildFeedForwardOnnx } from '../src/ml/onnx-build';

const ROOT = path.resolve(__dirname, '../..');
const CSV = path.join(ROOT, 'examples/data/digits.csv');
const OUT = path.join(ROOT, 'examples/digits-logreg.onnx');
const DIM = 64;
const CLASSES = 10;

function main(): void {
  const [header, ...lines] = fs.readFileSync(CSV, 'utf8').trim().split(/\r?\n/);
  const labelAt = header.split(',').indexOf('label');
  const n = lines.length;
  const x = new Float32Array(n * DIM);
  const y = new Int32Array(n);
  lines.forEach((line, i) => {
    const cells = line.split(',');
    y[i] = Number(cells[labelAt]);
    cells.filter((_, j) => j !== labelAt).forEach((v, j) => (x[i * DIM + j] = Number(v) / 16));
  });

  const w = new Float64Array(DIM * CLASSES);
  const b = new Float64Array(CLASSES);
  const lr = 0.5;
  const l2 = 1e-4;
  const p = new Float64Array(CLASSES);
  for (let epoch = 0; epoch < 300; epoch++) {
    const gw = new Float64Array(DIM * CLASSES);
    const gb = new Float64Array(CLASSES);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let k = 0; k < CLASSES; k++) {
        let z = b[k];
        for (let j = 0; j < DIM; j++) z += x[i * DIM + j] * w[j * CLASSES + k];
        p[k] = z;
        max = Math.max(max, z);
      }
      let sum = 0;
      for (let k = 0; k < CLASSES; k++) sum += p[k] = Math.exp(p[k] - max);
      for (let k = 0; k < CLASSES; k++) {
        const g = p[k] / sum - (k === y[i] ? 1 : 0);
        gb[k] += g;
        for (let j = 0; j < DIM; j++) gw[j * CLASSES + k] += g * x[i * DIM + j];
      }
    }
    for (let k = 0; k < w.length; k++) w[k] -= lr * (gw[k] / n + l2 * w[k]);
    for (let k = 0; k < CLASSES; k++) b[k] -= (lr * gb[k]) / n;
  }

  const onnx = buildFeedForwardOnnx({
    inputDim: DIM,
    // The model takes the raw grey levels (0..16) and scales them itself.
    standardize: { mean: new Float32Array(DIM), scale: new Float32Array(DIM).fill(16) },
    layers: [
      { inDim: DIM, outDim: CLASSES, weights: Float32Array.from(w), bias: Float32Array.from(b) },
    ],
    outputs: { probabilities: 'probabilities', embedding: 'embedding' },
  });
  fs.writeFileSync(OUT, onnx);
  process.stdout.write(`Wrote ${path.relative(process.cwd(), OUT)} (${onnx.length} bytes)\n`);
}

main();
