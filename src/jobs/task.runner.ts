import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, Task, TaskKind, TaskStatus, WebhookEventKind } from '../entities';
import { QuarryError } from '../errors';
import { logger } from '../logger';
import { taskDuration, tasksFinished } from '../metrics';
import type { ModelService } from '../services/model.service';
import { trainingSources, type SimulateParams, type TrainParams } from '../services/task.service';
import type { TrainerPool } from '../workers/trainer.pool';
import { runSimulationInWorker } from '../workers/simulation.worker';
import { SPLIT } from '../ml/simulation-engine';
import { packFeatures } from '../services/features';
import type { EventBus } from '../services/event-bus';
import type { InferencePool } from '../workers/inference.pool';
import { runAutoLabel } from './auto-label.task';
import type { FeatureCache } from './feature-cache';
import { TASK_RETRY_LIMIT } from './job-queue';
import { RunningJobs } from './running-jobs';
import { datasetFeaturesPage, datasetItemCount, simulationItemsPage } from '../db/sql/items.sql';
import { StandardizerAccumulator } from '../plugins/trainers/data';
import type { Standardizer } from '../plugins/trainers/types';
import { trainingLabelsPage } from '../db/sql/labels.sql';
import { modelOfTrainingTask } from '../db/sql/models.sql';
import { run } from '../db/sql/statement';
import {
  beatTask,
  claimTask,
  failTask,
  finishTask,
  giveUpTask,
  handBackTask,
  setTaskProgress,
  taskStatus,
} from '../db/sql/tasks.sql';

/** The process is stopping: the task is handed back, for its job to be retried elsewhere. */
class TaskInterrupted extends Error {}

/** Rows read per statement when loading features for training or simulation. */
const LOAD_BATCH_ROWS = 20_000;
/** Items read at most (about) for the dataset-wide standardisation of a training run. */
const SCALER_SAMPLE_ROWS = 20_000;
/** Progress is written at most this often. */
const PROGRESS_INTERVAL_MS = 500;

/** What a failed task's message calls it. */
const TASK_NOUN: Record<TaskKind, string> = {
  [TaskKind.TRAIN]: 'training',
  [TaskKind.SIMULATE]: 'simulation',
  [TaskKind.AUTO_LABEL]: 'auto-labelling',
};

/**
 * Runs training, simulation and auto-label tasks (as jobs). A running task beats like a round
 * does; a task whose process died (its heartbeat stale) is retried from the start, one whose
 * process stops is handed back at once; a training task that already registered its model is
 * not trained again.
 */
export class TaskRunner {
  constructor(
    private readonly db: Database,
    private readonly config: QuarryConfig,
    private readonly trainerPool: TrainerPool,
    private readonly models: ModelService,
    /** What auto-label tasks need; without it they fail. */
    private readonly autoLabel?: {
      inference: InferencePool;
      events: EventBus;
      featureCache?: FeatureCache;
    },
    /** Asks for the task to be looked at again later (it was running in another process). */
    private readonly recheckLater: (
      taskId: string,
      afterSeconds: number,
    ) => Promise<void> = async () => undefined,
  ) {}

  /** A heartbeat older than this means the process running the task died (as for rounds). */
  private get staleSeconds(): number {
    return Math.max(1, Math.min(30, Math.floor(this.config.roundJobExpireSeconds / 2)));
  }

  private readonly running = new RunningJobs(
    'task',
    () => new TaskInterrupted('this process is stopping'),
  );

  /**
   * Hands every running task back at once (shutdown): QUEUED again, its job failed now so that
   * pg-boss retries it within seconds in any process. What this process still computes for it
   * is dropped (results are written only while not interrupted).
   */
  interrupt(): Promise<void> {
    return this.running.interrupt((taskId) => run(this.db.ds, handBackTask(taskId)));
  }

  /**
   * Ends a task whose job ran out of retries (its processes kept stopping or dying) FAILED, with
   * an error that says how often it was interrupted. One still running elsewhere is looked at
   * again later instead.
   */
  async giveUp(taskId: string): Promise<void> {
    const ds = this.db.ds;
    const task = await ds.getRepository(Task).findOneBy({ id: taskId });
    if (!task || ![TaskStatus.QUEUED, TaskStatus.RUNNING].includes(task.status)) return;
    const noun = TASK_NOUN[task.kind];
    const message =
      task.attempts > 0
        ? `The ${noun} was interrupted ${task.attempts} ${task.attempts === 1 ? 'time' : 'times'} and never finished (its process stopped or died each time); start it again.`
        : `The ${noun} never started: its job failed ${TASK_RETRY_LIMIT + 1} times; start it again.`;
    const rows = await run(ds, giveUpTask(taskId, this.staleSeconds, message));
    if (rows.length === 0) {
      const [row] = await run<{ status: TaskStatus }>(ds, taskStatus(taskId));
      if (row?.status === TaskStatus.RUNNING)
        await this.recheckLater(taskId, this.staleSeconds + 1);
      return;
    }
    logger.warn({ taskId, kind: task.kind, attempts: task.attempts }, 'task gave up');
    await this.ended(task, TaskStatus.FAILED, task.startedAt?.getTime() ?? Date.now(), message);
  }

  async run(taskId: string): Promise<void> {
    this.running.check();
    const ds = this.db.ds;
    const rows = await run(ds, claimTask(taskId, this.staleSeconds));
    if (rows.length === 0) {
      const [row] = await run<{ status: TaskStatus }>(ds, taskStatus(taskId));
      // Still running elsewhere: look again once its heartbeat could have gone stale.
      if (row?.status === TaskStatus.RUNNING)
        await this.recheckLater(taskId, this.staleSeconds + 1);
      return;
    }
    await this.running.run(
      taskId,
      () => run(ds, beatTask(taskId)),
      Math.max(200, (this.staleSeconds * 1000) / 3),
      () => this.execute(taskId),
    );
  }

  private async execute(taskId: string): Promise<void> {
    const ds = this.db.ds;
    const task = await ds.getRepository(Task).findOneByOrFail({ id: taskId });
    const started = Date.now();
    try {
      switch (task.kind) {
        case TaskKind.TRAIN:
          await this.train(task);
          break;
        case TaskKind.SIMULATE:
          await this.simulate(task);
          break;
        case TaskKind.AUTO_LABEL:
          if (!this.autoLabel) throw new Error('this process cannot run auto-label tasks');
          await runAutoLabel({ db: this.db, config: this.config, ...this.autoLabel }, task);
          break;
        default: {
          const never: never = task.kind;
          throw new Error(`unknown task kind ${String(never)}`);
        }
      }
      logger.info({ taskId, kind: task.kind, ms: Date.now() - started }, 'task done');
      await this.ended(task, TaskStatus.SUCCEEDED, started, null);
    } catch (e) {
      if (e instanceof TaskInterrupted || this.running.interrupted) throw e;
      const message =
        e instanceof QuarryError || (e as Error).name === 'BadUserInputError'
          ? (e as Error).message
          : `The ${TASK_NOUN[task.kind]} failed: ${(e as Error).message ?? String(e)}`;
      logger.warn({ taskId, err: e }, 'task failed');
      await run(ds, failTask(taskId, message.slice(0, 2000)));
      await this.ended(task, TaskStatus.FAILED, started, message);
    }
  }

  /** Counts the task, and tells webhooks of an auto-label run's end. */
  private async ended(
    task: Task,
    status: TaskStatus,
    startedMs: number,
    error: string | null,
  ): Promise<void> {
    tasksFinished.inc({ kind: task.kind, status });
    taskDuration.observe({ kind: task.kind, status }, (Date.now() - startedMs) / 1000);
    if (task.kind === TaskKind.AUTO_LABEL && this.autoLabel) {
      await this.autoLabel.events.occurred(this.db.ds, {
        datasetId: task.datasetId,
        kind: WebhookEventKind.AUTO_LABEL_FINISHED,
        data: { taskId: task.id, status, error },
      });
    }
  }

  private async train(task: Task): Promise<void> {
    const ds = this.db.ds;
    const params = task.params as unknown as TrainParams;
    // A run that registered its model and then died is done: never a second version.
    const [registered] = await run<{ id: string }>(
      ds,
      modelOfTrainingTask(task.datasetId, task.id),
    );
    if (registered) {
      await this.finish(task.id, { modelId: registered.id });
      return;
    }
    const dataset = await ds.getRepository(Dataset).findOneByOrFail({ id: task.datasetId });
    const dim = dataset.featureDim;
    const sources = trainingSources(params.includeModelLabels);
    const parts: { features: Buffer; c: number; source: string }[] = [];
    let after = '0';
    for (;;) {
      const batch = await run<{ id: string; features: Buffer; c: number; source: string }>(
        ds,
        trainingLabelsPage(dataset.id, sources, after, LOAD_BATCH_ROWS),
      );
      parts.push(...batch);
      if (batch.length < LOAD_BATCH_ROWS) break;
      after = batch[batch.length - 1].id;
    }
    const features = packFeatures(parts, dim);
    const labels = Int32Array.from(parts, (r) => r.c);
    const bySource: Record<string, number> = {};
    for (const r of parts) bySource[r.source] = (bySource[r.source] ?? 0) + 1;
    const result = await this.trainerPool.train({
      trainer: params.trainer,
      options: params.options,
      features,
      labels,
      rows: parts.length,
      dim,
      classCount: dataset.classes.length,
      datasetStandardizer: await this.datasetStandardizer(dataset.id, dim),
    });
    this.running.check();
    const model = await this.models.store(
      dataset,
      { name: params.name, onnx: Buffer.from(result.onnx) },
      task.createdBy,
      {
        ...result.facts,
        // Labels people made: answers and labels written by scripts (HUMAN) and imported ones.
        humanLabels: (bySource.HUMAN ?? 0) + (bySource.IMPORT ?? 0),
        labelsBySource: bySource,
        taskId: task.id,
      },
    );
    await this.finish(task.id, { modelId: model.id });
  }

  /**
   * Mean and scale of the features of the dataset's items, labelled or not, read page by page
   * (never all rows at once): trainers standardise with them by default, as a notebook fits
   * its scaler on all of X. Every item up to {@link SCALER_SAMPLE_ROWS}; beyond, every k-th id
   * (a systematic sample of about that many: the mean's standard error is then under 1% of a
   * feature's spread), so training a large dataset does not read all of its vectors each time
   * (plain SELECTs of vectors are slow on PGlite).
   */
  private async datasetStandardizer(
    datasetId: string,
    dim: number,
  ): Promise<Standardizer | undefined> {
    const moments = new StandardizerAccumulator(dim);
    const [{ n }] = await run<{ n: number }>(this.db.ds, datasetItemCount(datasetId));
    const stride = Math.max(1, Math.ceil(n / SCALER_SAMPLE_ROWS));
    let after = '0';
    for (;;) {
      const batch = await run<{ id: string; features: Buffer }>(
        this.db.ds,
        datasetFeaturesPage(datasetId, after, LOAD_BATCH_ROWS, stride),
      );
      moments.add(packFeatures(batch, dim), batch.length);
      if (batch.length < LOAD_BATCH_ROWS) break;
      after = batch[batch.length - 1].id;
    }
    return moments.result();
  }

  private async simulate(task: Task): Promise<void> {
    const ds = this.db.ds;
    const params = task.params as unknown as SimulateParams;
    const dataset = await ds.getRepository(Dataset).findOneByOrFail({ id: task.datasetId });
    const dim = dataset.featureDim;
    const loaded: { features: Buffer; g: number | null; split: string }[] = [];
    let after = '0';
    for (;;) {
      const batch = await run<{ id: string; features: Buffer; g: number | null; split: string }>(
        ds,
        simulationItemsPage(dataset.id, after, LOAD_BATCH_ROWS),
      );
      loaded.push(...batch);
      if (batch.length < LOAD_BATCH_ROWS) break;
      after = batch[batch.length - 1].id;
    }
    const features = packFeatures(loaded, dim);
    let lastWrite = 0;
    let writing: Promise<unknown> = Promise.resolve();
    const result = await runSimulationInWorker(
      {
        features,
        rows: loaded.length,
        dim,
        classCount: dataset.classes.length,
        groundTruth: Int32Array.from(loaded, (r) => r.g ?? -1),
        split: Uint8Array.from(loaded, (r) => SPLIT[r.split as keyof typeof SPLIT]),
        strategies: params.strategies.map((s) => ({ code: s.strategy, params: s.params })),
        seedSize: params.seedSize,
        batchSize: params.batchSize,
        budget: params.budget,
        repeats: params.repeats,
        trainer: { code: params.trainer, options: params.trainerOptions },
        seed: params.seed,
      },
      {
        strategyModules: this.config.strategyModules,
        trainerModules: this.config.trainerModules,
        onProgress: ({ done, total }) => {
          const now = Date.now();
          if (now - lastWrite < PROGRESS_INTERVAL_MS && done < total) return;
          lastWrite = now;
          writing = writing.then(() =>
            run(ds, setTaskProgress(task.id, done, total)).catch((err) =>
              logger.warn({ err }, 'simulation progress not written'),
            ),
          );
        },
      },
    );
    await writing;
    await this.finish(task.id, { result: result as unknown as Record<string, unknown> });
  }

  private async finish(
    taskId: string,
    out: { modelId?: string; result?: Record<string, unknown> },
  ): Promise<void> {
    this.running.check();
    await run(
      this.db.ds,
      finishTask(taskId, TaskStatus.SUCCEEDED, out.modelId ?? null, out.result ?? null),
    );
  }
}
