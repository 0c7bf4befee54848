import path from 'node:path';
import { betaVariate, gammaVariate, standardNormal } from '../../src/ml/distributions';
import { mulberry32, seedFrom } from '../../src/strategies/math';
import { featureStdDevs } from '../../src/plugins/synthesis/builtin/index';
import { loadSynthesisMethods } from '../../src/plugins/synthesis/registry';
import { MAX_SYNTHESIS_COUNT, synthesize } from '../../src/services/synthesize';
import type { LabelledVectors, SyntheticVector } from '../../src/plugins/synthesis/types';
import { badUserInput } from '../helpers/errors';

const plugin = (name: string) =>
  path.resolve(__dirname, '../fixtures/synthesis-plugins', `${name}.js`);
const registry = loadSynthesisMethods();

/** A labelled set from rows of features and their classes; ids are `item-<row>`. */
function labelledSet(rows: number[][], classes: number[]): LabelledVectors {
  return {
    rows: rows.length,
    dim: rows[0]?.length ?? 1,
    features: Float32Array.from(rows.flat()),
    classes,
    itemIds: rows.map((_, i) => `item-${i}`),
  };
}

/** `rows` random rows of `dim` features in [-5, 5) with classes 0 .. classCount-1 in turn. */
function randomSet(rows: number, dim: number, classCount: number, seed = 'set'): LabelledVectors {
  const random = mulberry32(seedFrom(seed));
  return labelledSet(
    Array.from({ length: rows }, () => Array.from({ length: dim }, () => 10 * random() - 5)),
    Array.from({ length: rows }, (_, i) => i % classCount),
  );
}

const rowOf = (set: LabelledVectors, id: string) => {
  const row = set.itemIds.indexOf(id);
  return Array.from(set.features.subarray(row * set.dim, (row + 1) * set.dim));
};

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
function variance(values: number[]): number {
  const m = mean(values);
  return mean(values.map((v) => (v - m) ** 2));
}

describe('the synthesis method registry', () => {
  it('holds the built-in methods, and a plugin module’s beside them', () => {
    expect(registry.list().map((r) => r.plugin.code)).toEqual(['gaussian', 'mixup', 'smote']);
    const withPlugin = loadSynthesisMethods([plugin('midpoint')]);
    const set = labelledSet(
      [
        [0, 2],
        [4, 6],
      ],
      [0, 1],
    );
    const { vectors } = synthesize(withPlugin, {
      method: 'midpoint',
      count: 2,
      labelled: set,
      seed: 1,
    });
    expect(Array.from(vectors[1].features)).toEqual([2, 4]);
  });

  // Duplicate codes and the other start-up checks: see registry.spec.ts.
  it('reports a method that returns too few vectors as an internal error', () => {
    const withPlugin = loadSynthesisMethods([plugin('midpoint')]);
    expect(() =>
      synthesize(withPlugin, { method: 'broken', count: 3, labelled: randomSet(4, 2, 2), seed: 1 }),
    ).toThrow('Synthesis method "broken" returned 2 vectors; 3 were asked for.');
  });

  it('names each bad parameter', () => {
    const labelled = randomSet(10, 2, 2);
    const run = (method: string, params: unknown) => () =>
      synthesize(registry, { method, params, count: 1, labelled, seed: 1 });
    expect(badUserInput(run('smote', { k: 0 })).message).toMatch(/params\.k must be >= 1/);
    expect(badUserInput(run('mixup', { alpha: 0 })).message).toMatch(/params\.alpha must be > 0/);
    expect(badUserInput(run('gaussian', { classes: [-1] })).message).toMatch(
      /params\.classes\.0 must be >= 0/,
    );
    expect(badUserInput(run('gaussian', { noise: 1 })).message).toMatch(
      /params\.noise is not a parameter of this synthesis method/,
    );
    expect(badUserInput(run('interpolate', {})).message).toMatch(
      /Unknown synthesis method "interpolate"\. Known: gaussian, mixup, smote\./,
    );
  });

  it.each([0, -1, 2.5, MAX_SYNTHESIS_COUNT + 1])('refuses a count of %p', (count) => {
    const e = badUserInput(() =>
      synthesize(registry, { method: 'gaussian', count, labelled: randomSet(5, 2, 2), seed: 1 }),
    );
    expect(e.message).toContain(`count must be an integer from 1 to ${MAX_SYNTHESIS_COUNT}`);
    expect(e.extensions.problems).toEqual([expect.objectContaining({ field: 'count' })]);
  });
});

describe.each(['smote', 'mixup', 'gaussian'])('%s', (method) => {
  const labelled = randomSet(60, 7, 3);

  it('makes as many finite vectors of the right length as asked, from labelled parents', () => {
    const { vectors, params } = synthesize(registry, { method, count: 250, labelled, seed: 'a' });
    expect(params).toEqual(registry.params(method, {}));
    expect(vectors).toHaveLength(250);
    for (const v of vectors) {
      expect(v.features).toBeInstanceOf(Float32Array);
      expect(v.features).toHaveLength(7);
      expect(v.features.every(Number.isFinite)).toBe(true);
      expect(v.parents.every((p) => labelled.itemIds.includes(p))).toBe(true);
      expect([0, 1, 2]).toContain(v.intendedClass);
    }
  });

  it('makes the same vectors for the same seed and other ones for another', () => {
    const run = (seed: string) =>
      synthesize(registry, { method, count: 20, labelled, seed }).vectors;
    expect(run('a')).toEqual(run('a'));
    expect(run('a').map((v) => Array.from(v.features))).not.toEqual(
      run('b').map((v) => Array.from(v.features)),
    );
  });

  it('keeps to the classes it is given', () => {
    const { vectors } = synthesize(registry, {
      method,
      params: { classes: method === 'mixup' ? [0, 2] : [1] },
      count: 50,
      labelled,
      seed: 'c',
    });
    const classOf = (id: string) => labelled.classes[labelled.itemIds.indexOf(id)];
    for (const v of vectors) {
      for (const p of v.parents) {
        if (method === 'mixup') expect([0, 2]).toContain(classOf(p));
        else expect(classOf(p)).toBe(1);
      }
    }
  });
});

describe('smote', () => {
  // Class 0 on a line: 0 and 1 are each other's nearest, 1 is 10's nearest. Class 1 has one item.
  const set = labelledSet(
    [
      [0, 0],
      [1, 0],
      [10, 0],
      [5, 5],
    ],
    [0, 0, 0, 1],
  );
  const nearest: Record<string, string> = {
    'item-0': 'item-1',
    'item-1': 'item-0',
    'item-2': 'item-1',
  };

  it('interpolates between an item and its nearest same-class neighbour (k = 1)', () => {
    const { vectors } = synthesize(registry, {
      method: 'smote',
      params: { k: 1 },
      count: 6,
      labelled: set,
      seed: 3,
    });
    const bases = vectors.map((v) => v.parents[0]).sort();
    // Each item of the class is a base once before any is a base twice; the single item never.
    expect(bases).toEqual(['item-0', 'item-0', 'item-1', 'item-1', 'item-2', 'item-2']);
    for (const v of vectors) {
      const [a, b] = v.parents;
      expect(b).toBe(nearest[a]);
      expect(v.intendedClass).toBe(0);
      expect(v.record).toMatchObject({ k: 1, neighbourRank: 1 });
      const gap = v.record.gap;
      expect(gap).toBeGreaterThanOrEqual(0);
      expect(gap).toBeLessThan(1);
      const [xa, xb] = [rowOf(set, a), rowOf(set, b)];
      expect(v.features[0]).toBeCloseTo(xa[0] + gap * (xb[0] - xa[0]), 5);
      expect(v.features[1]).toBe(0);
    }
  });

  it('chooses among at most the other items of the class', () => {
    const { vectors } = synthesize(registry, {
      method: 'smote',
      params: { k: 5 },
      count: 30,
      labelled: set,
      seed: 4,
    });
    expect(new Set(vectors.map((v) => v.record.k))).toEqual(new Set([2]));
    expect(new Set(vectors.map((v) => v.record.neighbourRank))).toEqual(new Set([1, 2]));
  });

  it('needs a class with two items, and says which class is short', () => {
    const singles = labelledSet([[0], [1], [2]], [0, 1, 2]);
    expect(
      badUserInput(() =>
        synthesize(registry, { method: 'smote', count: 1, labelled: singles, seed: 1 }),
      ).message,
    ).toBe(
      'smote interpolates between two items of the same class, but no class has 2 labelled items (class 0: 1 item, class 1: 1 item, class 2: 1 item). Label more items, or use gaussian.',
    );
    expect(
      badUserInput(() =>
        synthesize(registry, {
          method: 'smote',
          params: { classes: [1] },
          count: 1,
          labelled: set,
          seed: 1,
        }),
      ).message,
    ).toMatch(/params\.classes names class 1, which has 1 labelled item; it needs at least 2/);
    expect(
      badUserInput(() =>
        synthesize(registry, {
          method: 'smote',
          params: { classes: [7] },
          count: 1,
          labelled: set,
          seed: 1,
        }),
      ).message,
    ).toMatch(/params\.classes names class 7, which has no labelled items/);
  });
});

describe('mixup', () => {
  const set = randomSet(40, 3, 4, 'mixup');

  it('combines two items of different classes with λ from its record', () => {
    const { vectors } = synthesize(registry, {
      method: 'mixup',
      count: 200,
      labelled: set,
      seed: 5,
    });
    for (const v of vectors) {
      const [a, b] = v.parents;
      const { lambda, classA, classB } = v.record;
      expect(classA).toBe(set.classes[set.itemIds.indexOf(a)]);
      expect(classB).toBe(set.classes[set.itemIds.indexOf(b)]);
      expect(classA).not.toBe(classB);
      expect(lambda).toBeGreaterThanOrEqual(0);
      expect(lambda).toBeLessThanOrEqual(1);
      expect(v.intendedClass).toBe(lambda >= 0.5 ? classA : classB);
      const [xa, xb] = [rowOf(set, a), rowOf(set, b)];
      xa.forEach((x, f) => expect(v.features[f]).toBeCloseTo(lambda * x + (1 - lambda) * xb[f], 5));
    }
  });

  it('draws λ near 0 or 1 for a small alpha and near 0.5 for a large one', () => {
    const spread = (alpha: number) =>
      mean(
        synthesize(registry, {
          method: 'mixup',
          params: { alpha },
          count: 2000,
          labelled: set,
          seed: 6,
        }).vectors.map((v: SyntheticVector) => Math.abs(v.record.lambda - 0.5)),
      );
    expect(spread(0.1)).toBeGreaterThan(0.4);
    expect(spread(50)).toBeLessThan(0.05);
  });

  it('needs two classes', () => {
    const one = labelledSet([[0], [1], [2]], [4, 4, 4]);
    expect(
      badUserInput(() =>
        synthesize(registry, { method: 'mixup', count: 1, labelled: one, seed: 1 }),
      ).message,
    ).toBe(
      'mixup combines items of two different classes, but the labelled set has only 1 class with labelled items (class 4: 3 items).',
    );
    expect(
      badUserInput(() =>
        synthesize(registry, {
          method: 'mixup',
          params: { classes: [1] },
          count: 1,
          labelled: set,
          seed: 1,
        }),
      ).message,
    ).toMatch(/but params\.classes names only 1 class with labelled items/);
  });
});

describe('gaussian', () => {
  // Feature 0 has standard deviation 1 over the set (values 0 and 2); feature 1 is constant.
  const set = labelledSet(
    [
      [0, 3],
      [2, 3],
    ],
    [0, 1],
  );

  it('scales the noise by each feature’s spread over the labelled set', () => {
    expect(Array.from(featureStdDevs(set))).toEqual([1, 0]);
    const { vectors } = synthesize(registry, {
      method: 'gaussian',
      params: { sigma: 0.5 },
      count: 4000,
      labelled: set,
      seed: 7,
    });
    const noise = vectors.map((v) => v.features[0] - rowOf(set, v.parents[0])[0]);
    expect(Math.abs(mean(noise))).toBeLessThan(0.03);
    expect(Math.sqrt(variance(noise))).toBeCloseTo(0.5, 1);
    expect(vectors.every((v) => v.features[1] === 3 && v.parents.length === 1)).toBe(true);
    vectors.forEach((v, i) => {
      expect(v.intendedClass).toBe(set.classes[set.itemIds.indexOf(v.parents[0])]);
      expect(v.record.sigma).toBe(0.5);
      expect(v.record.noiseNorm).toBeCloseTo(Math.abs(noise[i]), 5);
    });
  });

  it('needs two labelled items whose features vary', () => {
    expect(
      badUserInput(() =>
        synthesize(registry, {
          method: 'gaussian',
          count: 1,
          labelled: labelledSet([[1, 2]], [0]),
          seed: 1,
        }),
      ).message,
    ).toMatch(/needs at least 2 labelled items; there is 1\./);
    expect(
      badUserInput(() =>
        synthesize(registry, {
          method: 'gaussian',
          count: 1,
          labelled: labelledSet(
            [
              [1, 2],
              [1, 2],
            ],
            [0, 1],
          ),
          seed: 1,
        }),
      ).message,
    ).toMatch(/would only copy items/);
  });
});

describe('the seeded distributions', () => {
  const draws = (n: number, draw: (random: () => number) => number, seed = 'dist') => {
    const random = mulberry32(seedFrom(seed));
    return Array.from({ length: n }, () => draw(random));
  };

  it('draw standard normals with mean 0 and variance 1', () => {
    const x = draws(20000, standardNormal);
    expect(Math.abs(mean(x))).toBeLessThan(0.03);
    expect(Math.abs(variance(x) - 1)).toBeLessThan(0.04);
  });

  it.each([0.3, 1, 4.5])('draw Gamma(%p) with mean and variance equal to the shape', (shape) => {
    const x = draws(20000, (r) => gammaVariate(r, shape));
    expect(x.every((v) => v >= 0)).toBe(true);
    expect(Math.abs(mean(x) - shape)).toBeLessThan(0.05 * Math.max(1, shape));
    expect(Math.abs(variance(x) - shape)).toBeLessThan(0.1 * Math.max(1, shape));
  });

  it('draw Beta(2, 5) with mean 2/7 and variance 10/392', () => {
    const x = draws(20000, (r) => betaVariate(r, 2, 5));
    expect(x.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(mean(x)).toBeCloseTo(2 / 7, 2);
    expect(variance(x)).toBeCloseTo(10 / 392, 3);
  });

  it('refuses a shape that is not a positive number', () => {
    expect(() => gammaVariate(mulberry32(1), 0)).toThrow(RangeError);
    expect(() => betaVariate(mulberry32(1), 1, Number.NaN)).toThrow(RangeError);
  });
});
