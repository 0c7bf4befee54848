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
import { analyze, plannerRowEstimate, type AnalyzedTable } from './sql/statistics.sql';
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
