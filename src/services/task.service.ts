import type { DataSource, EntityManager } from 'typeorm';
import { ApiKey, Dataset, Task, TaskKind, TaskStatus } from '../entities';
import { BadUserInputError, NotFoundError } from '../errors';
import { InputChecks, requireLength } from './validate';
import { authorizeRow, Permission } from './permissions';
import type { JobQueue } from '../jobs/job-queue';
import type { StrategyRegistry } from '../strategies/registry';
import type { TrainerRegistry } from '../plugins/trainers/registry';
import { DatasetService } from './dataset.service';
import { isUuid } from '../db/db-errors';
import type { ModelService } from './model.service';
import { SIMULATION_LIMITS } from '../ml/simulation-engine';
import { groundTruthCounts } from '../db/sql/items.sql';
import { trainingLabelCounts } from '../db/sql/labels.sql';
import { run } from '../db/sql/statement';
import { taskListing } from '../db/sql/tasks.sql';
import { entityPage, type Page } from './pagination';

export interface TrainModelInput {
  datasetId: string;
  trainer: string;
  options?: Record<string, unknown> | null;
  includeModelLabels: boolean;
  name?: string | null;
}

export interface SimulateInput {
  datasetId: string;
  strategies: { strategy: string; params?: Record<string, unknown> | null }[];
  seedSize: number;
  batchSize: number;
  budget: number;
  repeats: number;
  trainer: string;
  trainerOptions?: Record<string, unknown> | null;
  seed?: number | null;
}

/** What a training task stores as its params. */
export interface TrainParams {
  trainer: string;
  options: Record<string, unknown>;
  includeModelLabels: boolean;
  name: string;
}

/** What a simulation task stores as its params. */
export interface SimulateParams {
  strategies: { strategy: string; params: Record<string, unknown> }[];
  seedSize: number;
  batchSize: number;
  budget: number;
  repeats: number;
  trainer: string;
  trainerOptions: Record<string, unknown>;
  seed: number;
}

/** Label sources a training task learns from. */
export function trainingSources(includeModelLabels: boolean): string[] {
  return includeModelLabels ? ['HUMAN', 'IMPORT', 'MODEL'] : ['HUMAN', 'IMPORT'];
}

/**
 * Creates a QUEUED task and its job in the caller's transaction, so that neither exists without
 * the other; the caller wakes the task worker once the transaction has committed. Training runs,
 * simulations and auto-label runs all start here.
 */
export async function enqueueTask(
  m: EntityManager,
  jobs: JobQueue,
  task: {
    datasetId: string;
    kind: TaskKind;
    params: object;
    createdBy: string;
    modelId?: string | null;
  },
): Promise<Task> {
  const saved = await m.getRepository(Task).save({
    datasetId: task.datasetId,
    kind: task.kind,
    status: TaskStatus.QUEUED,
    params: task.params as Record<string, unknown>,
    createdBy: task.createdBy,
    result: null,
    error: null,
    modelId: task.modelId ?? null,
    progressTotal: null,
    startedAt: null,
    finishedAt: null,
  });
  await jobs.sendTask(m, { taskId: saved.id });
  return saved;
}

/** What a key needs to start or read tasks of `kind`: training manages models, the rest rounds. */
function taskPermission(kind: TaskKind): Permission {
  return kind === TaskKind.TRAIN ? Permission.MANAGE_MODELS : Permission.MANAGE_ROUNDS;
}

/**
 * Training and simulation tasks: validated up front (nothing is created when anything is wrong),
 * then run as jobs by {@link TaskRunner}.
 */
export class TaskService {
  constructor(
    private readonly ds: DataSource,
    private readonly datasets: DatasetService,
    private readonly strategies: StrategyRegistry,
    private readonly trainers: TrainerRegistry,
    private readonly jobs: JobQueue,
    private readonly models: ModelService,
  ) {}

  async trainModel(key: ApiKey, input: TrainModelInput): Promise<Task> {
    const dataset = await this.datasetFor(key, input.datasetId, TaskKind.TRAIN);
    this.trainers.get(input.trainer);
    const options = this.trainers.params(input.trainer, input.options ?? {});
    const name = requireLength((input.name ?? input.trainer).trim(), 'name');
    const counts = await run<{ c: number; n: number }>(
      this.ds,
      trainingLabelCounts(dataset.id, trainingSources(input.includeModelLabels)),
    );
    if (counts.length < 2) {
      const total = counts.reduce((a, r) => a + r.n, 0);
      throw new BadUserInputError(
        total === 0
          ? `The dataset has no labelled POOL items to train on${input.includeModelLabels ? '' : ' (MODEL labels count only with includeModelLabels)'}; a classifier needs labels of at least two classes.`
          : `All ${total} labelled POOL items are of class ${JSON.stringify(dataset.classes[counts[0].c])}; a classifier needs labels of at least two classes.`,
      );
    }
    const params: TrainParams = {
      trainer: input.trainer,
      options,
      includeModelLabels: input.includeModelLabels,
      name,
    };
    return this.create(dataset, TaskKind.TRAIN, params, key);
  }

  async simulate(key: ApiKey, input: SimulateInput): Promise<Task> {
    const dataset = await this.datasetFor(key, input.datasetId, TaskKind.SIMULATE);
    const checks = new InputChecks();
    if (
      input.strategies.length === 0 ||
      input.strategies.length > SIMULATION_LIMITS.maxStrategies
    ) {
      checks.add('strategies', `give 1 to ${SIMULATION_LIMITS.maxStrategies} strategies`);
    }
    checks.int('seedSize', input.seedSize, { min: 2, max: 100_000 });
    checks.int('batchSize', input.batchSize, { min: 1, max: 100_000 });
    checks.int('budget', input.budget, { min: 3, max: 100_000 });
    checks.int('repeats', input.repeats, {
      min: SIMULATION_LIMITS.minRepeats,
      max: SIMULATION_LIMITS.maxRepeats,
    });
    if (input.budget <= input.seedSize) {
      checks.add('budget', 'must be more than seedSize (it counts the seed)');
    }
    const seed = checks.seed('seed', input.seed);
    checks.throwIfAny('the simulation');
    // Unknown codes and bad params name themselves (BAD_USER_INPUT).
    const strategies = input.strategies.map((s) => {
      this.strategies.get(s.strategy);
      return {
        strategy: s.strategy,
        params: this.strategies.params(s.strategy, s.params ?? {}) as Record<string, unknown>,
      };
    });
    this.trainers.get(input.trainer);
    const trainerOptions = this.trainers.params(input.trainer, input.trainerOptions ?? {});
    const [truth] = await run<{ pool: number; test: number }>(
      this.ds,
      groundTruthCounts(dataset.id),
    );
    if (truth.test === 0) {
      throw new BadUserInputError(
        'The simulation evaluates on TEST items with ground truth, and the dataset has none: import some items with split TEST and groundTruth.',
      );
    }
    if (truth.pool < input.budget) {
      throw new BadUserInputError(
        `The simulation labels up to ${input.budget} POOL items from the ground truth, but only ${truth.pool} POOL items have ground truth.`,
      );
    }
    const params: SimulateParams = {
      strategies,
      seedSize: input.seedSize,
      batchSize: input.batchSize,
      budget: input.budget,
      repeats: input.repeats,
      trainer: input.trainer,
      trainerOptions,
      seed,
    };
    return this.create(dataset, TaskKind.SIMULATE, params, key);
  }

  /** The dataset `datasetId`, once `key` may work with its tasks of `kind`. */
  private datasetFor(key: ApiKey, datasetId: string, kind: TaskKind): Promise<Dataset> {
    return this.datasets.getAuthorized(key, datasetId, taskPermission(kind));
  }

  private async create(
    dataset: Dataset,
    kind: TaskKind,
    params: TrainParams | SimulateParams,
    key: ApiKey,
  ): Promise<Task> {
    const task = await this.ds.transaction((m) =>
      enqueueTask(m, this.jobs, { datasetId: dataset.id, kind, params, createdBy: key.id }),
    );
    this.jobs.wakeTaskWorker();
    return task;
  }

  async get(key: ApiKey, id: string, kind: TaskKind): Promise<Task> {
    const task = isUuid(id) ? await this.ds.getRepository(Task).findOneBy({ id, kind }) : null;
    const entity = kind === TaskKind.TRAIN ? 'TrainingRun' : 'Simulation';
    if (!task) throw new NotFoundError(entity, id);
    authorizeRow(key, taskPermission(kind), task.datasetId, entity, id);
    return task;
  }

  /** A page of a dataset's tasks of one kind, newest first. */
  async list(
    key: ApiKey,
    datasetId: string,
    kind: TaskKind,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<Task>> {
    const dataset = await this.datasetFor(key, datasetId, kind);
    return entityPage(this.ds, Task, {
      ...taskListing(dataset.id, kind),
      kind: kind === TaskKind.TRAIN ? 'trainingRun' : 'simulation',
      first,
      after,
    });
  }

  /** Every model version of the dataset in order, with its human label count and metrics. */
  learningCurve(key: ApiKey, datasetId: string) {
    return this.models.listAll(key, datasetId);
  }
}
