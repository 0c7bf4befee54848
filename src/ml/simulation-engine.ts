/**
 * The simulation engine: whole active-learning loops, in memory, with the ground truth as the
 * oracle. For each strategy and repeat it starts from the repeat's random seed set, trains,
 * evaluates on the TEST rows, selects a batch with the strategy, reveals those rows' ground
 * truth, and goes on until the label budget is spent. It never sees a dataset's real labels or
 * queues: the caller hands it features, ground truth and splits as arrays.
 *
 * Synchronous and CPU-bound (seconds to minutes): on the server, run it off the event loop with
 * `runSimulationInWorker` (`src/workers/simulation.worker.ts`). Its inputs and results are in
 * `simulation.types.ts`, their validation in `simulation-plan.ts`.
 */
import { performance } from 'node:perf_hooks';
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
import type { ScoredRows } from '../strategies/types';
import type { Prediction, Standardizer, TrainedModel } from '../plugins/trainers/types';
import { trainWith } from '../plugins/trainers/registry';
import { fitStandardizer } from '../plugins/trainers/data';
import { planSimulation, type Plan, type PlannedStrategy } from './simulation-plan';
import type {
  SimulationInput,
  SimulationPoint,
  SimulationProgress,
  SimulationRegistries,
  SimulationResult,
  SimulationStrategyResult,
} from './simulation.types';

export * from './simulation.types';
export { labelCountsOf } from './simulation-plan';

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
 * models trained on stratified bootstrap resamples (each class resampled on its own, so every
 * member sees every labelled class), with the
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
  const plan = planSimulation(input, registries);
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
  // Every row's features are known up front, as a dataset's are: trainers standardising on the
  // whole dataset see the same mean and scale as on the server.
  const datasetStandardizer = fitStandardizer(input.features, input.rows, input.dim);

  for (let repeat = 0; repeat < input.repeats; repeat++) {
    const seedSet = drawSeedSet(input, plan.eligible, repeat);
    seedSets.push(seedSet);
    plan.strategies.forEach((planned, s) => {
      const labelled = runLoop(
        input,
        registries,
        { ...plan, datasetStandardizer },
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

/** One loop of one strategy in one repeat; returns the rows in the order they were labelled. */
function runLoop(
  input: SimulationInput,
  registries: SimulationRegistries,
  plan: Plan & { datasetStandardizer: Standardizer },
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
          datasetStandardizer: plan.datasetStandardizer,
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

/**
 * A stratified bootstrap resample of `rows`: each class's rows drawn with replacement as many
 * times as the class has rows, so every member of a committee knows every labelled class.
 * A plain bootstrap of a few dozen labels leaves out whole classes (a class with two labels is
 * missed with probability ~(1 - 2/n)^n, 13% at n = 20): that member then gives the class a
 * probability near zero everywhere, and `kl-consensus` ranks highest the very rows the other
 * members confidently give that class (their divergence from the mean is about p ln(m / (m - 1))),
 * the least informative ones. Measured on the digits (bench/simulation.ts): with the plain
 * bootstrap kl-consensus was 20 points below random at 100 labels.
 */
function bootstrap(rows: readonly number[], truth: Int32Array, random: Random): number[] {
  const byClass = new Map<number, number[]>();
  for (const row of rows) {
    const list = byClass.get(truth[row]);
    if (list) list.push(row);
    else byClass.set(truth[row], [row]);
  }
  const sample: number[] = [];
  for (const list of byClass.values()) {
    for (let k = 0; k < list.length; k++) sample.push(list[randomInt(random, list.length)]);
  }
  return sample;
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
