import { BadUserInputError, type InputProblem } from '../../../src/errors';
import {
  labelCountsOf,
  runSimulation,
  SPLIT,
  type SimulationInput,
  type SimulationProgress,
} from '../../../src/ml/simulation-engine';
import { FORBIDDEN_MARK } from '../../fixtures/simulation/guarded-trainer';
import { DEFAULT_CS } from '../../../src/plugins/trainers/softmax-regression';
import { blobs, registries, smallInput, withoutTime } from './helpers';

const reg = registries();

function simulate(overrides: Partial<SimulationInput> = {}) {
  return runSimulation(smallInput(overrides), reg);
}

/** The error `run` throws; fails the test when it throws none. */
function errorOf(run: () => unknown): BadUserInputError {
  try {
    run();
  } catch (error) {
    return error as BadUserInputError;
  }
  throw new Error('expected an error, got none');
}

function eligibleRows(input: Pick<SimulationInput, 'rows' | 'groundTruth' | 'split'>): number[] {
  return Array.from({ length: input.rows }, (_, r) => r).filter(
    (r) => input.split[r] === SPLIT.POOL && input.groundTruth[r] >= 0,
  );
}

describe('labelCountsOf', () => {
  it('steps by the batch size from the seed set and lands exactly on the budget', () => {
    expect(labelCountsOf(20, 20, 200)).toEqual([20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    expect(labelCountsOf(20, 30, 100)).toEqual([20, 50, 80, 100]);
    expect(labelCountsOf(5, 100, 5)).toEqual([5]);
  });
});

describe('runSimulation', () => {
  it('evaluates every strategy at each label count and labels exactly that many rows', () => {
    const result = simulate({ budget: 29, recordSelections: true });
    expect(result.labelCounts).toEqual([6, 14, 22, 29]);
    for (const s of result.strategies) {
      expect(s.points.map((p) => p.labels)).toEqual([6, 14, 22, 29]);
      for (const rows of s.selections!) {
        expect(rows).toHaveLength(29);
        expect(new Set(rows).size).toBe(29);
      }
      for (const p of s.points) {
        expect(p.accuracies).toHaveLength(2);
        expect(p.minAccuracy).toBeLessThanOrEqual(p.meanAccuracy);
        expect(p.maxAccuracy).toBeGreaterThanOrEqual(p.meanAccuracy);
        expect(p.meanMacroF1).toBeGreaterThan(0);
      }
      expect(s.auc.perRepeat).toHaveLength(2);
    }
    // The blobs are easy: the models learn something.
    expect(result.strategies[1].points[3].meanAccuracy).toBeGreaterThan(0.8);
  });

  it('gives the same result for the same seed, and other seed sets for another seed', () => {
    const first = simulate({ recordSelections: true });
    const second = simulate({ recordSelections: true });
    expect(withoutTime(second)).toEqual(withoutTime(first));
    const other = simulate({ seed: 12 });
    expect(other.seedSets).not.toEqual(first.seedSets);
  });

  it('starts every strategy of a repeat from the same seed set, and each repeat from its own', () => {
    const result = simulate({
      strategies: [{ code: 'random' }, { code: 'margin' }, { code: 'k-center' }],
      repeats: 3,
      recordSelections: true,
    });
    expect(result.seedSets).toHaveLength(3);
    for (const [repeat, seedSet] of result.seedSets.entries()) {
      expect(seedSet).toHaveLength(6);
      for (const s of result.strategies) expect(s.selections![repeat].slice(0, 6)).toEqual(seedSet);
    }
    expect(result.seedSets[1]).not.toEqual(result.seedSets[0]);
    // Same seed set, same first model: every strategy has the same accuracy at the seed size.
    const atSeed = result.strategies.map((s) => s.points[0].accuracies);
    expect(atSeed[1]).toEqual(atSeed[0]);
    expect(atSeed[2]).toEqual(atSeed[0]);
  });

  it('puts two classes into every seed set, even when one class nearly fills the pool', () => {
    const data = blobs();
    const pool = eligibleRows(data);
    pool.forEach((row, k) => (data.groundTruth[row] = k < 2 ? 1 : 0));
    const result = runSimulation(
      {
        ...data,
        strategies: [{ code: 'random' }],
        seedSize: 2,
        batchSize: 1,
        budget: 3,
        repeats: 20,
        trainer: { code: 'softmax', options: { C: 1, maxIterations: 5 } },
        seed: 3,
      },
      reg,
    );
    for (const seedSet of result.seedSets) {
      expect(new Set(seedSet.map((row) => data.groundTruth[row])).size).toBe(2);
    }
  });

  it('never selects, trains on or evaluates rows without ground truth, nor VALIDATION rows', () => {
    const data = blobs(160);
    const test: number[] = [];
    for (let r = 0; r < data.rows; r++) {
      if (r % 8 === 1) data.split[r] = SPLIT.VALIDATION;
      if (r % 8 === 2 || r % 16 === 3) data.groundTruth[r] = -1;
      // The guarded trainer throws on any of these rows; a TEST row with unknown truth makes the
      // metrics throw if it is evaluated.
      if (
        data.split[r] === SPLIT.VALIDATION ||
        (data.groundTruth[r] < 0 && data.split[r] === SPLIT.POOL)
      ) {
        data.features[r * data.dim] = FORBIDDEN_MARK;
      }
      if (data.split[r] === SPLIT.TEST && data.groundTruth[r] >= 0) test.push(r);
    }
    const eligible = eligibleRows(data);
    expect(eligible.length).toBeLessThan(data.rows * 0.7);
    const result = runSimulation(
      {
        ...data,
        strategies: [{ code: 'random' }, { code: 'entropy' }, { code: 'badge' }],
        seedSize: 5,
        batchSize: 10,
        // Every eligible row: the last batch takes whatever is left.
        budget: eligible.length,
        repeats: 2,
        trainer: { code: 'guarded-softmax', options: { C: 1, maxIterations: 10 } },
        seed: 5,
        recordSelections: true,
      },
      reg,
    );
    for (const s of result.strategies) {
      for (const rows of s.selections!) expect([...rows].sort((a, b) => a - b)).toEqual(eligible);
      // Accuracy over the TEST rows with known truth only.
      for (const p of s.points) {
        for (const a of p.accuracies)
          expect(Math.abs(a * test.length - Math.round(a * test.length))).toBeLessThan(1e-9);
      }
    }
  });

  it('runs batch strategies with embeddings and candidate pools, and committees of the asked size', () => {
    const result = simulate({
      strategies: [
        { code: 'k-center' },
        { code: 'badge', params: { candidatePool: 10 } },
        { code: 'cluster-margin' },
        { code: 'vote-entropy' },
        { code: 'kl-consensus', modelCount: 4 },
      ],
      recordSelections: true,
    });
    expect(result.strategies.map((s) => [s.code, s.modelCount])).toEqual([
      ['k-center', undefined],
      ['badge', undefined],
      ['cluster-margin', undefined],
      ['vote-entropy', 3],
      ['kl-consensus', 4],
    ]);
    for (const s of result.strategies) {
      for (const rows of s.selections!) expect(new Set(rows).size).toBe(30);
    }
  });

  it('draws the seed of random per step unless it is given, and reports the params it used', () => {
    const drawn = simulate({ strategies: [{ code: 'random' }], recordSelections: true });
    const fixed = simulate({
      strategies: [{ code: 'random', params: { seed: 0 } }],
      recordSelections: true,
    });
    expect(drawn.strategies[0].params).toEqual({});
    expect(fixed.strategies[0].params).toEqual({ seed: 0 });
    expect(drawn.strategies[0].selections).not.toEqual(fixed.strategies[0].selections);
  });

  it('reports progress after each step, up to strategies x repeats x label counts', () => {
    const seen: SimulationProgress[] = [];
    runSimulation(smallInput(), reg, (p) => seen.push(p));
    expect(seen).toHaveLength(2 * 2 * 4);
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(new Set(seen.map((p) => p.total))).toEqual(new Set([16]));
  });

  it('reports the trainer options it ran with, defaults included', () => {
    const result = simulate();
    expect(result.trainer).toEqual({
      code: 'softmax',
      options: {
        C: 1,
        maxIterations: 30,
        Cs: DEFAULT_CS,
        cvFolds: 5,
        cvMaxRows: 2000,
        standardize: 'dataset',
        tolerance: 1e-6,
        seed: 0,
      },
    });
  });

  describe('refuses with BAD_USER_INPUT', () => {
    const poolWithTruth = eligibleRows(blobs()).length;
    const cases: [string, Partial<SimulationInput>, string, RegExp][] = [
      ['an unknown strategy', { strategies: [{ code: 'nope' }] }, '', /Unknown strategy "nope"/],
      ['an unknown trainer', { trainer: { code: 'nope' } }, '', /Unknown trainer "nope"/],
      [
        'bad strategy params',
        { strategies: [{ code: 'badge', params: { candidatePool: -1 } }] },
        'params.candidatePool',
        /Invalid params for strategy "badge"/,
      ],
      [
        'bad trainer options',
        { trainer: { code: 'softmax', options: { maxIterations: 0 } } },
        'options.maxIterations',
        /Invalid options for trainer "softmax"/,
      ],
      [
        'a seed set of one',
        { seedSize: 1 },
        'seedSize',
        /seedSize must be an integer of 2 or more/,
      ],
      ['a seed set beyond the budget', { seedSize: 31 }, 'seedSize', /more than the budget \(30\)/],
      [
        'an empty batch',
        { batchSize: 0 },
        'batchSize',
        /batchSize must be an integer of 1 or more/,
      ],
      [
        'a budget beyond the POOL rows with ground truth',
        { budget: poolWithTruth + 1 },
        'budget',
        new RegExp(`only ${poolWithTruth} POOL items with ground truth`),
      ],
      ['no repeats', { repeats: 0 }, 'repeats', /repeats must be an integer from 1 to 20/],
      ['21 repeats', { repeats: 21 }, 'repeats', /repeats must be an integer from 1 to 20/],
      ['no strategies', { strategies: [] }, 'strategies', /at least one strategy/],
      [
        'a committee of one',
        { strategies: [{ code: 'vote-entropy', modelCount: 1 }] },
        'modelCount',
        /modelCount must be an integer from 2 to 10/,
      ],
      [
        'a model count for a single-model strategy',
        { strategies: [{ code: 'margin', modelCount: 3 }] },
        'modelCount',
        /committee strategies only/,
      ],
    ];
    it.each(cases)('for %s', (_name, overrides, field, message) => {
      const error = errorOf(() => simulate(overrides));
      expect(error).toBeInstanceOf(BadUserInputError);
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(message);
      if (field) {
        const problems = error.extensions.problems as InputProblem[];
        expect(problems.map((p) => p.field)).toContain(field);
      }
    });

    it('when no TEST row has ground truth', () => {
      const data = blobs();
      data.split.forEach((s, r) => {
        if (s === SPLIT.TEST) data.groundTruth[r] = -1;
      });
      const error = errorOf(() => runSimulation({ ...smallInput(), ...data }, reg));
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      expect(error.message).toMatch(/no TEST items with ground truth/);
    });

    it('listing every bad field at once', () => {
      const error = errorOf(() => simulate({ seedSize: 0, batchSize: 0, repeats: 50 }));
      const problems = error.extensions.problems as InputProblem[];
      expect(problems.map((p) => p.field)).toEqual(['seedSize', 'batchSize', 'repeats']);
    });
  });

  it('throws RangeError for arrays that do not match rows and dim', () => {
    const input = smallInput();
    expect(() => runSimulation({ ...input, split: new Uint8Array(3) }, reg)).toThrow(RangeError);
    expect(() => runSimulation({ ...input, dim: 5 }, reg)).toThrow(RangeError);
  });
});
