import { MoreThan, type DataSource } from 'typeorm';
import { ApiKey, LabelQuery, Model, Round, RoundStatus } from '../entities';
import { BadUserInputError, ConflictError, InputProblem, NotFoundError } from '../errors';
import { authorize, authorizeRow, Permission } from './permissions';
import type { StrategyRegistry } from '../strategies/registry';
import type { StrategyNeed } from '../strategies/types';
import type { JobQueue } from '../jobs/job-queue';
import { DatasetService } from './dataset.service';
import { isUuid } from '../db/db-errors';
import type { EventBus } from './event-bus';
import { answers, lockBudget, requireRemaining } from './budget';
import { closeRound } from './round-lifecycle';
import { requireInt, requireSeed } from './validate';
import { lockRoundStatus, roundListing, settledQueryCounts } from '../db/sql/rounds.sql';
import { run } from '../db/sql/statement';
import { entitiesByIds } from './by-key';
import { decodeCursor, encodeCursor, entityPage, pageSize, type Page } from './pagination';

/** Cursor kind of `Round.queries` (a rank). */
const ROUND_QUERY_CURSOR = 'round-query';

export interface StartRoundInput {
  datasetId: string;
  strategy: string;
  params?: unknown;
  size: number;
  modelIds?: string[] | null;
  seed?: number | null;
  /** Shards to score the pool in; unset: the server's QUARRY_ROUND_SHARDS. */
  shards?: number | null;
}

/** Most shards one round may be scored in. */
export const MAX_ROUND_SHARDS = 256;

/** Most queries one round may select. */
export const MAX_ROUND_SIZE = 100_000;

/** Round states in which the round's job still has work to do. */
export const RUNNING_STATUSES = [RoundStatus.QUEUED, RoundStatus.SCORING, RoundStatus.SELECTING];

/** Rounds: starting (validated up front, then run as a job), cancelling, reading. */
export class RoundService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly registry: StrategyRegistry,
    private readonly jobs: JobQueue,
    private readonly events: EventBus,
    /** Defaults of rounds: `shards` (QUARRY_ROUND_SHARDS). */
    private readonly defaults: { shards: number } = { shards: 1 },
  ) {}

  /**
   * Checks everything a round needs (strategy, parameters, models and their outputs, size,
   * budget) and creates it QUEUED with its job, in one transaction; nothing is created when
   * anything is wrong.
   */
  async start(key: ApiKey, input: StartRoundInput): Promise<Round> {
    const dataset = await this.datasets.getAuthorized(
      key,
      input.datasetId,
      Permission.MANAGE_ROUNDS,
    );
    const registered = this.registry.get(input.strategy);
    const params = this.registry.params(input.strategy, input.params);
    const strategy = registered.plugin;
    const needs = new Set<StrategyNeed>(strategy.needs);
    if (strategy.kind === 'batch') {
      const pool = strategy.candidatePool(params);
      if (pool) {
        const candidate = this.registry.get(pool.strategy).plugin;
        if (candidate.kind !== 'pointwise') {
          throw new BadUserInputError(
            `Strategy "${strategy.code}" narrows its candidates with "${pool.strategy}", which is not a pointwise strategy.`,
          );
        }
        candidate.needs.forEach((n) => needs.add(n));
      }
    }
    requireInt(input.size, 'size', { min: 1, max: MAX_ROUND_SIZE });
    const shards = requireInt(input.shards ?? this.defaults.shards, 'shards', {
      min: 1,
      max: MAX_ROUND_SHARDS,
    });
    const models = await this.checkModels(dataset.id, input.modelIds ?? [], needs, strategy.code);
    const seed = requireSeed(input.seed);
    const jobs = this.jobs;
    const round = await this.ds.transaction(async (m) => {
      const budget = await lockBudget(m, dataset.id);
      const k = budget.annotationsPerItem;
      requireRemaining(budget, input.size * k, {
        what: `A round of ${input.size} queries (${answers(k)} each)`,
        instead: 'start a smaller round',
      });
      const round = await m.getRepository(Round).save({
        datasetId: dataset.id,
        strategy: strategy.code,
        params,
        size: input.size,
        modelIds: models.map((x) => x.id),
        status: RoundStatus.QUEUED,
        seed,
        shards,
        createdBy: key.id,
        error: null,
        startedAt: null,
        finishedAt: null,
      });
      await jobs.sendRound(m, { roundId: round.id });
      return round;
    });
    jobs.wakeRoundWorker();
    return round;
  }

  private async checkModels(
    datasetId: string,
    ids: string[],
    needs: Set<StrategyNeed>,
    code: string,
  ): Promise<Model[]> {
    const problems: InputProblem[] = [];
    if (new Set(ids).size !== ids.length)
      problems.push({ field: 'modelIds', message: 'lists a model twice' });
    const found = ids.length
      ? await this.ds.getRepository(Model).find({
          select: {
            id: true,
            datasetId: true,
            name: true,
            version: true,
            embeddingOutputName: true,
            embeddingDim: true,
          },
          where: ids.filter(isUuid).map((id) => ({ id })),
        })
      : [];
    const byId = new Map(found.map((x) => [x.id, x]));
    const models: Model[] = [];
    ids.forEach((id, index) => {
      const model = byId.get(id);
      if (!model || model.datasetId !== datasetId) {
        problems.push({
          field: 'modelIds',
          index,
          id,
          message: 'no model with this id in the dataset',
        });
      } else {
        models.push(model);
      }
    });
    if (problems.length === 0) {
      const needsModel =
        needs.has('PROBABILITIES') || needs.has('EMBEDDINGS') || needs.has('COMMITTEE');
      if (needs.has('COMMITTEE') && models.length < 2) {
        problems.push({
          field: 'modelIds',
          message: `strategy "${code}" is query by committee: give two or more models`,
        });
      } else if (needsModel && models.length < 1) {
        problems.push({
          field: 'modelIds',
          message: `strategy "${code}" needs a model's predictions: give a model id`,
        });
      }
      if (needs.has('EMBEDDINGS') && models[0] && !models[0].embeddingOutputName) {
        problems.push({
          field: 'modelIds',
          index: 0,
          id: models[0].id,
          message: `strategy "${code}" needs an embedding, and model ${models[0].name} v${models[0].version} has no embedding output (register it with embeddingOutput)`,
        });
      }
    }
    if (problems.length > 0) {
      throw new BadUserInputError(
        `Cannot start the round: ${problems.map((p) => `${p.field}${p.index !== undefined ? `[${p.index}]` : ''} ${p.message}`).join('; ')}.`,
        problems,
      );
    }
    return models;
  }

  /** Stops a round that is still running, or closes an open one (its open queries are cancelled). */
  async cancel(key: ApiKey, id: string): Promise<Round> {
    const round = await this.get(key, id, Permission.MANAGE_ROUNDS);
    return this.ds.transaction(async (m) => {
      const [locked] = await run(m, lockRoundStatus(round.id));
      const status = locked.status as RoundStatus;
      if (!RUNNING_STATUSES.includes(status) && status !== RoundStatus.OPEN) {
        throw new ConflictError(
          `Round ${round.id} is ${status}; only a queued, running or open round can be cancelled.`,
        );
      }
      await closeRound(m, this.events, round, [status]);
      return m.getRepository(Round).findOneByOrFail({ id: round.id });
    });
  }

  /** A page of a dataset's rounds, newest first. */
  async list(
    key: ApiKey,
    datasetId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<Round>> {
    const dataset = await this.datasets.getAuthorized(key, datasetId, Permission.READ_DATASET);
    return entityPage(this.ds, Round, { ...roundListing(dataset.id), kind: 'round', first, after });
  }

  async get(key: ApiKey, id: string, permission = Permission.READ_DATASET): Promise<Round> {
    authorize(key, permission);
    const round = isUuid(id) ? await this.ds.getRepository(Round).findOneBy({ id }) : null;
    if (!round) throw new NotFoundError('Round', id);
    authorizeRow(key, permission, round.datasetId, 'Round', id);
    return round;
  }

  /** Rounds by id, for DataLoader. */
  async byIds(ids: readonly string[]): Promise<(Round | null)[]> {
    return entitiesByIds(this.ds, Round, ids);
  }

  /**
   * A page of a round's queries by rank (1 first), after the cursor `after`: `Round.queries`.
   * The round was authorised when it was read.
   */
  async queriesPage(
    roundId: string,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<LabelQuery>> {
    const limit = pageSize(first);
    const afterRank = decodeCursor(ROUND_QUERY_CURSOR, after);
    const repo = this.ds.getRepository(LabelQuery);
    // One more row than the page says whether there is a next page (ix_label_query_round_rank).
    const rows = await repo.find({
      where: { roundId, rank: MoreThan(afterRank === undefined ? 0 : Number(afterRank)) },
      order: { rank: 'ASC' },
      take: limit + 1,
    });
    const nodes = rows.slice(0, limit);
    return {
      nodes,
      cursors: nodes.map((q) => encodeCursor(ROUND_QUERY_CURSOR, String(q.rank))),
      hasNextPage: rows.length > limit,
      hasPreviousPage: afterRank !== undefined,
      totalCount: () => repo.countBy({ roundId }),
    };
  }

  /** Each round's queries settled by their answers, for DataLoader. */
  async settledCounts(roundIds: readonly string[]): Promise<number[]> {
    const select = settledQueryCounts(roundIds);
    const rows: { roundId: string; settled: number }[] = await run(this.ds, select);
    const byId = new Map(rows.map((r) => [r.roundId, r.settled]));
    return roundIds.map((id) => byId.get(id) ?? 0);
  }
}
