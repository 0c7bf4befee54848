/**
 * Training time of each built-in trainer with its default options, on one core, over
 * class-structured synthetic data: Gaussian blobs (one centre per class, drawn from a seeded
 * generator) in 128 dimensions, 10 classes, 100,000 rows by default. Also prints the training
 * accuracy and the time to export ONNX and predict every row, to show the model learned.
 *
 *   npm run build && node dist/bench/trainers.js [rows] [trainer ...]
 */
import { performance } from 'node:perf_hooks';
import { classificationMetrics } from '../src/ml/classification-metrics';
import { mulberry32 } from '../src/strategies/math';
import { loadTrainers, trainWith } from '../src/plugins/trainers/registry';

const ROWS = Number(process.argv[2] ?? 100_000);
const ONLY = process.argv.slice(3);
const DIM = 128;
const CLASSES = 10;
/** Distance between class centres relative to the noise: overlapping enough not to be trivial. */
const CENTRE_SPREAD = 0.35;

function blobs(rows: number, seed: number): { features: Float32Array; labels: Int32Array } {
  const random = mulberry32(seed);
  const normal = (): number =>
    Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centres = Float64Array.from({ length: CLASSES * DIM }, () => normal() * CENTRE_SPREAD);
  const features = new Float32Array(rows * DIM);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(random() * CLASSES);
    labels[r] = c;
    // Different scales and offsets per feature, so standardisation has work to do.
    for (let i = 0; i < DIM; i++) {
      features[r * DIM + i] = (centres[c * DIM + i] + normal()) * (1 + (i % 7)) + (i % 5) * 10;
    }
  }
  return { features, labels };
}

function main(): void {
  const registry = loadTrainers();
  const { features, labels } = blobs(ROWS, 42);
  console.log(
    `${ROWS} rows x ${DIM} features, ${CLASSES} classes (Gaussian blobs), Node ${process.version}, one thread`,
  );
  for (const { plugin: trainer } of registry.list()) {
    if (ONLY.length > 0 && !ONLY.includes(trainer.code)) continue;
    const options = registry.params(trainer.code, {});
    const outcome = trainWith(
      registry,
      trainer.code,
      { features, labels, rows: ROWS, dim: DIM, classCount: CLASSES },
      options,
    );
    const { model } = outcome;
    let started = performance.now();
    const onnx = model.export();
    const exportMs = performance.now() - started;
    started = performance.now();
    const { probabilities } = model.predict(features, ROWS);
    const predictSeconds = (performance.now() - started) / 1000;
    const { accuracy } = classificationMetrics(labels, probabilities, CLASSES);
    console.log(
      `${trainer.code.padEnd(8)} train ${outcome.seconds.toFixed(2)} s ` +
        `(${model.epochs} epochs, ${((outcome.seconds / model.epochs) * 1000).toFixed(0)} ms/epoch), ` +
        `final loss ${model.finalLoss.toFixed(4)}, training accuracy ${accuracy.toFixed(4)}; ` +
        `export ${exportMs.toFixed(1)} ms (${(onnx.length / 1024).toFixed(0)} KiB), ` +
        `predict ${predictSeconds.toFixed(2)} s; options ${JSON.stringify(options)}`,
    );
  }
}

main();
