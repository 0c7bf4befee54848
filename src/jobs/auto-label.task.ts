import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, LabelSource, QueryMechanism, Task, TaskStatus } from '../entities';
import { BudgetExhaustedError, ErrorCode, QuarryError } from '../errors';
import type { EventBus } from '../services/event-bus';
import type { InferencePool } from '../workers/inference.pool';
import { logger } from '../logger';
import { modelRefs } from './model-files';
import type { FeatureCache } from './feature-cache';
import { scoreItems } from './pool-scorer';
import { writeCurrentLabels } from '../services/label.service';
import { lockBudget, requireRemaining } from '../services/budget';
import { openQueryBatch } from '../services/round-lifecycle';
import { countPool, poolFeaturesCopy, stillEligible, type PoolScope } from '../db/sql/pool.sql';
import * as runSql from '../db/sql/auto-label.sql';
import { run } from '../db/sql/statement';
import { mulberry32, samplePermutation } from '../strategies/math';
import type { AutoLabelParams, AutoLabelResult } from '../services/auto-label.types';

/** What an auto-label run needs beyond its task. */
export interface AutoLabelDeps {
  db: Database;
  config: QuarryConfig;
  inference: InferencePool;
  events: EventBus;
  /** The rounds' feature cache: the pool's vectors from its files, as rounds read them. */
  featureCache?: FeatureCache;
}

/** Progress is written at most this often. */
const PROGRESS_INTERVAL_MS = 500;

/**
 * The items a run may label: the pool eligibility of rounds, except that a current MODEL label
 * does not take an item out (the new run's label supersedes it; revoking the run brings it back).
 */
function autoLabelPool(datasetId: string): PoolScope {
  return { datasetId, labels: 'human-or-import' };
}

/**
 * Runs an auto-label task: scores the unlabelled pool with the run's model, then, in one
 * transaction, writes a MODEL label (linked to the model, its confidence and the run) on every
 * item whose top-class probability reaches the threshold, opens the audit batch, and marks the
 * task SUCCEEDED. Items that got a human label or a query while the pool scored are passed over.
 * When the audit batch does not fit the budget, nothing is written and the run fails
 * (BUDGET_EXHAUSTED in its error). A retried job finds a finished run and does nothing.
 */
export async function runAutoLabel(deps: AutoLabelDeps, task: Task): Promise<void> {
  const ds = deps.db.ds;
  const params = task.params as unknown as AutoLabelParams;
  const dataset = await ds.getRepository(Dataset).findOneByOrFail({ id: task.datasetId });
  const [model] = await modelRefs(ds, [params.modelId], deps.config.modelCacheDir);
  const pool = autoLabelPool(dataset.id);
  const [{ n: poolSize }] = await run<{ n: number }>(ds, countPool(pool));
  await run(ds, runSql.runProgress(task.id, 0, poolSize));
  const ids: string[] = [];
  const classes: number[] = [];
  const confidences: number[] = [];
  let done = 0;
  let nonFinite = 0;
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const classThresholds = params.classThresholds ?? null;
  // A class without a certified threshold gets no labels.
  const thresholdOf = (c: number): number =>
    classThresholds ? (classThresholds[c] ?? Infinity) : params.threshold;
  // The rounds' fast path: the vectors from the feature cache (eligibility read from the
  // database now), else streamed out of the database.
  const cached = deps.featureCache ? await deps.featureCache.pool(dataset, pool) : undefined;
  const scoring = scoreItems(deps, {
    chunks: cached?.chunks,
    selectSql: poolFeaturesCopy(pool),
    featureDim: dataset.featureDim,
    models: [model],
    onResult: (chunkIds, { predictedClass: c, confidence: conf, skipped }) => {
      for (let r = 0; r < chunkIds.length; r++) {
        if (conf[r] >= thresholdOf(c[r])) {
          ids.push(String(chunkIds[r]));
          classes.push(c[r]);
          confidences.push(conf[r]);
        }
      }
      done += chunkIds.length + (skipped?.length ?? 0);
      nonFinite += skipped?.length ?? 0;
      const now = Date.now();
      if (now - lastWrite < PROGRESS_INTERVAL_MS) return;
      lastWrite = now;
      const at = done;
      writing = writing.then(() =>
        run(ds, runSql.runProgress(task.id, at, null)).catch((err) =>
          logger.warn({ err }, 'auto-label progress not written'),
        ),
      );
    },
  });
  const scored = await scoring.finally(() => cached?.release());
  await writing;
  // Chunks finish out of order; labels and the audit draw go in item-id order (reproducible).
  const order = ids.map((_, k) => k).sort((a, b) => (BigInt(ids[a]) < BigInt(ids[b]) ? -1 : 1));
  await ds.transaction(async (m) => {
    const [locked] = await run(m, runSql.lockRun(task.id));
    if (locked?.status !== TaskStatus.RUNNING) return;
    // The budget lock before the item locks: the order answers (submitLabel) take them in.
    const budget = await lockBudget(m, dataset.id);
    const candidates = order.map((k) => ids[k]);
    await run(m, runSql.lockItems(candidates));
    const still: { id: string }[] = await run(m, stillEligible(candidates, pool));
    const available = new Set(still.map((r) => r.id));
    const kept = order.filter((k) => available.has(ids[k]));
    const auditCount = Math.round(params.auditRate * kept.length);
    const drawn = samplePermutation(kept.length, auditCount, mulberry32(params.seed));
    const audited = Array.from(drawn.subarray(0, auditCount), (j) => kept[j]);
    try {
      requireRemaining(budget, auditCount * budget.annotationsPerItem, {
        what: `auditing ${auditCount} of the run's ${kept.length} auto-labels (auditRate ${params.auditRate})`,
        instead: 'lower auditRate and run again',
      });
    } catch (e) {
      // A run's error is stored as text, with no extensions: the code leads it.
      if (!(e instanceof BudgetExhaustedError)) throw e;
      throw new QuarryError(
        ErrorCode.BUDGET_EXHAUSTED,
        `${ErrorCode.BUDGET_EXHAUSTED}: ${e.message}`,
      );
    }
    await writeCurrentLabels(m, {
      datasetId: dataset.id,
      source: LabelSource.MODEL,
      apiKeyId: task.createdBy,
      itemIds: kept.map((k) => ids[k]),
      classIndexes: kept.map((k) => classes[k]),
      annotatorIds: kept.map(() => null),
      confidences: kept.map((k) => confidences[k]),
      modelId: params.modelId,
      runId: task.id,
    });
    let auditRoundId: string | null = null;
    if (auditCount > 0) {
      const batch = await openQueryBatch(m, deps.events, {
        budget,
        mechanism: QueryMechanism.AUDIT,
        label: 'audit',
        params: { runId: task.id, modelId: params.modelId, threshold: params.threshold },
        modelIds: [params.modelId],
        queries: audited.map((k) => ({
          itemId: ids[k],
          score: confidences[k],
          reason: {
            predictedClass: classes[k],
            predictedValue: dataset.classes[classes[k]],
            confidence: confidences[k],
          },
        })),
        createdBy: task.createdBy,
      });
      auditRoundId = batch.roundId;
    }
    const byClass = dataset.classes.map(() => 0);
    for (const k of kept) byClass[classes[k]] += 1;
    const result: AutoLabelResult = {
      scored,
      aboveThreshold: ids.length,
      labelledCount: kept.length,
      skipped: ids.length - kept.length,
      nonFinite,
      labelledByClass: byClass,
      auditCount,
      auditRoundId,
      seed: params.seed,
    };
    await run(m, runSql.succeedRun(task.id, result, scored));
  });
}
