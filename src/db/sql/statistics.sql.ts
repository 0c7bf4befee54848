/**
 * Planner statistics. PGlite has no autovacuum and PostgreSQL's may be off or behind, so after a
 * bulk write Quarry refreshes the statistics of the tables it wrote itself (see
 * `src/db/statistics.ts`): a plan chosen on a table the planner believes empty flips from an
 * index walk to a sort of the whole queue, or from a hash anti-join to a nested loop.
 */
import { sql, type SqlStatement } from './statement';

/**
 * The tables Quarry writes in bulk, with the columns its plans depend on. `item` leaves out its
 * wide `features` and `payload`: no plan filters on them, and they would make ANALYZE read and
 * compare 512-byte values.
 */
export const ANALYZED_TABLES = {
  item: 'item (id, dataset_id, external_id, split, origin, ground_truth, created_at)',
  label: 'label',
  label_query: 'label_query',
  query_slot: 'query_slot',
  prediction: 'prediction',
} as const;

export type AnalyzedTable = keyof typeof ANALYZED_TABLES;

/** The planner's row count of `table` as of its last ANALYZE (-1: never analyzed). */
export function plannerRowEstimate(table: AnalyzedTable): SqlStatement {
  return sql('SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = $1::regclass', [table]);
}

/**
 * Refreshes `table`'s statistics. It may run inside the writer's transaction: PostgreSQL counts
 * the transaction's own new rows as live, and the new statistics become visible when it
 * commits. ANALYZE takes SHARE UPDATE EXCLUSIVE on the table, which no read or write waits for.
 */
export function analyze(table: AnalyzedTable): SqlStatement {
  // The statement names a table, which no parameter can: only the fixed list above is allowed.
  const target: string | undefined = ANALYZED_TABLES[table];
  if (!Object.hasOwn(ANALYZED_TABLES, table) || !target) {
    throw new TypeError(`${JSON.stringify(table)} is not a table Quarry analyzes`);
  }
  return sql(`ANALYZE ${target}`);
}

/**
 * The planner's estimate of a dataset's POOL items, from a plan of the filter every round's pool
 * reads start from: `EXPLAIN (FORMAT JSON)` (the JSON plan in `plan`; PGlite may answer it as
 * text). The parameter is bound before planning, so the estimate uses the dataset's own most
 * common value entry, and the table's row count scaled to its current size in pages.
 */
export function plannedPoolRows(datasetId: string): SqlStatement {
  return sql(`EXPLAIN (FORMAT JSON) SELECT 1 FROM item WHERE dataset_id = $1 AND split = 'POOL'`, [
    datasetId,
  ]);
}

/** How many POOL items a dataset holds (`n`), as the item triggers keep it. */
export function poolItemCount(datasetId: string): SqlStatement {
  return sql(
    'SELECT coalesce((SELECT pool_items FROM dataset_pool_count WHERE dataset_id = $1), 0)::float8 AS n',
    [datasetId],
  );
}
