/** Models and their predictions. */

import { sql, type SqlStatement } from './statement';
import { Conditions, type Listing } from './pages.sql';

const PREDICTION_COLUMNS = `p.item_id AS "itemId", p.model_id AS "modelId", p.predicted_class AS "predictedClass",
              p.confidence, p.created_at AS "createdAt", m.dataset_id AS "datasetId"`;

/**
 * The next version number of a dataset's models. Run it under `lockDataset` in the transaction
 * that saves the model: the row lock serialises numbering per dataset.
 */
export function nextModelVersion(datasetId: string): SqlStatement {
  return sql('SELECT coalesce(max(version), 0) + 1 AS v FROM model WHERE dataset_id = $1', [
    datasetId,
  ]);
}

/** The model a training task registered, if it did (`id`). */
export function modelOfTrainingTask(datasetId: string, taskId: string): SqlStatement {
  return sql(`SELECT id FROM model WHERE dataset_id = $1 AND training->>'taskId' = $2`, [
    datasetId,
    taskId,
  ]);
}

/** The predictions of (model, item) pairs, given as two parallel arrays. */
export function predictionsByModelItem(modelIds: string[], itemIds: string[]): SqlStatement {
  return sql(
    `SELECT ${PREDICTION_COLUMNS}
       FROM prediction p JOIN model m ON m.id = p.model_id
       JOIN unnest($1::uuid[], $2::bigint[]) AS k(m, i) ON p.model_id = k.m AND p.item_id = k.i`,
    [modelIds, itemIds],
  );
}

/** A model's ONNX bytes (read once per process, then cached on disk by content hash). */
export function modelOnnx(modelId: string): SqlStatement {
  return sql('SELECT onnx FROM model WHERE id = $1', [modelId]);
}

/**
 * The session-local staging table predictions travel through by text COPY: rows vanish at
 * commit, so one table serves every chunk of the session.
 */
export function createPredictionStage(): SqlStatement {
  return sql(
    `CREATE TEMP TABLE IF NOT EXISTS prediction_stage
       (item_id bigint, predicted_class smallint, confidence real) ON COMMIT DELETE ROWS`,
  );
}

/** The COPY into the staging table: from `/dev/blob` on PGlite, from STDIN on PostgreSQL. */
export const COPY_PREDICTION_STAGE = {
  pglite: `COPY prediction_stage FROM '/dev/blob'`,
  postgres: 'COPY prediction_stage FROM STDIN',
} as const;

/**
 * Merges the staged rows as `modelId`'s predictions. A model's prediction for an item never
 * changes (same model, same features), so an existing row is kept.
 */
export function mergePredictionStage(modelId: string): SqlStatement {
  return sql(
    `INSERT INTO prediction (item_id, model_id, predicted_class, confidence)
     SELECT item_id, $1, predicted_class, confidence FROM prediction_stage
     ON CONFLICT (item_id, model_id) DO NOTHING`,
    [modelId],
  );
}

/**
 * The dataset's latest model versions, newest first, with their stopping records and validation
 * accuracy: what the next version's stopping signal is computed from.
 */
export function latestStopping(datasetId: string, limit: number): SqlStatement {
  return sql(
    `SELECT id, version, stopping, (metrics->>'accuracy')::float8 AS accuracy
     FROM model WHERE dataset_id = $1 ORDER BY version DESC LIMIT $2`,
    [datasetId, limit],
  );
}

/** The stop set a model defined (`stopping.itemIds`), as text ids. */
export function stopSetOf(modelId: string): SqlStatement {
  return sql(
    `SELECT jsonb_array_elements_text(stopping->'itemIds') AS id FROM model WHERE id = $1`,
    [modelId],
  );
}
/** The version numbers of several models (by their primary key). */
export function modelVersions(modelIds: readonly string[]): SqlStatement {
  return sql('SELECT id, version FROM model WHERE id = ANY($1::uuid[])', [modelIds]);
}

/** A dataset's models, oldest version first (uq_model_dataset_version). */
export function modelListing(datasetId: string): Listing {
  return {
    table: 'model',
    columns: 'id',
    where: new Conditions().add((p) => `dataset_id = ${p}::uuid`, datasetId),
    sortBy: { column: 'version', type: 'integer' },
    idType: 'uuid',
  };
}

/**
 * The latest predictions of each item, newest model version first, after version `beforeVersion`
 * (when given), at most `limit` per item: one page of `Item.predictions` for every item of a
 * DataLoader batch. An item has one prediction per model (the primary key), so each item's
 * lateral scan is bounded by the dataset's model count.
 */
export function predictionPagesByItemIds(
  itemIds: readonly string[],
  beforeVersion: number | null,
  limit: number,
): SqlStatement {
  return sql(
    `SELECT x.*
       FROM unnest($1::bigint[]) AS i(id)
       CROSS JOIN LATERAL (
         SELECT ${PREDICTION_COLUMNS}, m.version
           FROM prediction p JOIN model m ON m.id = p.model_id
          WHERE p.item_id = i.id AND ($2::int IS NULL OR m.version < $2::int)
          ORDER BY m.version DESC LIMIT $3) x`,
    [itemIds, beforeVersion, limit],
  );
}

/** How many predictions an item has (`Item.predictions.totalCount`). */
export function predictionCountOfItem(itemId: string): SqlStatement {
  return sql(`SELECT count(*)::int AS n FROM prediction WHERE item_id = $1::bigint`, [itemId]);
}
