import type { QuarryConfig } from '../config';
import type { Database } from '../db/database';
import { Dataset, LabelSource, QueryMechanism, Task, TaskStatus } from '../entities';
import { BudgetExhaustedError } from '../errors';
import type { EventBus } from '../services/event-bus';
import type { InferencePool } from '../workers/inference.pool';
import { streamFeatures } from '../db/pool-reader';
import type { ModelRef } from '../workers/inference.types';
import { logger } from '../logger';
import { modelRefs } from './model-files';
import { readAhead } from './read-ahead';
import { writeCurrentLabels } from '../services/label.service';
import { freeBudget, openQueryBatch } from '../services/query-batches';
import { mulberry32, samplePermutation } from '../strategies/math';
import type { AutoLabelParams, AutoLabelResult } from '../services/auto-label.service';

/** What an auto-label run needs beyond its task. */
export interface AutoLabelDeps {
  db: Database;
  config: QuarryConfig;
  inference: InferencePool;
  events: EventBus;
}

/** Progress is written at most this often. */
const PROGRESS_INTERVAL_MS = 500;

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * SQL condition (on `item i`) for the items a run may label: the dataset's POOL items without a
 * current HUMAN or IMPORT label and not waiting in an open or tied query. An item carrying only
 * an older MODEL label is included: the new run's label supersedes it, and revoking the run
 * brings it back.
 */
export function autoLabelPoolWhere(datasetId: string): string {
  return `i.dataset_id = ${q(datasetId)} AND i.split = 'POOL'
    AND NOT EXISTS (SELECT 1 FROM label l WHERE l.item_id = i.id AND l.superseded_at IS NULL AND l.source IN ('HUMAN', 'IMPORT'))
    AND NOT EXISTS (SELECT 1 FROM label_query lq WHERE lq.item_id = i.id AND lq.status IN ('OPEN', 'NEEDS_REVIEW'))`;
}

/**
 * Streams the items matching `where` (trusted SQL on `item i`) through the inference workers with
 * one model, a few chunks in flight, and hands each chunk's top class and its probability to
 * `onChunk`. Returns the rows scored.
 */
export async function scoreItems(
  deps: Pick<AutoLabelDeps, 'db' | 'config' | 'inference'>,
  model: ModelRef,
  featureDim: number,
  where: string,
  onChunk: (ids: BigInt64Array, predicted: Int16Array, confidence: Float32Array) => void,
): Promise<number> {
  const maxInFlight = Math.max(1, deps.config.inferenceThreads) + 1;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let scored = 0;
  const chunks = readAhead(
    streamFeatures(deps.db, {
      selectSql: (afterId, limit) =>
        `SELECT i.id, i.features FROM item i WHERE ${where} AND i.id > ${afterId} ORDER BY i.id LIMIT ${limit}`,
      featureDim,
      chunkRows: deps.config.roundChunkRows,
    }),
  );
  try {
    for await (const chunk of chunks) {
      if (failure) break;
      scored += chunk.rows;
      const ids = chunk.ids;
      const work = (async () => {
        const res = await deps.inference.score({
          models: [model],
          features: chunk.features,
          rows: chunk.rows,
          dim: chunk.dim,
          embeddings: false,
        });
        onChunk(ids, res.predictedClass, res.confidence);
      })().catch((e) => {
        failure ??= e;
      });
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
  if (failure) throw failure;
  return scored;
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
  const where = autoLabelPoolWhere(dataset.id);
  const [{ n: poolSize }] = await ds.query(`SELECT count(*)::int AS n FROM item i WHERE ${where}`);
  await ds.query('UPDATE task SET progress_done = 0, progress_total = $2 WHERE id = $1', [
    task.id,
    poolSize,
  ]);
  const ids: string[] = [];
  const classes: number[] = [];
  const confidences: number[] = [];
  let done = 0;
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const scored = await scoreItems(deps, model, dataset.featureDim, where, (chunkIds, c, conf) => {
    for (let r = 0; r < chunkIds.length; r++) {
      if (conf[r] >= params.threshold) {
        ids.push(String(chunkIds[r]));
        classes.push(c[r]);
        confidences.push(conf[r]);
      }
    }
    done += chunkIds.length;
    const now = Date.now();
    if (now - lastWrite < PROGRESS_INTERVAL_MS) return;
    lastWrite = now;
    const at = done;
    writing = writing.then(() =>
      ds
        .query('UPDATE task SET progress_done = $2 WHERE id = $1', [task.id, at])
        .catch((err) => logger.warn({ err }, 'auto-label progress not written')),
    );
  });
  await writing;
  // Chunks finish out of order; labels and the audit draw go in item-id order (reproducible).
  const order = ids.map((_, k) => k).sort((a, b) => (BigInt(ids[a]) < BigInt(ids[b]) ? -1 : 1));
  await ds.transaction(async (m) => {
    const [locked] = await m.query('SELECT status FROM task WHERE id = $1 FOR UPDATE', [task.id]);
    if (locked?.status !== TaskStatus.RUNNING) return;
    // The budget lock before the item locks: the order answers (submitLabel) take them in.
    const free = await freeBudget(m, dataset);
    const candidates = order.map((k) => ids[k]);
    await m.query('SELECT 1 FROM item WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [
      candidates,
    ]);
    const still: { id: string }[] = await m.query(
      `SELECT t.i::text AS id FROM unnest($1::bigint[]) AS t(i)
         WHERE NOT EXISTS (SELECT 1 FROM label l WHERE l.item_id = t.i AND l.superseded_at IS NULL AND l.source IN ('HUMAN', 'IMPORT'))
           AND NOT EXISTS (SELECT 1 FROM label_query lq WHERE lq.item_id = t.i AND lq.status IN ('OPEN', 'NEEDS_REVIEW'))`,
      [candidates],
    );
    const available = new Set(still.map((r) => r.id));
    const kept = order.filter((k) => available.has(ids[k]));
    const auditCount = Math.round(params.auditRate * kept.length);
    const drawn = samplePermutation(kept.length, auditCount, mulberry32(params.seed));
    const audited = Array.from(drawn.subarray(0, auditCount), (j) => kept[j]);
    const units = auditCount * dataset.annotationsPerItem;
    if (free !== null && units > free) {
      throw new BudgetExhaustedError(
        `BUDGET_EXHAUSTED: auditing ${auditCount} of the run's ${kept.length} auto-labels (auditRate ${params.auditRate}) needs ${units} budget units, but only ${free} of ${dataset.labelBudget} remain. No label was written: lower auditRate or raise the dataset's labelBudget, and run again.`,
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
        dataset,
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
      labelledByClass: byClass,
      auditCount,
      auditRoundId,
      seed: params.seed,
    };
    await m.query(
      `UPDATE task SET status = 'SUCCEEDED', result = $2, progress_done = $3, progress_total = $3,
           finished_at = now() WHERE id = $1`,
      [task.id, result, scored],
    );
  });
}
