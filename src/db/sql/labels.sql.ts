/**
 * Labels: the writes of current labels, listings, an item's label and history, export, and the
 * labelled sets models are trained and validated on.
 *
 * An item's label is its current (not superseded) label of the highest-ranked source; the partial
 * indexes on `label(item_id) WHERE superseded_at IS NULL` serve every "current" lookup here.
 */

import type { LabelSource } from '../../entities';
import { Conditions, type Listing } from './pages.sql';
import { sql, type SqlStatement } from './statement';

/** Which column holds the source, in the statement that ranks it. */
export type SourceColumn = 'source' | 'l.source';

/**
 * SQL rank of a label source (HUMAN 3, IMPORT 2, MODEL 1): an item's label is its current label of
 * the highest rank, then the newest. `ORDER BY ${sourceRank()} DESC, id DESC`.
 */
export function sourceRank(column: SourceColumn = 'source'): string {
  return `CASE ${column} WHEN 'HUMAN' THEN 3 WHEN 'IMPORT' THEN 2 WHEN 'MODEL' THEN 1 ELSE 0 END`;
}

/** The rank of an unqualified `source` column; see {@link sourceRank}. */
export const SOURCE_RANK_SQL = sourceRank();

const LABEL_COLUMNS = `id, dataset_id AS "datasetId", item_id AS "itemId", class_index AS "classIndex", source,
  api_key_id AS "apiKeyId", annotator_id AS "annotatorId", model_id AS "modelId", confidence,
  created_at AS "createdAt", superseded_at AS "supersededAt"`;

/**
 * Locks the items about to get a new current label, in id order so that two writers of
 * overlapping items cannot deadlock: the later one waits, then supersedes the earlier one's label
 * instead of colliding with it on uq_label_current_per_source. NO KEY UPDATE leaves other
 * writers' foreign-key checks on these items unblocked.
 */
export function lockItemsForLabels(itemIds: string[]): SqlStatement {
  return sql('SELECT 1 FROM item WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [
    itemIds,
  ]);
}

/** Marks the items' current labels from `source` as history (run under {@link lockItemsForLabels}). */
export function supersedeCurrentLabels(itemIds: string[], source: string): SqlStatement {
  return sql(
    `UPDATE label SET superseded_at = now()
     WHERE item_id = ANY($1::bigint[]) AND source = $2 AND superseded_at IS NULL`,
    [itemIds, source],
  );
}

/** One new current label per item, in the same order (what `writeCurrentLabels` writes). */
export interface NewLabels {
  datasetId: string;
  source: LabelSource;
  apiKeyId: string | null;
  itemIds: string[];
  classIndexes: number[];
  annotatorIds: (string | null)[];
  confidences: (number | null)[];
  /** The model version behind MODEL labels, set on every row written (default null). */
  modelId?: string | null;
  /** The auto-label run or stream call that writes them, set on every row (default null). */
  runId?: string | null;
}

/** One new label per item, returning their ids in input order. */
export function insertCurrentLabels(l: NewLabels): SqlStatement {
  return sql(
    `INSERT INTO label (dataset_id, item_id, class_index, source, api_key_id, annotator_id, confidence, model_id, run_id)
     SELECT $1, t.i, t.c, $2, $3, t.a, t.conf, $8::uuid, $9::uuid
     FROM unnest($4::bigint[], $5::smallint[], $6::text[], $7::real[]) WITH ORDINALITY AS t(i, c, a, conf, n)
     ORDER BY t.n
     RETURNING id`,
    [
      l.datasetId,
      l.source,
      l.apiKeyId,
      l.itemIds,
      l.classIndexes,
      l.annotatorIds,
      l.confidences,
      l.modelId ?? null,
      l.runId ?? null,
    ],
  );
}

/** The labels of items that arrive labelled with an import (new items: nothing to supersede). */
export function insertImportLabels(
  datasetId: string,
  source: string,
  apiKeyId: string,
  itemIds: string[],
  classIndexes: (number | undefined)[],
): SqlStatement {
  return sql(
    `INSERT INTO label (dataset_id, item_id, class_index, source, api_key_id)
             SELECT $1, t.i, t.c, $2, $3 FROM unnest($4::bigint[], $5::smallint[]) AS t(i, c)`,
    [datasetId, source, apiKeyId, itemIds, classIndexes],
  );
}

/** A dataset's labels, in the order they were written; current ones only unless `current` is false. */
export function labelListing(
  datasetId: string,
  filter: { source?: string | null; current?: boolean | null; itemIds?: string[] | null },
): Listing {
  const where = new Conditions().add((p) => `dataset_id = ${p}`, datasetId);
  if (filter.current ?? true) where.raw('superseded_at IS NULL');
  if (filter.source) where.add((p) => `source = ${p}`, filter.source);
  if (filter.itemIds) where.add((p) => `item_id = ANY(${p}::bigint[])`, filter.itemIds);
  return { table: 'label', columns: LABEL_COLUMNS, where };
}

/** Each item's label: its current label of the highest-ranked source. */
export function resolvedLabelsByItemIds(itemIds: readonly string[]): SqlStatement {
  return sql(
    `SELECT DISTINCT ON (item_id) ${LABEL_COLUMNS} FROM label
       WHERE item_id = ANY($1::bigint[]) AND superseded_at IS NULL
       ORDER BY item_id, ${SOURCE_RANK_SQL} DESC, id DESC`,
    [itemIds],
  );
}

export function labelsByIds(ids: readonly string[]): SqlStatement {
  return sql(`SELECT ${LABEL_COLUMNS} FROM label WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids]);
}

/**
 * The label of up to `limit` labelled items of a dataset after item `afterItemId`, in item order,
 * with the item's export columns: a keyset page of the label export.
 */
export function currentLabelsPage(
  datasetId: string,
  afterItemId: string,
  limit: number,
): SqlStatement {
  return sql(
    `SELECT DISTINCT ON (l.item_id) l.item_id AS "itemId", i.external_id AS "externalId", i.split,
                i.origin, l.class_index AS "classIndex", l.source, l.annotator_id AS "annotatorId",
                l.model_id AS "modelId", l.confidence, l.created_at AS "createdAt"
         FROM label l JOIN item i ON i.id = l.item_id
         WHERE l.dataset_id = $1 AND l.superseded_at IS NULL AND l.item_id > $2::bigint
         ORDER BY l.item_id, ${sourceRank('l.source')} DESC, l.id DESC
         LIMIT $3`,
    [datasetId, afterItemId, limit],
  );
}

/**
 * Each POOL item's training label among `sources` ($1 = dataset id, $2 = sources): its current
 * label of the highest-ranked source. A LATERAL … LIMIT 1 per item, read from the partial index of
 * current labels, rather than a DISTINCT ON over the dataset's labels.
 */
const TRAINING_LABELS = `
  FROM item i
  JOIN LATERAL (SELECT class_index, source FROM label l
                WHERE l.item_id = i.id AND l.superseded_at IS NULL AND l.source = ANY($2::text[])
                ORDER BY ${SOURCE_RANK_SQL} DESC, l.id DESC LIMIT 1) l ON true
  WHERE i.dataset_id = $1 AND i.split = 'POOL'`;

/** How many POOL items a training task would learn each class from (`c`, `n`). */
export function trainingLabelCounts(datasetId: string, sources: string[]): SqlStatement {
  return sql(
    `SELECT l.class_index AS c, count(*)::int AS n ${TRAINING_LABELS} GROUP BY l.class_index`,
    [datasetId, sources],
  );
}

/** Up to `limit` training rows (`id`, `features`, class `c`, `source`) after item `afterId`. */
export function trainingLabelsPage(
  datasetId: string,
  sources: string[],
  afterId: string,
  limit: number,
): SqlStatement {
  return sql(
    `SELECT i.id, i.features, l.class_index AS c, l.source ${TRAINING_LABELS}
           AND i.id > $3::bigint ORDER BY i.id LIMIT $4`,
    [datasetId, sources, afterId, limit],
  );
}

/**
 * The features and HUMAN or IMPORT class (`c`) of a dataset's imported VALIDATION items that have
 * one, up to `limit` in item order: the set an uploaded model is scored on.
 */
export function validationLabels(datasetId: string, limit: number): SqlStatement {
  return sql(
    `SELECT i.features, l.class_index AS c FROM item i
       JOIN LATERAL (SELECT class_index FROM label l WHERE l.item_id = i.id AND l.superseded_at IS NULL
                       AND l.source IN ('HUMAN', 'IMPORT')
                     ORDER BY ${SOURCE_RANK_SQL} DESC, l.id DESC LIMIT 1) l ON true
       WHERE i.dataset_id = $1 AND i.split = 'VALIDATION' AND i.origin = 'IMPORTED'
       ORDER BY i.id LIMIT $2`,
    [datasetId, limit],
  );
}

/** How many POOL items of a dataset have a current HUMAN or IMPORT label (`n`). */
export function humanPoolLabelCount(datasetId: string): SqlStatement {
  return sql(
    `SELECT count(DISTINCT l.item_id)::int AS n FROM label l JOIN item i ON i.id = l.item_id
       WHERE l.dataset_id = $1 AND l.source IN ('HUMAN', 'IMPORT') AND l.superseded_at IS NULL
         AND i.split = 'POOL'`,
    [datasetId],
  );
}

/**
 * The person-given (HUMAN or IMPORT) label of each VALIDATION item of a dataset, the best-ranked
 * one per item: the ground truth auto-labelling certifies its threshold on; `drawn` tells the
 * items that `drawValidationSample` drew at random from the pool (a batch of mechanism VALIDATION).
 */
export function validationTruth(datasetId: string): SqlStatement {
  return sql(
    `SELECT DISTINCT ON (l.item_id) l.item_id::text AS id, l.class_index AS c,
            EXISTS (SELECT 1 FROM label_query q JOIN round r ON r.id = q.round_id
                    WHERE q.item_id = l.item_id AND r.mechanism = 'VALIDATION') AS drawn
     FROM label l JOIN item i ON i.id = l.item_id
     WHERE l.dataset_id = $1 AND i.split = 'VALIDATION' AND l.superseded_at IS NULL
       AND l.source IN ('HUMAN', 'IMPORT')
     ORDER BY l.item_id, ${sourceRank('l.source')} DESC, l.id DESC`,
    [datasetId],
  );
}

/**
 * The POOL items of `origin` with a person-given (HUMAN or IMPORT) label and that label's class,
 * in item id order: the labelled set synthesis methods work from. The LATERAL picks one label per
 * item through the current-label index.
 */
export function personLabelledPool(datasetId: string, origin: string): SqlStatement {
  return sql(
    `SELECT i.id, l.class_index AS c FROM item i
     JOIN LATERAL (SELECT class_index FROM label l WHERE l.item_id = i.id AND l.superseded_at IS NULL
                     AND l.source IN ('HUMAN', 'IMPORT')
                   ORDER BY ${sourceRank('l.source')} DESC, l.id DESC LIMIT 1) l ON true
     WHERE i.dataset_id = $1 AND i.split = 'POOL' AND i.origin = $2
     ORDER BY i.id`,
    [datasetId, origin],
  );
}

/** A dataset's current labels counted by source and class (the class balance). */
export function currentLabelCounts(datasetId: string): SqlStatement {
  return sql(
    `SELECT source, class_index AS "classIndex", count(*)::int AS count
     FROM label WHERE dataset_id = $1 AND superseded_at IS NULL
     GROUP BY source, class_index ORDER BY source, class_index`,
    [datasetId],
  );
}

/**
 * The labels of each item, newest first, before label `beforeId` (when given), at most `limit`
 * per item: one page of `Item.labels` for every item of a DataLoader batch (ix_label_item_id).
 */
/** How many labels an item ever had (`Item.labels.totalCount`). */
export function labelCountOfItem(itemId: string): SqlStatement {
  return sql(`SELECT count(*)::int AS n FROM label WHERE item_id = $1::bigint`, [itemId]);
}

export function labelPagesByItemIds(
  itemIds: readonly string[],
  beforeId: string | null,
  limit: number,
): SqlStatement {
  return sql(
    `SELECT x.*
       FROM unnest($1::bigint[]) AS i(id)
       CROSS JOIN LATERAL (
         SELECT ${LABEL_COLUMNS} FROM label
          WHERE item_id = i.id AND ($2::bigint IS NULL OR id < $2::bigint)
          ORDER BY id DESC LIMIT $3) x`,
    [itemIds, beforeId, limit],
  );
}
