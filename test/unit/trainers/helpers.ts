import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { mulberry32 } from '../../../src/strategies/math';

/** Labelled rows in the trainers' input layout. */
export interface Toy {
  features: Float32Array;
  labels: Int32Array;
  rows: number;
  dim: number;
  classCount: number;
}

/**
 * Three classes that a line separates with a wide margin, in 4 features of very different
 * scales and offsets, plus a constant fifth feature (standardisation must not divide by zero).
 */
export function separable(rows: number, seed: number): Toy {
  const random = mulberry32(seed);
  const dim = 5;
  const centres = [
    [0, 0],
    [6, 0],
    [0, 6],
  ];
  const features = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    const a = centres[c][0] + (random() - 0.5) * 2;
    const b = centres[c][1] + (random() - 0.5) * 2;
    features.set([a * 1000 + 5e4, b * 0.001 - 3, random() - 0.5, (a - b) * 10, 7.25], r * dim);
    labels[r] = c;
  }
  return { features, labels, rows, dim, classCount: 3 };
}

/** XOR: class 1 where the two features have the same sign. No line separates it. */
export function xor(rows: number, seed: number): Toy {
  const random = mulberry32(seed);
  const features = new Float32Array(rows * 2);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const sx = r % 2 === 0 ? 1 : -1;
    const sy = Math.floor(r / 2) % 2 === 0 ? 1 : -1;
    features[2 * r] = sx * (0.5 + random());
    features[2 * r + 1] = sy * (0.5 + random());
    labels[r] = sx === sy ? 1 : 0;
  }
  return { features, labels, rows, dim: 2, classCount: 2 };
}

/** The argmax of each row of a row-major `rows x width` matrix. */
export function argmaxRows(values: ArrayLike<number>, width: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < values.length; o += width) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[o + c] > values[o + best]) best = c;
    out.push(best);
  }
  return out;
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

export interface OnnxRun {
  inputNames: string[];
  outputNames: string[];
  outputs: Record<string, { dims: number[]; data: Float32Array }>;
}

/**
 * Runs an ONNX model in onnxruntime-node over `rows x dim` features. In a worker thread because
 * under Jest the native binding returns typed arrays from Node's realm, which fail the
 * `instanceof` checks of the onnxruntime-common copy loaded in Jest's sandbox
 * (microsoft/onnxruntime#16622); as in onnx-build.spec.ts.
 */
export async function runOnnx(
  model: Uint8Array,
  features: Float32Array,
  rows: number,
  dim: number,
): Promise<OnnxRun> {
  const worker = new Worker(RUNNER, {
    eval: true,
    workerData: {
      ortPath: require.resolve('onnxruntime-node'),
      model,
      features: Array.from(features),
      rows,
      dim,
    },
  });
  try {
    const [reply] = (await once(worker, 'message')) as [OnnxRun | { error: string }];
    if ('error' in reply) throw new Error(reply.error);
    return reply;
  } finally {
    await worker.terminate();
  }
}

const RUNNER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
(async () => {
  const { model, features, rows, dim } = workerData;
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const feed = new ort.Tensor('float32', Float32Array.from(features), [rows, dim]);
  const outputs = await session.run({ [session.inputNames[0]]: feed });
  const reply = { inputNames: session.inputNames, outputNames: session.outputNames, outputs: {} };
  for (const [name, t] of Object.entries(outputs)) reply.outputs[name] = { dims: t.dims, data: t.data };
  await session.release();
  parentPort.postMessage(reply);
})().catch((e) => parentPort.postMessage({ error: e.message }));
`;
