import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { buildFeedForwardOnnx, DenseLayer, FeedForwardSpec } from '../../src/ml/onnx-build';

/** Row-major matrix of `rows x cols` from a formula, so expected values can be recomputed. */
function matrix(rows: number, cols: number, f: (r: number, c: number) => number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = f(r, c);
  return out;
}

function dense(
  inDim: number,
  outDim: number,
  activation: DenseLayer['activation'],
  seed: number,
): DenseLayer {
  return {
    inDim,
    outDim,
    activation,
    weights: matrix(inDim, outDim, (r, c) => Math.sin(seed + 3 * r + 7 * c) * 0.8),
    bias: matrix(1, outDim, (_, c) => Math.cos(seed + c) * 0.3),
  };
}

/** The reference forward pass, in float64. */
function applyDense(x: number[][], layer: DenseLayer): number[][] {
  const act = (v: number): number =>
    layer.activation === 'relu' ? Math.max(0, v) : layer.activation === 'tanh' ? Math.tanh(v) : v;
  return x.map((row) =>
    Array.from({ length: layer.outDim }, (_, j) => {
      let sum = layer.bias[j];
      for (let i = 0; i < layer.inDim; i++) sum += row[i] * layer.weights[i * layer.outDim + j];
      return act(sum);
    }),
  );
}

function softmax(x: number[][]): number[][] {
  return x.map((row) => {
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  });
}

function rowsOf(data: Float32Array, width: number): number[][] {
  return Array.from({ length: data.length / width }, (_, r) =>
    Array.from(data.subarray(r * width, (r + 1) * width)),
  );
}

interface RunResult {
  inputMetadata: unknown;
  outputMetadata: unknown;
  outputs: Record<string, { dims: number[]; data: Float32Array }>;
}

/**
 * Loads the model in onnxruntime-node and, given rows, runs them. In a worker thread because
 * under Jest the native binding returns typed arrays from Node's realm, which fail the
 * `instanceof` checks of the onnxruntime-common copy loaded in Jest's sandbox
 * (microsoft/onnxruntime#16622).
 */
async function run(model: Uint8Array, inputName: string, x?: number[][]): Promise<RunResult> {
  const worker = new Worker(RUNNER, {
    eval: true,
    workerData: { ortPath: require.resolve('onnxruntime-node'), model, inputName, x },
  });
  try {
    const [reply] = (await once(worker, 'message')) as [RunResult | { error: string }];
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
  const { model, inputName, x } = workerData;
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const reply = { inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata, outputs: {} };
  if (x) {
    const feed = new ort.Tensor('float32', Float32Array.from(x.flat()), [x.length, x[0].length]);
    const outputs = await session.run({ [inputName]: feed });
    for (const [name, t] of Object.entries(outputs)) reply.outputs[name] = { dims: t.dims, data: t.data };
  }
  await session.release();
  parentPort.postMessage(reply);
})().catch((e) => parentPort.postMessage({ error: e.message }));
`;

function expectClose(actual: { dims: number[]; data: Float32Array }, expected: number[][]): void {
  expect(actual.dims).toEqual([expected.length, expected[0].length]);
  const got = rowsOf(actual.data, expected[0].length);
  got.flat().forEach((v, i) => expect(Math.abs(v - expected.flat()[i])).toBeLessThan(1e-5));
}

const X = [
  [0.5, -1.2, 3.0, 0.1],
  [-0.7, 0.0, 1.5, 2.2],
  [1.1, 0.9, -0.4, -2.0],
];

describe('buildFeedForwardOnnx', () => {
  const hidden = dense(4, 6, 'relu', 1);
  const output = dense(6, 3, 'none', 2);

  it('gives the probabilities, logits and embedding computed by hand for a one-hidden-layer network', async () => {
    const model = buildFeedForwardOnnx({
      inputDim: 4,
      layers: [hidden, output],
      outputs: { probabilities: 'probabilities', logits: 'logits', embedding: 'embedding' },
    });
    const { outputs } = await run(model, 'features', X);

    const h = applyDense(X, hidden);
    const logits = applyDense(h, output);
    expectClose(outputs.probabilities, softmax(logits));
    expectClose(outputs.logits, logits);
    expectClose(outputs.embedding, h);
    // relu must have clipped something, or the embedding check would not tell relu from none.
    expect(h.flat()).toContain(0);
  });

  it('applies the standardisation before the first layer', async () => {
    const mean = Float32Array.from([1, -0.5, 2, 0]);
    const scale = Float32Array.from([2, 0.5, 4, 1.5]);
    const layer = dense(4, 3, 'none', 3);
    const model = buildFeedForwardOnnx({
      inputName: 'x',
      inputDim: 4,
      standardize: { mean, scale },
      layers: [layer],
      outputs: { probabilities: 'p', embedding: 'standardised' },
    });
    const { outputs } = await run(model, 'x', X);

    const z = X.map((row) => row.map((v, i) => (v - mean[i]) / scale[i]));
    expectClose(outputs.standardised, z);
    expectClose(outputs.p, softmax(applyDense(z, layer)));
  });

  it('applies tanh between layers', async () => {
    const first = dense(4, 5, 'tanh', 4);
    const second = dense(5, 2, 'none', 5);
    const model = buildFeedForwardOnnx({
      inputDim: 4,
      layers: [first, second],
      outputs: { logits: 'logits' },
    });
    const { outputs } = await run(model, 'features', X);

    expectClose(outputs.logits, applyDense(applyDense(X, first), second));
  });

  it('declares a float32 input and outputs with a symbolic batch dimension N', async () => {
    const model = buildFeedForwardOnnx({
      inputDim: 4,
      layers: [hidden, output],
      outputs: { probabilities: 'probabilities', embedding: 'embedding' },
    });
    const { inputMetadata, outputMetadata } = await run(model, 'features');

    expect(inputMetadata).toEqual([
      { name: 'features', isTensor: true, type: 'float32', shape: ['N', 4] },
    ]);
    expect(outputMetadata).toEqual([
      { name: 'probabilities', isTensor: true, type: 'float32', shape: ['N', 3] },
      { name: 'embedding', isTensor: true, type: 'float32', shape: ['N', 6] },
    ]);
  });

  it('keeps its own tensor names apart from the names the caller chose', async () => {
    const model = buildFeedForwardOnnx({
      inputDim: 4,
      layers: [hidden, output],
      outputs: { probabilities: 'logits', embedding: 'dense0/output' },
    });
    const { outputs } = await run(model, 'features', X);

    const h = applyDense(X, hidden);
    expectClose(outputs.logits, softmax(applyDense(h, output)));
    expectClose(outputs['dense0/output'], h);
  });

  it('writes the opset the spec asks for', async () => {
    for (const opset of [13, 21]) {
      const model = buildFeedForwardOnnx({
        inputDim: 4,
        opset,
        layers: [dense(4, 3, 'none', 6)],
        outputs: { logits: 'l' },
      });
      const { outputs } = await run(model, 'features', X);
      expect(outputs.l.dims).toEqual([3, 3]);
    }
  });

  describe('rejects a spec that does not add up, naming the field', () => {
    const valid = (): FeedForwardSpec => ({
      inputDim: 4,
      standardize: { mean: new Float32Array(4), scale: new Float32Array(4).fill(1) },
      layers: [dense(4, 6, 'relu', 1), dense(6, 3, 'none', 2)],
      outputs: { probabilities: 'probabilities', embedding: 'embedding' },
    });
    const cases: [string, (spec: FeedForwardSpec) => void, RegExp][] = [
      [
        'a zero inputDim',
        (s) => (s.inputDim = 0),
        /spec\.inputDim must be a positive integer, got 0/,
      ],
      [
        'a short standardisation mean',
        (s) => (s.standardize!.mean = new Float32Array(3)),
        /spec\.standardize\.mean has 3 values/,
      ],
      [
        'a long standardisation scale',
        (s) => (s.standardize!.scale = new Float32Array(5)),
        /spec\.standardize\.scale has 5 values/,
      ],
      ['no layers', (s) => (s.layers = []), /spec\.layers must hold at least one layer/],
      [
        'a first layer narrower than the input',
        (s) => (s.layers[0] = dense(3, 6, 'relu', 1)),
        /spec\.layers\[0\]\.inDim must equal spec\.inputDim \(4\), got 3/,
      ],
      [
        'layers that do not chain',
        (s) => (s.layers[1] = dense(5, 3, 'none', 2)),
        /spec\.layers\[1\]\.inDim must equal spec\.layers\[0\]\.outDim \(6\), got 5/,
      ],
      [
        'weights of the wrong length',
        (s) => (s.layers[1].weights = new Float32Array(17)),
        /spec\.layers\[1\]\.weights has 17 values, expected inDim \* outDim = 18/,
      ],
      [
        'a bias of the wrong length',
        (s) => (s.layers[0].bias = new Float32Array(2)),
        /spec\.layers\[0\]\.bias has 2 values, expected outDim = 6/,
      ],
      [
        'an unknown activation',
        (s) => (s.layers[0].activation = 'sigmoid' as 'relu'),
        /spec\.layers\[0\]\.activation must be/,
      ],
      ['no outputs', (s) => (s.outputs = {}), /spec\.outputs must name at least one/],
      [
        'two outputs with one name',
        (s) => (s.outputs = { probabilities: 'out', logits: 'out' }),
        /spec\.outputs\.logits 'out' is already used by spec\.outputs\.probabilities/,
      ],
      [
        'an output named like the input',
        (s) => (s.outputs = { logits: 'features' }),
        /spec\.outputs\.logits 'features' is already used by spec\.inputName/,
      ],
      [
        'an empty output name',
        (s) => (s.outputs = { logits: '' }),
        /spec\.outputs\.logits must be a non-empty string/,
      ],
      [
        'an unsupported opset',
        (s) => (s.opset = 11),
        /spec\.opset must be an integer from 13 to 21, got 11/,
      ],
    ];
    it('while the unbroken spec builds', () => {
      expect(buildFeedForwardOnnx(valid()).length).toBeGreaterThan(0);
    });

    it.each(cases)('such as %s', (_, breakSpec, message) => {
      const spec = valid();
      breakSpec(spec);
      expect(() => buildFeedForwardOnnx(spec)).toThrow(message);
    });
  });
});
