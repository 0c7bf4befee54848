import type { DataSource } from 'typeorm';
import { ApiKey, QueryMechanism } from '../entities';
import { BadUserInputError, InputProblem } from '../errors';
import { authorize, Permission } from './permissions';
import type { EventBus } from './event-bus';
import { DatasetService } from './dataset.service';
import { answers, lockBudget, requireRemaining } from './budget';
import { openQueryBatch } from './round-lifecycle';
import { eligiblePoolIds, moveToValidation } from '../db/sql/pool.sql';
import { lockItems } from '../db/sql/auto-label.sql';
import { run } from '../db/sql/statement';
import { refreshStatistics } from '../db/statistics';
import { mulberry32, samplePermutation } from '../strategies/math';
import { intProblem, randomSeed, SEED_RANGE } from './validate';

/** Most items one draw may take. */
export const MAX_VALIDATION_DRAW = 10_000;

export interface DrawValidationInput {
  datasetId: string;
  size: number;
  seed?: number | null;
}

export interface ValidationDraw {
  roundId: string;
  seed: number;
  /** The drawn items, in id order. */
  itemIds: string[];
  /** Imported POOL items the draw was made from (unlabelled and not queued). */
  poolSize: number;
}

/**
 * Unbiased validation on demand: a seeded uniform random sample of the unlabelled pool is moved
 * into the VALIDATION split and queued for people as one batch of mechanism VALIDATION (its own
 * line in the budget ledger). Items chosen by active learning are a biased sample of the pool;
 * these are not, so certified auto-labelling can rest on them.
 */
export class ValidationDrawService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly events: EventBus,
  ) {}

  /**
   * Draws `size` items. BAD_USER_INPUT for a size outside 1..10,000, a bad seed, or fewer
   * eligible pool items than asked; BUDGET_EXHAUSTED when the queries do not fit the budget.
   * Nothing changes when anything is refused.
   */
  async draw(key: ApiKey, input: DrawValidationInput): Promise<ValidationDraw> {
    const dataset = await this.datasets.getAuthorized(
      key,
      input.datasetId,
      Permission.MANAGE_ROUNDS,
    );
    authorize(key, Permission.WRITE_DATASET, dataset.id);
    const problems: InputProblem[] = [];
    if (!Number.isInteger(input.size) || input.size < 1 || input.size > MAX_VALIDATION_DRAW) {
      problems.push({
        field: 'size',
        message: `must be an integer from 1 to ${MAX_VALIDATION_DRAW}; got ${input.size}`,
      });
    }
    const seed = input.seed ?? randomSeed();
    const seedProblem = intProblem(seed, SEED_RANGE);
    if (seedProblem) problems.push({ field: 'seed', message: seedProblem });
    if (problems.length > 0) throw BadUserInputError.forProblems('the validation draw', problems);

    return this.ds.transaction(async (m) => {
      // The budget lock first, then the items: the order every label writer takes them in.
      const budget = await lockBudget(m, dataset.id);
      const pool = (await run<{ id: string }>(m, eligiblePoolIds(dataset.id))).map((r) => r.id);
      if (pool.length < input.size) {
        throw new BadUserInputError(
          `size: the pool has ${pool.length} unlabelled, unqueued imported items; cannot draw ${input.size}.`,
          [{ field: 'size', message: `at most ${pool.length} items can be drawn now` }],
        );
      }
      requireRemaining(budget, input.size * budget.annotationsPerItem, {
        what: `A validation draw of ${input.size} items (${answers(budget.annotationsPerItem)} each)`,
        instead: 'draw fewer items',
      });
      const picked = samplePermutation(pool.length, input.size, mulberry32(seed));
      const itemIds = Array.from(picked.subarray(0, input.size), (j) => pool[j]).sort((a, b) =>
        BigInt(a) < BigInt(b) ? -1 : 1,
      );
      await run(m, lockItems(itemIds));
      await run(m, moveToValidation(itemIds));
      await refreshStatistics(m, 'item', itemIds.length);
      const batch = await openQueryBatch(m, this.events, {
        budget,
        mechanism: QueryMechanism.VALIDATION,
        label: 'validation-draw',
        params: { size: input.size, seed, poolSize: pool.length },
        queries: itemIds.map((itemId) => ({ itemId, score: 0, reason: { randomDraw: true } })),
        createdBy: key.id,
        seed,
      });
      return { roundId: batch.roundId, seed, itemIds, poolSize: pool.length };
    });
  }
}
