/**
 * A simulation's plan: its input validated and everything looked up before any work starts (the
 * strategies with their parameters, committees and candidate narrowing; the trainer's options;
 * the eligible and TEST rows; the label counts). Used by `runSimulation`.
 */
import { BadUserInputError, type InputProblem } from '../errors';
import { gatherRows } from '../strategies/rows';
import type { StrategyRegistry } from '../strategies/registry';
import type { PointwiseStrategy, Strategy } from '../strategies/types';
import {
  SIMULATION_LIMITS,
  SPLIT,
  type SimulationInput,
  type SimulationRegistries,
  type SimulationStrategyInput,
} from './simulation.types';

/** A strategy ready to run: looked up, parameters validated. */
export interface PlannedStrategy {
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

/** A validated simulation, ready to run. */
export interface Plan {
  /** The POOL rows with known ground truth: the rows a strategy may select. */
  eligible: Int32Array;
  testFeatures: Float32Array;
  testTruth: Int32Array;
  labelCounts: number[];
  strategies: PlannedStrategy[];
  trainerOptions: Record<string, unknown>;
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

/**
 * Validates the input and looks everything up before any work starts.
 *
 * @throws BadUserInputError naming the field for an unknown strategy or trainer, bad params or
 *   options, or bounds not met
 * @throws RangeError for arrays of the wrong size or values out of range (a caller bug)
 */
export function planSimulation(input: SimulationInput, registries: SimulationRegistries): Plan {
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
