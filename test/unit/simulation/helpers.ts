import path from 'node:path';
import type { SimulationInput } from '../../../src/ml/simulation-engine';
import { mulberry32 } from '../../../src/strategies/math';
import { loadStrategies, type StrategyRegistry } from '../../../src/strategies/registry';
import { loadTrainers, type TrainerRegistry } from '../../../src/plugins/trainers/registry';

/** The compiled trainer plugin that refuses marked rows (see the fixture). */
export const GUARDED_TRAINER_MODULE = path.resolve(
  __dirname,
  '../../fixtures/simulation/guarded-trainer.js',
);

/** Built-in strategies; built-in trainers plus `guarded-softmax`. */
export function registries(): {
  strategies: StrategyRegistry;
  trainers: TrainerRegistry;
} {
  return {
    strategies: loadStrategies(),
    trainers: loadTrainers([GUARDED_TRAINER_MODULE]),
  };
}

/**
 * Three well-separated Gaussian blobs in 4 dimensions, `rows` rows (class = row % 3), every
 * fourth row TEST, the rest POOL; a seeded generator makes them the same every time.
 */
export function blobs(
  rows = 150,
  seed = 7,
): Omit<
  SimulationInput,
  'strategies' | 'seedSize' | 'batchSize' | 'budget' | 'repeats' | 'trainer' | 'seed'
> {
  const random = mulberry32(seed);
  const dim = 4;
  const features = new Float32Array(rows * dim);
  const groundTruth = new Int32Array(rows);
  const split = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    groundTruth[r] = c;
    split[r] = r % 4 === 3 ? 2 : 0;
    for (let i = 0; i < dim; i++) {
      features[r * dim + i] = (i === c ? 3 : 0) + (random() + random() + random() - 1.5);
    }
  }
  return { features, rows, dim, classCount: 3, groundTruth, split };
}

/** A fast loop over {@link blobs}: seed 6, batch 8, budget 30, 2 repeats, a 30-epoch softmax. */
export function smallInput(overrides: Partial<SimulationInput> = {}): SimulationInput {
  return {
    ...blobs(),
    strategies: [{ code: 'random' }, { code: 'margin' }],
    seedSize: 6,
    batchSize: 8,
    budget: 30,
    repeats: 2,
    trainer: { code: 'softmax', options: { C: 1, maxIterations: 30 } },
    seed: 11,
    ...overrides,
  };
}

/** A result without its wall time, for comparing runs. */
export function withoutTime<T extends { seconds: number }>(result: T): Omit<T, 'seconds'> {
  const { seconds: _seconds, ...rest } = result;
  return rest;
}
