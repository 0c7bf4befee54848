/**
 * The inference pool against real ONNX models in real worker threads. onnxruntime never runs on
 * this thread (it cannot inside jest's VM context): everything model-related happens in workers.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
// The pool's overload error is the server-wide one (code SERVICE_OVERLOADED).
import { ServiceOverloadedError as InferenceOverloadedError } from '../../../src/errors';
import {
  InferencePool,
  ModelRef,
  ScoreTask,
  StrategyRef,
} from '../../../src/workers/inference.pool';
import { mulberry32 } from '../../../src/strategies/math';
import { buildFeedForwardOnnx, DenseLayer, FeedForwardSpec } from '../../../src/ml/onnx-build';

const STRATEGIES = path.join(__dirname, '../../fixtures/inference-strategies.js');
const FEATURES = 16;
const HIDDEN = 24;
const CLASSES = 5;

interface Mlp {
  hidden: DenseLayer;
  out: DenseLayer;
}

function layer(inDim: number, outDim: number, seed: number, activation: DenseLayer['activation']) {
  const random = mulberry32(seed);
  const weights = Float32Array.from({ length: inDim * outDim }, () => random() * 2 - 1);
  const bias = Float32Array.from({ length: outDim }, () => random() - 0.5);
  return { inDim, outDim, weights, bias, activation };
}

function mlp(seed: number): Mlp {
  return {
    hidden: layer(FEATURES, HIDDEN, seed, 'relu'),
    out: layer(HIDDEN, CLASSES, seed + 1, 'none'),
  };
}

/** The model's forward pass in float64: the embedding (hidden layer) and the probabilities. */
function forward(net: Mlp, x: Float32Array, rows: number) {
  const dense = (l: DenseLayer, input: number[]): number[] =>
    Array.from({ length: l.outDim }, (_, o) => {
      let s = l.bias[o];
      for (let i = 0; i < l.inDim; i++) s += input[i] * l.weights[i * l.outDim + o];
      return l.activation === 'relu' ? Math.max(0, s) : s;
    });
  const embeddings: number[] = [];
  const probabilities: number[] = [];
  for (let r = 0; r < rows; r++) {
    const h = dense(net.hidden, Array.from(x.subarray(r * FEATURES, (r + 1) * FEATURES)));
    const z = dense(net.out, h);
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    embeddings.push(...h);
    probabilities.push(...e.map((v) => v / sum));
  }
  return { embeddings, probabilities };
}

let dir: string;

function writeModel(name: string, bytes: Uint8Array, overrides: Partial<ModelRef> = {}): ModelRef {
  const file = path.join(dir, `${name}.onnx`);
  writeFileSync(file, bytes);
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    path: file,
    inputName: 'features',
    outputName: 'probabilities',
    outputKind: 'PROBABILITIES',
    embeddingOutputName: 'embedding',
    ...overrides,
  };
}

function feedForward(net: Mlp, outputs: FeedForwardSpec['outputs']): Uint8Array {
  return buildFeedForwardOnnx({ inputDim: FEATURES, layers: [net.hidden, net.out], outputs });
}

/** A model that loads but fails on every run: it reshapes any batch to 7 values. */
function failingModel(): Uint8Array {
  const { FLOAT, INT64 } = onnx.TensorProto.DataType;
  const matrix = (name: string, width: number): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] } },
    },
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'failing',
      input: [matrix('features', FEATURES)],
      output: [{ name: 'probabilities', type: { tensorType: { elemType: FLOAT } } }],
      initializer: [{ name: 'shape', dataType: INT64, dims: [1], int64Data: [7] }],
      node: [{ opType: 'Reshape', input: ['features', 'shape'], output: ['probabilities'] }],
    },
  }).finish();
}

function features(rows: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: rows * FEATURES }, () => random() * 4 - 2);
}

function task(models: ModelRef[], x: Float32Array, extra: Partial<ScoreTask> = {}): ScoreTask {
  return {
    models,
    features: x,
    rows: x.length / FEATURES,
    dim: FEATURES,
    embeddings: false,
    ...extra,
  };
}

function expectClose(actual: ArrayLike<number> | undefined, expected: number[], tolerance = 1e-5) {
  expect(actual).toBeDefined();
  expect(actual!.length).toBe(expected.length);
  const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(actual![i] - v)), 0);
  expect(worst).toBeLessThan(tolerance);
}

/** Margin scores as the fixture's `test-margin` computes them, from given probabilities. */
function marginScores(p: Float32Array, rows: number, scale: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    const sorted = Array.from(p.subarray(r * CLASSES, (r + 1) * CLASSES)).sort((a, b) => b - a);
    return scale * (1 - (sorted[0] - sorted[1]));
  });
}

const netA = mlp(1);
const netB = mlp(11);
let modelA: ModelRef;
let modelALogits: ModelRef;
let modelB: ModelRef;
let pool: InferencePool;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'quarry-inference-'));
  modelA = writeModel(
    'a',
    feedForward(netA, { probabilities: 'probabilities', embedding: 'embedding' }),
  );
  modelALogits = writeModel('a-logits', feedForward(netA, { logits: 'logits' }), {
    outputName: 'logits',
    outputKind: 'LOGITS',
    embeddingOutputName: null,
  });
  modelB = writeModel('b', feedForward(netB, { probabilities: 'probabilities' }), {
    embeddingOutputName: null,
  });
  // Small batches, so a few thousand rows take several runs per model.
  pool = new InferencePool({ threads: 2, batchRows: 256 });
});

afterAll(async () => {
  await pool?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('InferencePool.score', () => {
  const rows = 1000;
  const x = features(rows, 5);
  const expectedA = forward(netA, x, rows);

  it('gives every row the probabilities the model computes, and its most probable class', async () => {
    const result = await pool.score(task([modelA], x.slice()));
    expect(result.rows).toBe(rows);
    expect(result.classCount).toBe(CLASSES);
    expect(result.top).toBeUndefined();
    expect(result.all!.probabilities).toHaveLength(1);
    expectClose(result.all!.probabilities[0], expectedA.probabilities);
    expect(result.all!.embeddings).toBeUndefined();
    const expectedClass = Array.from({ length: rows }, (_, r) => {
      const p = expectedA.probabilities.slice(r * CLASSES, (r + 1) * CLASSES);
      return p.indexOf(Math.max(...p));
    });
    expect(Array.from(result.predictedClass)).toEqual(expectedClass);
    expectClose(
      result.confidence,
      expectedClass.map((c, r) => expectedA.probabilities[r * CLASSES + c]),
    );
  });

  it('turns logits into the same probabilities with a softmax', async () => {
    const result = await pool.score(task([modelALogits], x.slice()));
    expectClose(result.all!.probabilities[0], expectedA.probabilities);
  });

  it('returns the first model’s embedding when asked', async () => {
    const result = await pool.score(task([modelA], x.slice(), { embeddings: true }));
    expect(result.all!.embeddingDim).toBe(HIDDEN);
    expectClose(result.all!.embeddings, expectedA.embeddings);
  });

  it('runs each model of a committee, the first one giving the prediction', async () => {
    const result = await pool.score(task([modelA, modelB], x.slice()));
    expect(result.all!.probabilities).toHaveLength(2);
    expectClose(result.all!.probabilities[0], expectedA.probabilities);
    expectClose(result.all!.probabilities[1], forward(netB, x, rows).probabilities);
    const first = await pool.score(task([modelA], x.slice()));
    expect(Array.from(result.predictedClass)).toEqual(Array.from(first.predictedClass));
  });

  it('scores rows with a pointwise strategy and keeps the local top rows, as JS computes them', async () => {
    const all = await pool.score(task([modelA], x.slice()));
    const probs = all.all!.probabilities[0];
    const scores = marginScores(probs, rows, 2);
    const expectedRows = Array.from(scores.keys())
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, 25);

    const margin: StrategyRef = {
      modulePath: STRATEGIES,
      code: 'test-margin',
      params: { scale: 2 },
    };
    const result = await pool.score(
      task([modelA], x.slice(), {
        embeddings: true,
        pointwise: { ...margin, keep: 25, returnOutputs: true },
      }),
    );
    expect(result.all).toBeUndefined();
    const top = result.top!;
    expect(Array.from(top.rows)).toEqual(expectedRows);
    expect(Array.from(top.scores)).toEqual(expectedRows.map((r) => scores[r]));
    expect(top.reasons).toEqual(
      expectedRows.map((r) => {
        const sorted = Array.from(probs.subarray(r * CLASSES, (r + 1) * CLASSES)).sort(
          (a, b) => b - a,
        );
        return { margin: sorted[0] - sorted[1], predictedClass: all.predictedClass[r] };
      }),
    );
    expect(Array.from(top.probabilities![0])).toEqual(
      expectedRows.flatMap((r) => Array.from(probs.subarray(r * CLASSES, (r + 1) * CLASSES))),
    );
    expect(top.embeddingDim).toBe(HIDDEN);
    expectClose(
      top.embeddings,
      expectedRows.flatMap((r) => expectedA.embeddings.slice(r * HIDDEN, (r + 1) * HIDDEN)),
    );
    // The prediction is still given for every row.
    expect(Array.from(result.predictedClass)).toEqual(Array.from(all.predictedClass));
  });

  it('hands the embedding to a pointwise strategy that needs it', async () => {
    const result = await pool.score(
      task([modelA], x.slice(), {
        embeddings: true,
        pointwise: { modulePath: STRATEGIES, code: 'test-embedding-first', params: {}, keep: 3 },
      }),
    );
    const firsts = Array.from({ length: rows }, (_, r) => expectedA.embeddings[r * HIDDEN]);
    const best = Array.from(firsts.keys()).sort((a, b) => firsts[b] - firsts[a] || a - b);
    expect(Array.from(result.top!.rows)).toEqual(best.slice(0, 3));
  });

  it('ranks equal scores by the lower row first', async () => {
    const result = await pool.score(
      task([modelA], x.slice(), {
        pointwise: { modulePath: STRATEGIES, code: 'test-constant', params: {}, keep: 4 },
      }),
    );
    expect(Array.from(result.top!.rows)).toEqual([0, 1, 2, 3]);
  });

  it('transfers the features to the worker: the caller’s array is detached afterwards', async () => {
    const sent = x.slice();
    const result = await pool.score(task([modelA], sent));
    expect(sent.byteLength).toBe(0);
    expect(sent.buffer.byteLength).toBe(0);
    // What comes back is exactly sized memory of its own.
    expect(result.all!.probabilities[0].buffer.byteLength).toBe(rows * CLASSES * 4);
    expect(result.predictedClass.buffer.byteLength).toBe(rows * 2);
  });

  it('refuses a task whose features do not match rows x dim, before sending anything', async () => {
    const short = new Float32Array(FEATURES * 3 - 1);
    await expect(pool.score({ ...task([modelA], short), rows: 3 })).rejects.toThrow(
      `task.features has ${FEATURES * 3 - 1} values, expected rows x dim = ${FEATURES * 3}`,
    );
    expect(short.length).toBe(FEATURES * 3 - 1);
  });
});

describe('InferencePool.score with outputs that are not finite', () => {
  const rows = 40;
  const bad = [3, 17, 39];
  const x = features(rows, 21);
  // A NaN feature makes NaN outputs on its row only.
  for (const r of bad) x[r * FEATURES + 2] = NaN;
  const kept = Array.from({ length: rows }, (_, r) => r).filter((r) => !bad.includes(r));
  const keptX = Float32Array.from(
    kept.flatMap((r) => Array.from(x.subarray(r * FEATURES, (r + 1) * FEATURES))),
  );
  const expected = forward(netA, keptX, kept.length);

  it('leaves those rows out, lists them in skipped, and gives the rest their outputs', async () => {
    const result = await pool.score(task([modelA], x.slice(), { embeddings: true }));
    expect(Array.from(result.skipped!)).toEqual(bad);
    expect(result.rows).toBe(kept.length);
    expect(result.confidence).toHaveLength(kept.length);
    expectClose(result.all!.probabilities[0], expected.probabilities);
    expectClose(result.all!.embeddings, expected.embeddings);
  });

  it('ranks only the finite rows with a pointwise strategy', async () => {
    const result = await pool.score(
      task([modelA], x.slice(), {
        pointwise: {
          modulePath: STRATEGIES,
          code: 'test-margin',
          params: { scale: 1 },
          keep: rows,
        },
      }),
    );
    expect(Array.from(result.skipped!)).toEqual(bad);
    expect(result.top!.rows).toHaveLength(kept.length);
    expect(Array.from(result.top!.scores).every(Number.isFinite)).toBe(true);
  });

  it('omits skipped when every row is finite', async () => {
    const result = await pool.score(task([modelA], features(10, 22)));
    expect(result.skipped).toBeUndefined();
    expect(result.rows).toBe(10);
  });
});

describe('InferencePool.score with a broken model or strategy', () => {
  const x = features(50, 9);

  async function expectPoolStillWorks(): Promise<void> {
    const result = await pool.score(task([modelA], x.slice()));
    expectClose(result.all!.probabilities[0], forward(netA, x, 50).probabilities);
  }

  it('rejects a model file that does not exist, and stays usable', async () => {
    // A hash no worker has loaded: a loaded session is kept under its hash, whatever the path.
    const missing = { ...modelA, sha256: 'f'.repeat(64), path: path.join(dir, 'missing.onnx') };
    await expect(pool.score(task([missing], x.slice()))).rejects.toThrow(
      `cannot read model file ${missing.path}`,
    );
    await expectPoolStillWorks();
  });

  it('rejects a file that is not an ONNX model, and stays usable', async () => {
    const garbage = writeModel('garbage', new Uint8Array(300).fill(0x5a));
    await expect(pool.score(task([garbage], x.slice()))).rejects.toThrow(
      'onnxruntime could not load model',
    );
    await expectPoolStillWorks();
  });

  it('rejects a file whose hash is not the one given', async () => {
    const wrong = { ...modelA, sha256: 'e'.repeat(64) };
    await expect(pool.score(task([wrong], x.slice()))).rejects.toThrow(
      `has SHA-256 ${modelA.sha256}, expected ${'e'.repeat(64)}`,
    );
    await expectPoolStillWorks();
  });

  it('rejects a model that fails at run time with onnxruntime’s reason, and stays usable', async () => {
    const failing = writeModel('failing', failingModel(), { embeddingOutputName: null });
    await expect(pool.score(task([failing], x.slice()))).rejects.toThrow(
      /^model [0-9a-f]{12} failed on rows 0 to 49: .*Reshape/,
    );
    await expectPoolStillWorks();
  });

  it('rejects features of another width than the model takes', async () => {
    const narrow = new Float32Array(10 * 8);
    await expect(pool.score({ ...task([modelA], narrow), rows: 10, dim: 8 })).rejects.toThrow(
      /failed on rows 0 to 9: Got invalid dimensions for input: features/,
    );
  });

  it('rejects an output name the model does not have, naming the ones it has', async () => {
    const renamed = { ...modelA, outputName: 'scores' };
    await expect(pool.score(task([renamed], x.slice()))).rejects.toThrow(
      "has no output 'scores'; its outputs are 'probabilities', 'embedding'",
    );
  });

  it('rejects a committee whose models disagree on the classes', async () => {
    const wide = writeModel(
      'wide',
      buildFeedForwardOnnx({
        inputDim: FEATURES,
        layers: [layer(FEATURES, CLASSES + 1, 3, 'none')],
        outputs: { probabilities: 'probabilities' },
      }),
      { embeddingOutputName: null },
    );
    await expect(pool.score(task([modelA, wide], x.slice()))).rejects.toThrow(
      `gives ${CLASSES + 1} classes, but model ${modelA.sha256.slice(0, 12)} gives ${CLASSES}`,
    );
  });

  it('rejects a strategy that throws, and one it cannot find', async () => {
    const throwing = { modulePath: STRATEGIES, code: 'test-throwing', params: {}, keep: 1 };
    await expect(pool.score(task([modelA], x.slice(), { pointwise: throwing }))).rejects.toThrow(
      "strategy 'test-throwing' failed to score: this strategy always fails",
    );
    const unknown = { ...throwing, code: 'nope' };
    await expect(pool.score(task([modelA], x.slice(), { pointwise: unknown }))).rejects.toThrow(
      `strategy module ${STRATEGIES} has no strategy 'nope'`,
    );
    const batch = { ...throwing, code: 'test-shuffle' };
    await expect(pool.score(task([modelA], x.slice(), { pointwise: batch }))).rejects.toThrow(
      "strategy 'test-shuffle' is batch, expected a pointwise strategy",
    );
    await expectPoolStillWorks();
  });
});

describe('InferencePool.select', () => {
  const shuffle: StrategyRef = { modulePath: STRATEGIES, code: 'test-shuffle', params: {} };

  function candidates(rows: number) {
    return { rows, classCount: 2, probabilities: [new Float32Array(rows * 2).fill(0.5)] };
  }

  /** What `test-shuffle` picks with mulberry32(seed). */
  function expectedShuffle(rows: number, size: number, seed: number): number[] {
    const random = mulberry32(seed);
    const order = Array.from({ length: rows }, (_, i) => i);
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(random() * (rows - i));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order.slice(0, size);
  }

  it('runs a batch strategy with the generator the seed gives', async () => {
    const labelled = { rows: 3, embeddings: new Float32Array(6) };
    const picks = await pool.select({
      strategy: shuffle,
      size: 6,
      seed: 42,
      pool: candidates(100),
      labelled,
    });
    expect(picks.map((p) => p.index)).toEqual(expectedShuffle(100, 6, 42));
    expect(picks[0]).toMatchObject({ score: 1, reason: { labelledRows: 3 } });
    const again = await pool.select({
      strategy: shuffle,
      size: 6,
      seed: 42,
      pool: candidates(100),
    });
    expect(again.map((p) => p.index)).toEqual(picks.map((p) => p.index));
    const other = await pool.select({
      strategy: shuffle,
      size: 6,
      seed: 43,
      pool: candidates(100),
    });
    expect(other.map((p) => p.index)).toEqual(expectedShuffle(100, 6, 43));
  });

  it('selects from a pool with no model outputs at all', async () => {
    const picks = await pool.select({
      strategy: shuffle,
      size: 10,
      seed: 1,
      pool: { rows: 4, classCount: 0, probabilities: [] },
    });
    expect(picks.map((p) => p.index).sort()).toEqual([0, 1, 2, 3]);
  });

  it('transfers the candidates to the worker', async () => {
    const given = candidates(10);
    await pool.select({ strategy: shuffle, size: 2, seed: 1, pool: given });
    expect(given.probabilities[0].byteLength).toBe(0);
  });

  it('rejects picks that name a row twice', async () => {
    const duplicate = { ...shuffle, code: 'test-duplicate' };
    await expect(
      pool.select({ strategy: duplicate, size: 2, seed: 1, pool: candidates(5) }),
    ).rejects.toThrow("strategy 'test-duplicate' returned row 0 twice");
  });
});

describe('InferencePool limits', () => {
  it('refuses a task beyond the queue limit with a SERVICE_OVERLOADED error, sending nothing', async () => {
    const small = new InferencePool({ threads: 1, maxQueue: 1 });
    try {
      await small.score(task([modelA], features(10, 1)));
      // The three calls are made in one go: the first occupies the thread, the second waits.
      const big = features(2000, 2);
      const busy = small.score(task([modelA], big.slice()));
      const queued = small.score(task([modelA], big.slice()));
      const refusedFeatures = features(10, 3);
      const refused = small.score(task([modelA], refusedFeatures));
      await expect(refused).rejects.toBeInstanceOf(InferenceOverloadedError);
      await expect(refused).rejects.toMatchObject({
        extensions: { code: 'SERVICE_OVERLOADED' },
      });
      expect(refusedFeatures.length).toBe(10 * FEATURES);
      await expect(busy).resolves.toMatchObject({ rows: 2000 });
      await expect(queued).resolves.toMatchObject({ rows: 2000 });
      await expect(small.score(task([modelA], refusedFeatures))).resolves.toMatchObject({
        rows: 10,
      });
    } finally {
      await small.destroy();
    }
  });

  it('loads a model once per worker and keeps its session', async () => {
    const single = new InferencePool({ threads: 1 });
    try {
      const copy = writeModel('kept', feedForward(netB, { probabilities: 'probabilities' }), {
        embeddingOutputName: null,
      });
      const x = features(20, 4);
      const first = await single.score(task([copy], x.slice()));
      rmSync(copy.path);
      const second = await single.score(task([copy], x.slice()));
      expect(Array.from(second.all!.probabilities[0])).toEqual(
        Array.from(first.all!.probabilities[0]),
      );
    } finally {
      await single.destroy();
    }
  });

  it('refuses tasks once destroyed, and destroys only once', async () => {
    const short = new InferencePool({ threads: 2 });
    await short.score(task([modelA, modelB], features(10, 1)));
    await Promise.all([short.destroy(), short.destroy()]);
    await expect(short.score(task([modelA], features(10, 1)))).rejects.toThrow(
      'The inference pool has been destroyed.',
    );
  });

  it('refuses malformed options, naming them', () => {
    expect(() => new InferencePool({ threads: 0 })).toThrow(
      'options.threads must be an integer of 1 or more, got 0',
    );
    expect(() => new InferencePool({ maxQueue: -1 })).toThrow('options.maxQueue');
  });
});
