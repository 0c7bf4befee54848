import { BadUserInputError, ErrorCode } from '../../../src/errors';
import { loadTrainers, trainWith } from '../../../src/plugins/trainers/registry';
import type { TrainedModel } from '../../../src/plugins/trainers/types';
import { mulberry32 } from '../../../src/strategies/math';
import { argmaxRows, maxAbsDifference, runOnnx, separable, Toy, xor } from './helpers';

const registry = loadTrainers();

function train(code: string, data: Toy, options: Record<string, unknown> = {}): TrainedModel {
  return trainWith(registry, code, data, options).model;
}

/** The error `fn` throws, checked to be BAD_USER_INPUT. */
function badInput(fn: () => unknown): BadUserInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadUserInputError);
    expect((e as BadUserInputError).extensions.code).toBe(ErrorCode.BAD_USER_INPUT);
    return e as BadUserInputError;
  }
  throw new Error('nothing was thrown');
}

/** Options that make each trainer quick (one pass, or one solver iteration). */
const QUICK: Record<string, Record<string, unknown>> = {
  softmax: { C: 1, maxIterations: 1 },
  mlp: { epochs: 1, earlyStopping: false },
};

describe.each(['softmax', 'mlp'])('the %s trainer', (code) => {
  const data = separable(90, 1);
  const unseen = separable(30, 2);

  it('exports a model that classifies a linearly separable set perfectly, seen and unseen rows', async () => {
    const model = train(code, data);
    for (const set of [data, unseen]) {
      const { outputs } = await runOnnx(model.export(), set.features, set.rows, set.dim);
      expect(argmaxRows(outputs.probabilities.data, 3)).toEqual(Array.from(set.labels));
    }
  });

  it('predicts in memory what the exported ONNX graph computes, probabilities and embeddings', async () => {
    const model = train(code, data);
    const onnx = await runOnnx(model.export(), unseen.features, unseen.rows, unseen.dim);
    const mine = model.predict(unseen.features, unseen.rows, { embeddings: true });

    expect(onnx.inputNames).toEqual(['features']);
    expect(onnx.outputNames).toEqual(['probabilities', 'embedding']);
    expect(onnx.outputs.probabilities.dims).toEqual([unseen.rows, 3]);
    expect(onnx.outputs.embedding.dims).toEqual([unseen.rows, model.embeddingDim]);
    expect(maxAbsDifference(mine.probabilities, onnx.outputs.probabilities.data)).toBeLessThan(
      1e-5,
    );
    expect(maxAbsDifference(mine.embeddings!, onnx.outputs.embedding.data)).toBeLessThan(1e-5);
    // A trained model is confident somewhere, so the comparison is not of near-uniform rows.
    expect(Math.max(...mine.probabilities)).toBeGreaterThan(0.9);
  });

  it('gives identical weights for the same data and options', () => {
    const a = train(code, data, { seed: 7 });
    const b = train(code, data, { seed: 7 });
    expect(b.layers).toEqual(a.layers);
    expect(b.export()).toEqual(a.export());
  });

  it("without the dataset's standardisation, learns it from the training rows, with scale 1 for a constant feature", () => {
    const model = train(code, data, QUICK[code]);
    const column = (i: number) =>
      Array.from({ length: data.rows }, (_, r) => data.features[r * 5 + i]);
    const mean = column(0).reduce((s, v) => s + v, 0) / data.rows;
    expect(model.standardize.mean[0]).toBeCloseTo(mean, 0);
    expect(model.standardize.mean[4]).toBe(7.25);
    expect(model.standardize.scale[4]).toBe(1);
    expect(model.standardize.scale[0]).toBeGreaterThan(1000);
  });

  it('names the option at fault', () => {
    const e = badInput(() => train(code, data, { standardize: 'all', seed: -1 }));
    expect(e.message).toContain(`Invalid options for trainer "${code}"`);
    expect(e.message).toContain('options.standardize must be one of "dataset", "labelled", "none"');
    expect(e.message).toContain('options.seed must be >= 0');
    expect(e.extensions.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'options.standardize' })]),
    );
    expect(badInput(() => train(code, data, { epoch: 3 })).message).toContain(
      'options.epoch is not an option of this trainer',
    );
    expect(badInput(() => train(code, data, { seed: 1.5 })).message).toContain(
      'options.seed must be integer',
    );
  });

  it('refuses labels of a single class, saying two are needed', () => {
    const e = badInput(() => train(code, { ...data, labels: new Int32Array(data.rows).fill(2) }));
    expect(e.message).toBe(
      'All 90 labelled rows are of class 2; training a classifier needs labels of at least two distinct classes.',
    );
  });

  it('refuses to train on no rows', () => {
    const e = badInput(() =>
      train(code, { ...data, rows: 0, features: new Float32Array(0), labels: new Int32Array(0) }),
    );
    expect(e.message).toContain('no labelled rows to train on');
  });

  it('refuses a NaN or infinite feature, naming its row and column', () => {
    const features = data.features.slice();
    features[7 * 5 + 3] = NaN;
    expect(badInput(() => train(code, { ...data, features })).message).toContain(
      'Feature 3 of row 7 is NaN; training needs finite feature values',
    );
    features[7 * 5 + 3] = 0;
    features[2] = -Infinity;
    expect(badInput(() => train(code, { ...data, features })).message).toContain(
      'Feature 2 of row 0 is -Infinity',
    );
  });

  it('refuses a label outside the classes', () => {
    const labels = data.labels.slice();
    labels[4] = 3;
    expect(badInput(() => train(code, { ...data, labels })).message).toBe(
      'The label of row 4 is 3; labels must be class indices from 0 to 2.',
    );
  });

  it('keeps a column for a class without training rows', async () => {
    const model = train(code, { ...data, classCount: 4 });
    const { outputs } = await runOnnx(model.export(), unseen.features, unseen.rows, unseen.dim);
    expect(outputs.probabilities.dims).toEqual([unseen.rows, 4]);
    expect(argmaxRows(outputs.probabilities.data, 4)).toEqual(Array.from(unseen.labels));
  });
});

describe('the mlp trainer', () => {
  const data = separable(90, 1);

  it('trains full-batch when batchSize is 0, and reports its epochs and a falling loss', () => {
    const model = train('mlp', data, { batchSize: 0, epochs: 40, earlyStopping: false });
    expect(model.epochs).toBe(40);
    expect(model.lossHistory).toHaveLength(40);
    expect(model.lossHistory[39]).toBeLessThan(model.lossHistory[0]);
    expect(model.finalLoss).toBeLessThan(model.lossHistory[0]);
    expect(model.finalLoss).toBeGreaterThan(0);
  });

  it('chooses more epochs for a small set than for a large one when epochs are not given', () => {
    const small = train('mlp', separable(30, 3), { earlyStopping: false });
    const large = train('mlp', separable(3000, 3), { earlyStopping: false });
    expect(small.epochs).toBeGreaterThan(large.epochs);
  });

  it.each(['relu', 'tanh'])(
    'learns XOR with a %s hidden layer, which softmax regression cannot',
    async (activation) => {
      const data = xor(200, 5);
      const model = train('mlp', data, { activation, hiddenUnits: 16, earlyStopping: false });
      const { outputs } = await runOnnx(model.export(), data.features, data.rows, data.dim);
      expect(argmaxRows(outputs.probabilities.data, 2)).toEqual(Array.from(data.labels));
      expect(outputs.embedding.dims).toEqual([200, 16]);

      const linear = train('softmax', data);
      const right = argmaxRows(linear.predict(data.features, data.rows).probabilities, 2).filter(
        (c, r) => c === data.labels[r],
      ).length;
      expect(right).toBeLessThan(160);
    },
  );

  it('uses the activation it is given in the exported graph', () => {
    const data = separable(30, 1);
    expect(train('mlp', data, { ...QUICK.mlp, activation: 'tanh' }).layers[0].activation).toBe(
      'tanh',
    );
    expect(train('mlp', data, QUICK.mlp).layers[0].activation).toBe('relu');
    expect(train('mlp', data, { ...QUICK.mlp, hiddenUnits: 9 }).embeddingDim).toBe(9);
  });

  it('names a bad hidden layer option', () => {
    const data = separable(30, 1);
    expect(badInput(() => train('mlp', data, { hiddenUnits: 0 })).message).toContain(
      'options.hiddenUnits must be >= 1',
    );
    expect(badInput(() => train('mlp', data, { activation: 'sigmoid' })).message).toContain(
      'options.activation must be one of "relu", "tanh"',
    );
  });
});

describe('the softmax trainer', () => {
  it('embeds a row as its standardised features', () => {
    const data = separable(30, 1);
    const model = train('softmax', data, QUICK.softmax);
    const { embeddings, embeddingDim } = model.predict(data.features.subarray(0, 5), 1, {
      embeddings: true,
    });
    expect(embeddingDim).toBe(5);
    const { mean, scale } = model.standardize;
    Array.from(embeddings!).forEach((v, i) =>
      expect(v).toBeCloseTo((data.features[i] - mean[i]) / scale[i], 5),
    );
  });
});

describe('early stopping of the mlp trainer', () => {
  /** Three noisy blobs: a net keeps lowering the training loss long after held-out errors stop falling. */
  const noisy = (() => {
    const base = separable(300, 4);
    const random = mulberry32(9);
    const labels = base.labels.map((c) => (random() < 0.2 ? Math.floor(random() * 3) : c));
    return { ...base, labels: Int32Array.from(labels) };
  })();

  it('stops long before its epoch limit, then fits all labels for the epochs it chose', () => {
    const stopped = train('mlp', noisy, { epochs: 2000, patience: 10 });
    const fitted = stopped.fitted!.earlyStopping as Record<string, number>;
    expect(fitted.maxEpochs).toBe(2000);
    expect(fitted.probeEpochs).toBeLessThan(500);
    expect(fitted.validationRows).toBe(30);
    expect(stopped.epochs).toBe(fitted.epochs);
    expect(stopped.epochs).toBeLessThanOrEqual(fitted.probeEpochs);
    // The final model is the full-data fit for that many epochs, from the same start.
    const same = train('mlp', noisy, { epochs: stopped.epochs, earlyStopping: false });
    expect(stopped.layers).toEqual(same.layers);
  });

  it('runs every epoch when switched off, when too few labels would be held out, or when the limit is within patience', () => {
    expect(train('mlp', noisy, { epochs: 60, earlyStopping: false }).epochs).toBe(60);
    const short = train('mlp', noisy, { epochs: 30, patience: 30 });
    expect(short.epochs).toBe(30);
    expect(short.fitted).toBeUndefined();
    const tiny = separable(12, 5);
    const model = train('mlp', tiny, { epochs: 60 });
    expect(model.epochs).toBe(60);
    expect(model.fitted).toBeUndefined();
  });
});
