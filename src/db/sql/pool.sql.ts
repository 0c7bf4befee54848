/**
 * Which items a round may pick ("pool eligibility"), written once, and the statements that read
 * the pool with it: counted, streamed (inside `COPY (...) TO`, so with literals from
 * {@link copyLiteral}), and checked again just before queries are written.
 */
import { copyLiteral, sql, type SqlStatement } from './statement';
import { hasCurrentLabel, type LabelSources } from './conditions';

/** The pool a round or run reads: a dataset's POOL items it may pick. */
export interface PoolScope {
  datasetId: string;
  /**
   * Which current labels take an item out of the pool: `any` (pool rounds), or only HUMAN and
   * IMPORT ones (auto-labelling, whose new MODEL label supersedes an older one).
   */
  labels: LabelSources;
  /** A round's own open queries do not take its items out (a retried round selects again). */
  roundId?: string;
  /** Only the items of one shard of a round: `afterId < id <= lastId` (null: no upper bound). */
  range?: IdRange;
}

/** A range of item ids: `afterId < id <= lastId`, decimal ids (`lastId` null: no upper bound). */
export interface IdRange {
  afterId: string;
  lastId: string | null;
}

/**
 * "The item `item` may be picked": it has no current label (of `labels`) and is not waiting in
 * an open or tied query (of another round than `exceptRound`, a SQL expression). The POOL split
 * and the dataset are conditions on the item row, added by the statements.
 */
function poolEligibility(item: string, labels: LabelSources, exceptRound: string | null): string {
  // hasCurrentLabel checks that `item` is a column reference.
  const labelled = hasCurrentLabel(item, labels);
  const otherRound = exceptRound === null ? '' : ` AND lq.round_id <> ${exceptRound}`;
  return `NOT ${labelled}
    AND NOT EXISTS (SELECT 1 FROM label_query lq WHERE lq.item_id = ${item}
                      AND lq.status IN ('OPEN', 'NEEDS_REVIEW')${otherRound})`;
}

/** The keyset bound of a chunk: the stream passes a decimal id (`0` before the first). */
function afterLiteral(afterId: string): string {
  if (!/^(0|[1-9][0-9]{0,18})$/.test(afterId)) {
    throw new TypeError(`afterId must be a decimal item id; got ${JSON.stringify(afterId)}`);
  }
  return afterId;
}

/** One chunk of `(id, features)` rows of `item i` matching `where`, after a keyset bound. */
function chunkSelect(where: string): (afterId: string, limit: number) => string {
  return (afterId, limit) =>
    `SELECT i.id, i.features FROM item i WHERE ${where} AND i.id > ${afterLiteral(afterId)} ORDER BY i.id LIMIT ${copyLiteral(limit)}`;
}

/** How many items the pool holds now. */
export function countPool(scope: PoolScope): SqlStatement {
  return sql(
    `SELECT count(*)::int AS n FROM item i
     WHERE i.dataset_id = $1 AND i.split = 'POOL'
       AND ${poolEligibility('i.id', scope.labels, scope.roundId ? '$2::uuid' : null)}`,
    scope.roundId ? [scope.datasetId, scope.roundId] : [scope.datasetId],
  );
}

/**
 * The pool's `(id, features)` rows after `afterId`, in id order, at most `limit`: the select a
 * feature stream wraps in `COPY (...) TO`, which takes no parameters (values inlined with
 * {@link copyLiteral}, which refuses anything but ids and numbers).
 */
export function poolFeaturesCopy(scope: PoolScope): (afterId: string, limit: number) => string {
  const r = scope.range;
  const range =
    (r && r.afterId !== '0' ? ` AND i.id > ${copyLiteral(r.afterId)}` : '') +
    (r?.lastId ? ` AND i.id <= ${copyLiteral(r.lastId)}` : '');
  const where = `i.dataset_id = ${copyLiteral(scope.datasetId)} AND i.split = 'POOL'${range}
    AND ${poolEligibility('i.id', scope.labels, scope.roundId ? copyLiteral(scope.roundId) : null)}`;
  return chunkSelect(where);
}

/**
 * Rows of the dataset's items of `split` that have a current label (of `labels`), like
 * {@link poolFeaturesCopy}: k-center's labelled centres, auto-labelling's validation set.
 */
export function labelledFeaturesCopy(
  datasetId: string,
  split: 'POOL' | 'VALIDATION',
  labels: LabelSources,
): (afterId: string, limit: number) => string {
  const where = `i.dataset_id = ${copyLiteral(datasetId)} AND i.split = '${split === 'POOL' ? 'POOL' : 'VALIDATION'}'
    AND ${hasCurrentLabel('i.id', labels)}`;
  return chunkSelect(where);
}

/**
 * Of `itemIds` (pool items scored a while ago), the ones still eligible, as text ids: an item
 * labelled, or queued by another round, meanwhile is passed over. Run under the budget lock.
 */
export function stillEligible(itemIds: readonly string[], scope: PoolScope): SqlStatement {
  return sql(
    `SELECT t.i::text AS id FROM unnest($1::bigint[]) AS t(i)
     WHERE ${poolEligibility('t.i', scope.labels, scope.roundId ? '$2::uuid' : null)}`,
    scope.roundId ? [itemIds, scope.roundId] : [itemIds],
  );
}

/**
 * The ids of the imported (not synthetic) POOL items a round may pick, as text, in id order:
 * what `drawValidationSample` draws its random sample from.
 */
export function eligiblePoolIds(datasetId: string): SqlStatement {
  return sql(
    `SELECT i.id::text AS id FROM item i
     WHERE i.dataset_id = $1 AND i.split = 'POOL' AND i.origin = 'IMPORTED'
       AND ${poolEligibility('i.id', 'any', null)}
     ORDER BY i.id`,
    [datasetId],
  );
}

/**
 * Moves POOL items into the VALIDATION split (a random draw held out from the pool), keeping
 * `dataset_pool_count` (what feature caches check themselves against) in step: the item
 * triggers count inserts and deletes only.
 */
export function moveToValidation(itemIds: readonly string[]): SqlStatement {
  return sql(
    `WITH moved AS (
       UPDATE item SET split = 'VALIDATION' WHERE id = ANY($1::bigint[]) AND split = 'POOL'
       RETURNING dataset_id
     )
     UPDATE dataset_pool_count p SET pool_items = p.pool_items - m.c
     FROM (SELECT dataset_id, count(*)::int AS c FROM moved GROUP BY dataset_id) m
     WHERE p.dataset_id = m.dataset_id`,
    [itemIds],
  );
}

/**
 * Every POOL item of the dataset, eligible or not, after `afterId`: what a feature cache holds
 * (features never change after import, and neither does an item's split).
 */
export function poolItemsCopy(datasetId: string): (afterId: string, limit: number) => string {
  return chunkSelect(`i.dataset_id = ${copyLiteral(datasetId)} AND i.split = 'POOL'`);
}

/**
 * What a feature cache checks itself against: how many POOL items the dataset holds (`n`, kept
 * by triggers on `item`: one row read), the largest of their ids (`maxId`, text; one step down
 * the `(dataset_id, split, id)` index) and when the dataset was made (`createdMs`, which tells
 * a dataset from another of the same id).
 */
export function poolItemCount(datasetId: string): SqlStatement {
  return sql(
    `SELECT coalesce((SELECT p.pool_items FROM dataset_pool_count p WHERE p.dataset_id = d.id), 0) AS n, (extract(epoch FROM d.created_at) * 1000)::float8 AS "createdMs",
            (SELECT max(i.id) FROM item i WHERE i.dataset_id = d.id AND i.split = 'POOL')::text AS "maxId"
     FROM dataset d WHERE d.id = $1`,
    [datasetId],
  );
}

/**
 * The complement of pool eligibility (see {@link poolEligibility}) over the dataset's items:
 * the ids (`id`, text) that have a current label (of `scope.labels`) or wait in an open or tied
 * query of another round. Read from `label` and `label_query` alone, through their dataset
 * indexes: a round that holds its pool's vectors elsewhere (a feature cache) filters them with
 * it without scanning the wide `item` rows. May name items of other splits; callers ignore those.
 */
export function poolExclusions(scope: PoolScope): SqlStatement {
  const bySource = scope.labels === 'any' ? '' : ` AND l.source IN ('HUMAN', 'IMPORT')`;
  const otherRound = scope.roundId ? ' AND lq.round_id <> $2::uuid' : '';
  return sql(
    `SELECT l.item_id::text AS id FROM label l
       WHERE l.dataset_id = $1 AND l.superseded_at IS NULL${bySource}
     UNION
     SELECT lq.item_id::text FROM label_query lq
       WHERE lq.dataset_id = $1 AND lq.status IN ('OPEN', 'NEEDS_REVIEW')${otherRound}`,
    scope.roundId ? [scope.datasetId, scope.roundId] : [scope.datasetId],
  );
}
