/**
 * The simulation engine: whole active-learning loops, in memory, with the ground truth as the
 * oracle. For each strategy and repeat it starts from the repeat's random seed set, trains,
 * evaluates on the TEST rows, selects a batch with the strategy, reveals those rows' ground
 * truth, and goes on until the label budget is spent. It never sees a dataset's real labels or
 * queues: the caller hands it features, ground truth and splits as arrays.
 *
 * Synchronous and CPU-bound (seconds to minutes): on the server, run it off the event loop with
 * `runSimulationInWorker` (`worker.ts`).
 */
import { performance } from 'node:perf_hooks';
import { BadUserInputError, type InputProblem } from '../errors';
import { gatherRows, topRows } from '../strategies/rows';
import { scoreRows, selectBatch } from '../strategies/selection';
import { areaUnderLearningCurve, classificationMetrics } from './classification-metrics';
import {
  mulberry32,
  randomInt,
  samplePermutation,
  seedFrom,
  type Random,
} from '../strategies/math';
import type { StrategyRegistry } from '../strategies/registry';
import type { PointwiseStrategy, ScoredRows, Strategy } from '../strategies/types';
import { trainWith, type TrainerRegistry } from '../plugins/trainers/registry';
import type { Prediction, TrainedModel } from '../plugins/trainers/types';

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

/** A strategy ready to run: looked up, parameters validated. */
interface PlannedStrategy {
  code: string;
  strategy: Strategy;
  params: Record<string, unknown>;
  /**
   * Draw the strategy's `seed` parameter per repeat and iteration: it has one, the caller left
   * it out, and it takes any unsigned 32-bit integer.
   */
  drawSeed: boolean;
  committeeSize: number;
  needsEmbeddings: boolean;
  needsModel: boolean;
  narrowing: {
    strategy: PointwiseStrategy;
    code: string;
    params: Record<string, unknown>;
    size: number;
  } | null;
}

interface Plan {
  eligible: Int32Array;
  testFeatures: Float32Array;
  testTruth: Int32Array;
  labelCounts: number[];
  strategies: PlannedStrategy[];
  trainerOptions: Record<string, unknown>;
}

/**
 * Runs the simulation; see {@link SimulationInput} for the inputs and their bounds.
 *
 * Per repeat `r`, the seed set is a uniform random sample of `seedSize` POOL rows with known
 * ground truth, drawn from `seed` and `r`, and the same for every strategy. Trainers need two
 * classes: when the sample holds only one, its last row is swapped for the first row of
 * another class in the same random draw order.
 *
 * Each iteration trains the trainer on the labelled rows (their ground truth), evaluates
 * accuracy and macro-F1 of the model's in-memory `predict` on every TEST row with known ground
 * truth, then selects the next batch among the unlabelled POOL rows with known ground truth, as
 * rounds do: a pointwise strategy scores them with the model's probabilities (embeddings if it
 * needs them) and the top rows are taken, ties to the lower row; a batch strategy selects,
 * after narrowing to its `candidatePool` (scored with that strategy's defaults), with the
 * labelled rows' embeddings as `labelled` when it needs embeddings, and a generator seeded from
 * `seed`, the repeat and the iteration. VALIDATION rows are never used.
 *
 * COMMITTEE strategies get `modelCount` models: the one trained on all labelled rows, and
 * models trained on bootstrap resamples (drawn again until they hold two classes), with the
 * trainer's `seed` option, when it has one, shifted by the member's number.
 *
 * A strategy parameter named `seed` (the `random` strategy's) that the caller leaves out is
 * drawn per repeat and iteration (when its schema takes any unsigned 32-bit integer); otherwise
 * the baseline would take the same permutation positions of a shrinking pool every iteration.
 * Given, it is used as given.
 *
 * Deterministic: the same input and `seed` give the same result (trainers are deterministic).
 *
 * @param onProgress called after each step, from 1 to `strategies x repeats x labelCounts`
 * @throws BadUserInputError naming the field for an unknown strategy or trainer, bad params or
 *   options, or bounds not met (see {@link SimulationInput})
 * @throws RangeError when the arrays do not have the sizes `rows`, `dim` and `classCount` say,
 *   or a ground truth or split value is out of range (a caller bug, not the user's choice)
 *
 * @example
 * ```ts
 * const result = runSimulation(
 *   { features, rows, dim, classCount, groundTruth, split, strategies: [{ code: 'margin' }, { code: 'random' }],
 *     seedSize: 20, batchSize: 20, budget: 200, repeats: 5, trainer: { code: 'softmax' }, seed: 1 },
 *   { strategies: loadStrategies(), trainers: loadTrainers() },
 * );
 * result.strategies[0].auc.mean;
 * ```
 */
export function runSimulation(
  input: SimulationInput,
  registries: SimulationRegistries,
  onProgress?: (progress: SimulationProgress) => void,
): SimulationResult {
  const started = performance.now();
  const plan = prepare(input, registries);
  const { labelCounts } = plan;
  const total = input.strategies.length * input.repeats * labelCounts.length;
  let done = 0;
  const accuracies = plan.strategies.map(() =>
    Array.from({ length: labelCounts.length }, () => new Array<number>(input.repeats)),
  );
  const macroF1s = plan.strategies.map(() =>
    Array.from({ length: labelCounts.length }, () => new Array<number>(input.repeats)),
  );
  const selections = plan.strategies.map(() => [] as number[][]);
  const seedSets: number[][] = [];

  for (let repeat = 0; repeat < input.repeats; repeat++) {
    const seedSet = drawSeedSet(input, plan.eligible, repeat);
    seedSets.push(seedSet);
    plan.strategies.forEach((planned, s) => {
      const labelled = runLoop(
        input,
        registries,
        plan,
        planned,
        repeat,
        seedSet,
        (step, metrics) => {
          accuracies[s][step][repeat] = metrics.accuracy;
          macroF1s[s][step][repeat] = metrics.macroF1;
          done++;
          onProgress?.({ done, total });
        },
      );
      if (input.recordSelections) selections[s].push(labelled);
    });
  }

  const strategies = plan.strategies.map((planned, s): SimulationStrategyResult => {
    const points = labelCounts.map((labels, step): SimulationPoint => {
      const values = accuracies[s][step];
      return {
        labels,
        meanAccuracy: mean(values),
        stdAccuracy: sampleStd(values),
        minAccuracy: Math.min(...values),
        maxAccuracy: Math.max(...values),
        accuracies: values,
        meanMacroF1: mean(macroF1s[s][step]),
      };
    });
    const perRepeat = Array.from({ length: input.repeats }, (_, repeat) =>
      areaUnderLearningCurve(
        labelCounts.map((labels, step) => ({ labels, accuracy: accuracies[s][step][repeat] })),
      ),
    );
    const params = { ...planned.params };
    if (planned.drawSeed) delete params.seed;
    const result: SimulationStrategyResult = {
      code: planned.code,
      params,
      points,
      auc: { mean: mean(perRepeat), std: sampleStd(perRepeat), perRepeat },
    };
    if (planned.committeeSize > 1) result.modelCount = planned.committeeSize;
    if (input.recordSelections) result.selections = selections[s];
    return result;
  });

  return {
    labelCounts,
    seedSets,
    strategies,
    trainer: { code: input.trainer.code, options: plan.trainerOptions },
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The label counts a simulation evaluates at: `seedSize`, then `batchSize` more each time,
 * the last step smaller if need be to end exactly on `budget`.
 *
 * @example
 * ```ts
 * labelCountsOf(20, 30, 100); // [20, 50, 80, 100]
 * ```
 */
export function labelCountsOf(seedSize: number, batchSize: number, budget: number): number[] {
  const counts = [seedSize];
  while (counts[counts.length - 1] < budget) {
    counts.push(Math.min(budget, counts[counts.length - 1] + batchSize));
  }
  return counts;
}

/** One loop of one strategy in one repeat; returns the rows in the order they were labelled. */
function runLoop(
  input: SimulationInput,
  registries: SimulationRegistries,
  plan: Plan,
  planned: PlannedStrategy,
  repeat: number,
  seedSet: readonly number[],
  record: (step: number, metrics: { accuracy: number; macroF1: number }) => void,
): number[] {
  const { features, dim, classCount, groundTruth } = input;
  const labelled = [...seedSet];
  const isLabelled = new Uint8Array(input.rows);
  for (const row of labelled) isLabelled[row] = 1;

  for (let step = 0; step < plan.labelCounts.length; step++) {
    const train = (rows: readonly number[], memberSeedShift: number): TrainedModel => {
      const options =
        memberSeedShift > 0 && typeof plan.trainerOptions.seed === 'number'
          ? { ...plan.trainerOptions, seed: (plan.trainerOptions.seed + memberSeedShift) % 2 ** 32 }
          : plan.trainerOptions;
      return trainWith(
        registries.trainers,
        input.trainer.code,
        {
          features: gatherRows(features, dim, Int32Array.from(rows)),
          labels: Int32Array.from(rows, (row) => groundTruth[row]),
          rows: rows.length,
          dim,
          classCount,
        },
        options,
      ).model;
    };
    const model = train(labelled, 0);
    const testRows = plan.testTruth.length;
    const { probabilities } = model.predict(plan.testFeatures, testRows);
    const { accuracy, macroF1 } = classificationMetrics(plan.testTruth, probabilities, classCount);

    if (step + 1 < plan.labelCounts.length) {
      const size = plan.labelCounts[step + 1] - plan.labelCounts[step];
      const stepKey = `${input.seed}:${repeat}:${step}`;
      const committee = [model];
      if (planned.committeeSize > 1) {
        const random = mulberry32(seedFrom(`bootstrap:${stepKey}`));
        for (let m = 1; m < planned.committeeSize; m++) {
          committee.push(train(bootstrap(labelled, groundTruth, random), m));
        }
      }
      const picked = selectNext(input, registries, plan, planned, {
        labelled,
        isLabelled,
        committee,
        size,
        stepKey,
      });
      for (const row of picked) {
        isLabelled[row] = 1;
        labelled.push(row);
      }
    }
    record(step, { accuracy, macroF1 });
  }
  return labelled;
}

/** The next batch's rows (indices into the input), in the strategy's rank order. */
function selectNext(
  input: SimulationInput,
  registries: SimulationRegistries,
  plan: Plan,
  planned: PlannedStrategy,
  step: {
    labelled: readonly number[];
    isLabelled: Uint8Array;
    committee: TrainedModel[];
    size: number;
    stepKey: string;
  },
): number[] {
  const { features, dim, classCount } = input;
  const candidates = Int32Array.from(plan.eligible.filter((row) => step.isLabelled[row] === 0));
  let params = planned.params;
  if (planned.drawSeed) {
    params = registries.strategies.params(planned.code, {
      ...planned.params,
      seed: seedFrom(`strategy-seed:${step.stepKey}`),
    });
  }

  let pool: ScoredRows = { rows: candidates.length, classCount, probabilities: [] };
  if (planned.needsModel) {
    const poolFeatures = gatherRows(features, dim, candidates);
    const predictions: Prediction[] = step.committee.map((model, m) =>
      model.predict(poolFeatures, candidates.length, {
        embeddings: m === 0 && planned.needsEmbeddings,
      }),
    );
    pool = {
      rows: candidates.length,
      classCount,
      probabilities: predictions.map((p) => p.probabilities),
      embeddings: predictions[0].embeddings,
      embeddingDim: planned.needsEmbeddings ? predictions[0].embeddingDim : undefined,
    };
  }

  const { strategy } = planned;
  if (strategy.kind === 'pointwise') {
    const scores = scoreRows(strategy, { code: planned.code, params }, pool);
    return Array.from(topRows(scores, step.size), (i) => candidates[i]);
  }

  let rowsOfPool = candidates;
  if (planned.narrowing) {
    const { narrowing } = planned;
    const scores = scoreRows(narrowing.strategy, narrowing, pool);
    // Never fewer candidates than the batch, whatever candidatePool says (as rounds do); the
    // candidates reach `select` in row order, as a round's reach it in item-id order.
    const kept = topRows(scores, Math.max(narrowing.size, step.size)).sort();
    rowsOfPool = Int32Array.from(kept, (i) => candidates[i]);
    pool = {
      rows: kept.length,
      classCount,
      probabilities: pool.probabilities.map((p) => gatherRows(p, classCount, kept)),
      embeddings:
        pool.embeddings && pool.embeddingDim !== undefined
          ? gatherRows(pool.embeddings, pool.embeddingDim, kept)
          : undefined,
      embeddingDim: pool.embeddingDim,
    };
  }
  let labelledEmbeddings: { rows: number; embeddings: Float32Array } | undefined;
  if (planned.needsEmbeddings) {
    const rows = Int32Array.from(step.labelled);
    const { embeddings } = step.committee[0].predict(gatherRows(features, dim, rows), rows.length, {
      embeddings: true,
    });
    labelledEmbeddings = { rows: rows.length, embeddings: embeddings! };
  }
  const picks = selectBatch(
    strategy,
    { code: planned.code, params },
    {
      size: step.size,
      seed: seedFrom(`select:${step.stepKey}`),
      pool,
      labelled: labelledEmbeddings,
    },
  );
  return picks.map((p) => rowsOfPool[p.index]);
}

/**
 * The seed set of a repeat: `seedSize` rows of a uniformly random order of the eligible rows;
 * if they hold one class only, the last is swapped for the first later row of another class.
 */
function drawSeedSet(input: SimulationInput, eligible: Int32Array, repeat: number): number[] {
  const random = mulberry32(seedFrom(`seed-set:${input.seed}:${repeat}`));
  const order = samplePermutation(eligible.length, eligible.length, random);
  const seedSet = Array.from(order.subarray(0, input.seedSize), (i) => eligible[i]);
  const truth = input.groundTruth;
  if (seedSet.every((row) => truth[row] === truth[seedSet[0]])) {
    // Validation made sure another class exists among the eligible rows.
    for (let k = input.seedSize; k < order.length; k++) {
      const row = eligible[order[k]];
      if (truth[row] !== truth[seedSet[0]]) {
        seedSet[seedSet.length - 1] = row;
        break;
      }
    }
  }
  return seedSet;
}

/** A bootstrap resample of `rows` (with replacement) holding at least two classes. */
function bootstrap(rows: readonly number[], truth: Int32Array, random: Random): number[] {
  // The labelled rows hold two classes, so a resample misses one only by chance; a few draws
  // suffice in practice, and the full set is the fallback for a pathological case.
  for (let attempt = 0; attempt < 100; attempt++) {
    const sample = Array.from(rows, () => rows[randomInt(random, rows.length)]);
    if (sample.some((row) => truth[row] !== truth[sample[0]])) return sample;
  }
  return [...rows];
}

/** Validates the input and looks everything up before any work starts. */
function prepare(input: SimulationInput, registries: SimulationRegistries): Plan {
  checkArrays(input);
  const { rows, groundTruth, split } = input;
  const eligibleList: number[] = [];
  const testList: number[] = [];
  const poolClasses = new Set<number>();
  for (let r = 0; r < rows; r++) {
    if (groundTruth[r] < 0) continue;
    if (split[r] === SPLIT.POOL) {
      eligibleList.push(r);
      poolClasses.add(groundTruth[r]);
    } else if (split[r] === SPLIT.TEST) testList.push(r);
  }

  const problems: InputProblem[] = [];
  const fail = (field: string, message: string): void => {
    problems.push({ field, message });
  };
  const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
  if (!isInt(input.budget) || input.budget < 2) {
    fail('budget', `must be an integer of 2 or more; got ${String(input.budget)}`);
  } else if (input.budget > eligibleList.length) {
    fail(
      'budget',
      `is ${input.budget}, but the dataset has only ${eligibleList.length} POOL items with ground truth; lower the budget or add POOL items with ground truth`,
    );
  }
  if (!isInt(input.seedSize) || input.seedSize < 2) {
    fail('seedSize', `must be an integer of 2 or more; got ${String(input.seedSize)}`);
  } else if (isInt(input.budget) && input.seedSize > input.budget) {
    fail(
      'seedSize',
      `is ${input.seedSize}, more than the budget (${input.budget}); the budget includes the seed set`,
    );
  }
  if (!isInt(input.batchSize) || input.batchSize < 1) {
    fail('batchSize', `must be an integer of 1 or more; got ${String(input.batchSize)}`);
  }
  const { minRepeats, maxRepeats, maxStrategies } = SIMULATION_LIMITS;
  if (!isInt(input.repeats) || input.repeats < minRepeats || input.repeats > maxRepeats) {
    fail(
      'repeats',
      `must be an integer from ${minRepeats} to ${maxRepeats}; got ${String(input.repeats)}`,
    );
  }
  if (!Number.isSafeInteger(input.seed)) {
    fail('seed', `must be an integer; got ${String(input.seed)}`);
  }
  if (!Array.isArray(input.strategies) || input.strategies.length === 0) {
    fail('strategies', 'must name at least one strategy');
  } else if (input.strategies.length > maxStrategies) {
    fail(
      'strategies',
      `names ${input.strategies.length} strategies; at most ${maxStrategies} can be compared at once`,
    );
  }
  if (testList.length === 0) {
    fail(
      'datasetId',
      'the dataset has no TEST items with ground truth to evaluate on; assign some items to the TEST split',
    );
  }
  if (eligibleList.length > 0 && poolClasses.size < 2) {
    fail(
      'datasetId',
      'the POOL items with ground truth are all of one class; training needs at least two classes',
    );
  }
  if (problems.length > 0) {
    throw new BadUserInputError(
      `Invalid simulation: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}.`,
      problems,
    );
  }

  const trainerOptions = registries.trainers.params(input.trainer?.code, input.trainer?.options);
  const strategies = input.strategies.map((s, i) => planStrategy(s, i, registries.strategies));

  const testRows = Int32Array.from(testList);
  return {
    eligible: Int32Array.from(eligibleList),
    testFeatures: gatherRows(input.features, input.dim, testRows),
    testTruth: Int32Array.from(testRows, (row) => groundTruth[row]),
    labelCounts: labelCountsOf(input.seedSize, input.batchSize, input.budget),
    strategies,
    trainerOptions,
  };
}

function planStrategy(
  given: SimulationStrategyInput,
  index: number,
  registry: StrategyRegistry,
): PlannedStrategy {
  const { plugin: strategy } = registry.get(given?.code);
  const params = registry.params(strategy.code, given.params);
  const field = `strategies[${index}]`;
  const committee = strategy.needs.includes('COMMITTEE');
  const { defaultModelCount, minModelCount, maxModelCount } = SIMULATION_LIMITS;
  let committeeSize = 1;
  if (committee) {
    committeeSize = given.modelCount ?? defaultModelCount;
    if (
      !Number.isSafeInteger(committeeSize) ||
      committeeSize < minModelCount ||
      committeeSize > maxModelCount
    ) {
      throw new BadUserInputError(
        `${field}.modelCount must be an integer from ${minModelCount} to ${maxModelCount} (the committee of "${strategy.code}"); got ${String(given.modelCount)}.`,
        [
          {
            index,
            field: 'modelCount',
            message: `must be an integer from ${minModelCount} to ${maxModelCount}`,
          },
        ],
      );
    }
  } else if (given.modelCount !== undefined && given.modelCount !== null) {
    throw new BadUserInputError(
      `${field}.modelCount applies to committee strategies only (vote-entropy, kl-consensus, ...); "${strategy.code}" uses one model. Leave modelCount out.`,
      [{ index, field: 'modelCount', message: 'applies to committee strategies only' }],
    );
  }

  let narrowing: PlannedStrategy['narrowing'] = null;
  if (strategy.kind === 'batch') {
    const by = strategy.candidatePool(params);
    if (by) {
      const found = registry.get(by.strategy).plugin;
      if (found.kind !== 'pointwise' || found.needs.includes('COMMITTEE')) {
        throw new BadUserInputError(
          `${field}: "${strategy.code}" narrows its candidates with "${by.strategy}", which is not a single-model pointwise strategy; choose one such as margin.`,
        );
      }
      narrowing = {
        strategy: found,
        code: found.code,
        params: registry.params(found.code, {}),
        size: by.size,
      };
    }
  }
  const schema = strategy.paramsSchema as { properties?: Record<string, unknown> };
  const givenParams = (given.params ?? {}) as Record<string, unknown>;
  return {
    code: strategy.code,
    strategy,
    params,
    drawSeed:
      schema.properties?.seed !== undefined &&
      givenParams.seed === undefined &&
      acceptsAnySeed(registry, strategy.code, givenParams),
    committeeSize,
    needsEmbeddings: strategy.needs.includes('EMBEDDINGS'),
    needsModel: strategy.needs.length > 0 || narrowing !== null,
    narrowing,
  };
}

/** Whether the strategy's `seed` parameter takes every 32-bit seed the simulation may draw. */
function acceptsAnySeed(
  registry: StrategyRegistry,
  code: string,
  params: Record<string, unknown>,
): boolean {
  try {
    registry.params(code, { ...params, seed: 0 });
    registry.params(code, { ...params, seed: 2 ** 32 - 1 });
    return true;
  } catch {
    return false;
  }
}

/** Sizes and ranges of the arrays: wrong ones are the caller's bug, not the user's choice. */
function checkArrays(input: SimulationInput): void {
  const { features, rows, dim, classCount, groundTruth, split } = input;
  const positive = (name: string, v: number, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min) {
      throw new RangeError(`${name} must be an integer of ${min} or more, got ${String(v)}`);
    }
  };
  positive('rows', rows, 0);
  positive('dim', dim, 1);
  positive('classCount', classCount, 2);
  if (!(features instanceof Float32Array) || features.length !== rows * dim) {
    throw new RangeError(
      `features must be a Float32Array of rows x dim = ${rows * dim} values; got ${features?.length} (was its buffer transferred?)`,
    );
  }
  if (!(groundTruth instanceof Int32Array) || groundTruth.length !== rows) {
    throw new RangeError(
      `groundTruth must be an Int32Array of ${rows} values; got ${groundTruth?.length}`,
    );
  }
  if (!(split instanceof Uint8Array) || split.length !== rows) {
    throw new RangeError(`split must be a Uint8Array of ${rows} values; got ${split?.length}`);
  }
  for (let r = 0; r < rows; r++) {
    if (groundTruth[r] < -1 || groundTruth[r] >= classCount) {
      throw new RangeError(
        `groundTruth[${r}] is ${groundTruth[r]}; expected -1 (unknown) or a class index from 0 to ${classCount - 1}`,
      );
    }
    if (split[r] > SPLIT.TEST) {
      throw new RangeError(
        `split[${r}] is ${split[r]}; expected 0 (POOL), 1 (VALIDATION) or 2 (TEST)`,
      );
    }
  }
}

function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return Math.sqrt(sum / (values.length - 1));
}
