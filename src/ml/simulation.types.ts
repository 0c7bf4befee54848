/**
 * The simulation's public contract: what `runSimulation` takes and gives (see
 * `simulation-engine.ts`), with its bounds and the split values.
 */
import type { StrategyRegistry } from '../strategies/registry';
import type { TrainerRegistry } from '../plugins/trainers/registry';

/** Values of {@link SimulationInput.split}, as the dataset's item splits. */
export const SPLIT = { POOL: 0, VALIDATION: 1, TEST: 2 } as const;

/** Bounds and defaults of the simulation's inputs. */
export const SIMULATION_LIMITS = {
  minRepeats: 1,
  maxRepeats: 20,
  /** Strategies in one simulation. */
  maxStrategies: 20,
  /** Committee size of a COMMITTEE strategy when `modelCount` is not given. */
  defaultModelCount: 3,
  minModelCount: 2,
  maxModelCount: 10,
} as const;

/** One strategy to simulate. */
export interface SimulationStrategyInput {
  /** A registered strategy's code, e.g. `margin`. */
  code: string;
  /** Its parameters; validated against its schema, defaults applied. */
  params?: Record<string, unknown>;
  /**
   * Committee size, for COMMITTEE strategies (`vote-entropy`, `kl-consensus`) only; default 3,
   * 2 to 10. The committee is the model trained on all labelled rows plus `modelCount - 1`
   * models trained on bootstrap resamples of them (query by bagging).
   */
  modelCount?: number;
}

/**
 * What to simulate, and on what. The arrays are the dataset's items in item-id order (row `i`
 * of `features` is item `i`): strategies break ties by the lower row, as rounds do.
 */
export interface SimulationInput {
  /** Row-major `rows x dim` feature vectors, all finite. */
  features: Float32Array;
  rows: number;
  dim: number;
  /** Number of classes (at least 2). */
  classCount: number;
  /**
   * Class index of each row; -1 when the ground truth is unknown. Such rows are never selected,
   * trained on or evaluated.
   */
  groundTruth: Int32Array;
  /** Split of each row: {@link SPLIT} (0 POOL, 1 VALIDATION, 2 TEST). */
  split: Uint8Array;
  /** The strategies to compare, 1 to 20. */
  strategies: SimulationStrategyInput[];
  /** Labels of the random seed set each loop starts from: at least 2, at most `budget`. */
  seedSize: number;
  /** Labels revealed per iteration: at least 1. The last batch may be smaller, to end on `budget`. */
  batchSize: number;
  /**
   * Labels at the end, the seed set included: seed 20, batch 20, budget 200 evaluates at
   * 20, 40, ..., 200 labels. At most the POOL rows with known ground truth.
   */
  budget: number;
  /** Loops per strategy, each from its own seed set: 1 to 20. */
  repeats: number;
  /** The trainer (a registered code) and its options, validated, defaults applied. */
  trainer: { code: string; options?: Record<string, unknown> };
  /** Seeds every random choice: the same input and seed give the same result. */
  seed: number;
  /**
   * Also return, per strategy and repeat, the rows in the order they were labelled
   * ({@link SimulationStrategyResult.selections}). Default false.
   */
  recordSelections?: boolean;
}

/** The registries the strategies and the trainer are looked up in. */
export interface SimulationRegistries {
  strategies: StrategyRegistry;
  trainers: TrainerRegistry;
}

/** Progress in steps: one step is one train-evaluate(-select) of one strategy in one repeat. */
export interface SimulationProgress {
  done: number;
  total: number;
}

/** Test metrics of one strategy at one label count, over the repeats. */
export interface SimulationPoint {
  /** Labelled rows the model was trained on. */
  labels: number;
  meanAccuracy: number;
  /** Sample standard deviation over the repeats (n - 1 in the denominator); 0 for one repeat. */
  stdAccuracy: number;
  minAccuracy: number;
  maxAccuracy: number;
  /** Test accuracy of each repeat, in repeat order. */
  accuracies: number[];
  /** Mean over the repeats of the test macro-F1 (see `classificationMetrics`). */
  meanMacroF1: number;
}

/** One strategy's learning curve. */
export interface SimulationStrategyResult {
  code: string;
  /**
   * The parameters it ran with, defaults applied. A `seed` parameter the caller left out is not
   * listed: it was drawn per repeat and iteration (see {@link runSimulation}).
   */
  params: Record<string, unknown>;
  /** Committee size, for COMMITTEE strategies. */
  modelCount?: number;
  /** One point per label count, in {@link SimulationResult.labelCounts} order. */
  points: SimulationPoint[];
  /**
   * Normalised area under the accuracy learning curve (`areaUnderLearningCurve`), per repeat,
   * and their mean and sample standard deviation.
   */
  auc: { mean: number; std: number; perRepeat: number[] };
  /**
   * With `recordSelections`: per repeat, the rows (indices into the input) in the order they
   * were labelled, the seed set first.
   */
  selections?: number[][];
}

/** What a simulation gives. */
export interface SimulationResult {
  /** Label counts at which every strategy was evaluated, ascending, ending at the budget. */
  labelCounts: number[];
  /** Per repeat, the seed set's rows (indices into the input), shared by every strategy. */
  seedSets: number[][];
  strategies: SimulationStrategyResult[];
  /** The trainer and the options it ran with, defaults applied. */
  trainer: { code: string; options: Record<string, unknown> };
  /** Wall time of the simulation. */
  seconds: number;
}
