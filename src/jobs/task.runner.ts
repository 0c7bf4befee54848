import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, Task, TaskKind, TaskStatus } from '../entities';
import { QuarryError } from '../errors';
import { logger } from '../logger';
import type { ModelService } from '../services/model.service';
import { trainingSources, type SimulateParams, type TrainParams } from '../services/task.service';
import type { TrainerPool } from '../workers/trainer.pool';
import { runSimulationInWorker } from '../workers/simulation.worker';
import { SPLIT } from '../ml/simulation-engine';
import { packFeatures } from '../services/features';
import type { EventBus } from '../services/event-bus';
import type { InferencePool } from '../workers/inference.pool';
import { runAutoLabel } from './auto-label.task';
import { datasetFeaturesPage, datasetItemCount, simulationItemsPage } from '../db/sql/items.sql';
import { StandardizerAccumulator } from '../plugins/trainers/data';
import type { Standardizer } from '../plugins/trainers/types';
import { trainingLabelsPage } from '../db/sql/labels.sql';
import { modelOfTrainingTask } from '../db/sql/models.sql';
import { run } from '../db/sql/statement';
import { claimTask, failTask, finishTask, setTaskProgress } from '../db/sql/tasks.sql';

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
 * Runs training and simulation tasks (as jobs). A task whose process died is retried from the
 * start; a training task that already registered its model is not trained again.
 */
export class TaskRunner {
  constructor(
    private readonly db: Database,
    private readonly config: QuarryConfig,
    private readonly trainerPool: TrainerPool,
    private readonly models: ModelService,
    /** What auto-label tasks need; without it they fail. */
    private readonly autoLabel?: { inference: InferencePool; events: EventBus },
  ) {}

  async run(taskId: string): Promise<void> {
    const ds = this.db.ds;
    const rows = await run(ds, claimTask(taskId));
    if (rows.length === 0) return;
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
    } catch (e) {
      const message =
        e instanceof QuarryError || (e as Error).name === 'BadUserInputError'
          ? (e as Error).message
          : `The ${TASK_NOUN[task.kind]} failed: ${(e as Error).message ?? String(e)}`;
      logger.warn({ taskId, err: e }, 'task failed');
      await run(ds, failTask(taskId, message.slice(0, 2000)));
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
    await run(
      this.db.ds,
      finishTask(taskId, TaskStatus.SUCCEEDED, out.modelId ?? null, out.result ?? null),
    );
  }
}
