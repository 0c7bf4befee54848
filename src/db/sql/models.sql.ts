/** Models and their predictions. */

import { sql, type SqlStatement } from './statement';

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

/** The predictions of items (one per model that scored them), newest model version first. */
export function predictionsByItemIds(itemIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT ${PREDICTION_COLUMNS}
       FROM prediction p JOIN model m ON m.id = p.model_id
       WHERE p.item_id = ANY($1::bigint[]) ORDER BY m.version DESC`,
    [itemIds],
  );
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
