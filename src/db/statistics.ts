/**
 * Planner statistics kept fresh by Quarry itself, after its own bulk writes (imports, a round's
 * queries and slots, labels, predictions). PGlite has no autovacuum at all, and PostgreSQL's may
 * be off or behind: on stale statistics, claims on a fresh round took seconds instead of
 * milliseconds and successive rounds over one pool slowed down (nested-loop anti-joins against
 * a label_query the planner believed empty).
 *
 * The rule is autovacuum's own default (`autovacuum_analyze_threshold` 50 plus
 * `autovacuum_analyze_scale_factor` 0.1 of the table): a write of more rows than that, compared
 * with the row count of the table's last ANALYZE, analyzes the table before the writer commits.
 * Counting the rows written rather than reading `pg_stat_user_tables` keeps the rule exact on
 * PGlite, whose cumulative statistics are not flushed when a statement ends.
 */
import {
  analyze,
  plannedPoolRows,
  plannerRowEstimate,
  poolItemCount,
  type AnalyzedTable,
} from './sql/statistics.sql';
import { run, type Queryable } from './sql/statement';

/** Rows a write must add, at least, before the table is analyzed (autovacuum's default). */
export const ANALYZE_MIN_ROWS = 50;
/** Share of the table's rows a write must add before the table is analyzed. */
export const ANALYZE_SCALE_FACTOR = 0.1;

/**
 * After writing `rowsWritten` rows to `table` in `m`'s transaction: ANALYZE the table when the
 * write is large against what the planner knows of it. Returns whether it did.
 */
export async function refreshStatistics(
  m: Queryable,
  table: AnalyzedTable,
  rowsWritten: number,
): Promise<boolean> {
  if (rowsWritten < ANALYZE_MIN_ROWS) return false;
  const [{ rows }] = await run<{ rows: number }>(m, plannerRowEstimate(table));
  if (rowsWritten < ANALYZE_MIN_ROWS + ANALYZE_SCALE_FACTOR * Math.max(rows, 0)) return false;
  await run(m, analyze(table));
  return true;
}

/** How far (as a factor, either way) the planner's estimate may be from the truth. */
export const ESTIMATE_TOLERANCE = 2;

/**
 * After an import into `datasetId` in `m`'s transaction (`poolRows` POOL items, `otherRows` of
 * other splits): ANALYZE `item` when the planner's estimate of the dataset's POOL items (what
 * every round's pool reads filter on) is off by more than {@link ESTIMATE_TOLERANCE} either way
 * (and by {@link ANALYZE_MIN_ROWS} at least); other splits keep the autovacuum rule. Returns
 * whether it analyzed.
 *
 * Why not the autovacuum rule for all: an import sent in batches of 10,000 grows the table by
 * more than 10% with every batch up to 100,000 items, and each ANALYZE reads up to 30,000 rows
 * (80-600 ms of a 10,000-item import on the bench). The planner already scales the row count of
 * its last ANALYZE to the table's current size in pages, so growth alone misleads it only where
 * the distribution moved: a dataset it has never seen (estimated at 1 row: the nested loops of
 * issue 16) or one that grew far faster than the table. This rule catches exactly those; a
 * 100,000-item import into a fresh table analyzes once, and a new dataset is analyzed at its
 * first batch and then each time it doubles against the rest.
 */
export async function refreshItemStatistics(
  m: Queryable,
  datasetId: string,
  written: { poolRows: number; otherRows: number },
): Promise<boolean> {
  if (written.poolRows >= ANALYZE_MIN_ROWS) {
    const [{ n: actual }] = await run<{ n: number }>(m, poolItemCount(datasetId));
    const [row] = await run<{ 'QUERY PLAN': unknown }>(m, plannedPoolRows(datasetId));
    const raw = row['QUERY PLAN'];
    const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as {
      Plan: { 'Plan Rows': number };
    }[];
    const planned = plan[0].Plan['Plan Rows'];
    const off =
      Math.abs(actual - planned) >= ANALYZE_MIN_ROWS &&
      (actual > ESTIMATE_TOLERANCE * planned || planned > ESTIMATE_TOLERANCE * actual);
    if (off) {
      await run(m, analyze('item'));
      return true;
    }
  }
  return refreshStatistics(m, 'item', written.otherRows);
}
