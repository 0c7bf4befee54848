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
  const where = `i.dataset_id = ${copyLiteral(scope.datasetId)} AND i.split = 'POOL'
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

/** Moves items into the VALIDATION split (a random draw held out from the pool). */
export function moveToValidation(itemIds: readonly string[]): SqlStatement {
  return sql(`UPDATE item SET split = 'VALIDATION' WHERE id = ANY($1::bigint[])`, [itemIds]);
}
