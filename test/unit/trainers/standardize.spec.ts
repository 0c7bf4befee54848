import { fitStandardizer, StandardizerAccumulator } from '../../../src/plugins/trainers/data';
import { loadTrainers, trainWith } from '../../../src/plugins/trainers/registry';
import { DEFAULT_CS } from '../../../src/plugins/trainers/softmax-regression';
import { maxAbsDifference, separable } from './helpers';

const registry = loadTrainers();

describe('the standardisation of the built-in trainers', () => {
  const data = separable(60, 1);
  /** Every item of a dataset: the labelled rows and 40 unlabelled ones far off. */
  const everything = (() => {
    const extra = separable(40, 2).features.map((v, i) => v * 3 + (i % 5) * 100);
    const all = new Float32Array(data.features.length + extra.length);
    all.set(data.features);
    all.set(extra, data.features.length);
    return { features: all, rows: 100 };
  })();
  const datasetStandardizer = fitStandardizer(everything.features, everything.rows, 5);

  it('adds chunks up to the mean and scale of all the rows at once', () => {
    const moments = new StandardizerAccumulator(5);
    for (const [from, to] of [
      [0, 7],
      [7, 8],
      [8, 100],
    ]) {
      moments.add(everything.features.subarray(from * 5, to * 5), to - from);
    }
    const whole = moments.result()!;
    expect(moments.rows).toBe(100);
    expect(maxAbsDifference(whole.mean, datasetStandardizer.mean)).toBeLessThan(1e-3);
    for (let i = 0; i < 5; i++) {
      expect(whole.scale[i]).toBeCloseTo(datasetStandardizer.scale[i], 2);
    }
    expect(new StandardizerAccumulator(5).result()).toBeUndefined();
  });

  it.each(['softmax', 'mlp'])(
    "%s uses the dataset's mean and scale by default, the labelled rows' or none when asked",
    (code) => {
      const quick = code === 'softmax' ? { C: 1 } : { epochs: 2 };
      const train = (standardize?: string) =>
        trainWith(
          registry,
          code,
          { ...data, datasetStandardizer },
          { ...quick, ...(standardize ? { standardize } : {}) },
        ).model.standardize;
      expect(train()).toEqual(datasetStandardizer);
      expect(train('labelled')).toEqual(fitStandardizer(data.features, data.rows, data.dim));
      expect(train('none')).toEqual({
        mean: new Float32Array(5),
        scale: new Float32Array(5).fill(1),
      });
    },
  );
});

describe("the softmax trainer's C", () => {
  const data = separable(60, 3);

  it('is chosen by cross-validation among Cs when not given, and reported', () => {
    const { model, options } = trainWith(registry, 'softmax', data, {});
    expect(options.C).toBeUndefined();
    expect(options.Cs).toEqual(DEFAULT_CS);
    expect(DEFAULT_CS).toContain(model.fitted!.C);
    expect(model.fitted!.cvFolds).toBe(5);
    const picked = trainWith(registry, 'softmax', data, { Cs: [0.001, 0.01] }).model;
    expect([0.001, 0.01]).toContain(picked.fitted!.C);
  });

  it('is used as given, without cross-validation, when given', () => {
    const { model } = trainWith(registry, 'softmax', data, { C: 3 });
    expect(model.fitted).toEqual({ converged: true });
    // Well separated classes: a weakly regularised fit is sure of its training rows.
    expect(model.finalLoss).toBeLessThan(0.05);
  });
});
