/** The shared counters of the per-key rate limits (`quarry_rate_limit`, an UNLOGGED table). */
import { sql, type SqlStatement } from './statement';

/**
 * Adds `points[i]` to counter `keys[i]`; a counter that is new, or whose window ended by `nowMs`,
 * starts again with `points[i]` and the window end `expire[i]` (ms since the epoch). Returns each
 * counter's `key`, `points` and `expire`. Callers pass the keys sorted, so that two processes
 * adding to the same counters lock them in the same order and never deadlock.
 */
export function addToCounters(
  keys: readonly string[],
  points: readonly number[],
  expire: readonly number[],
  nowMs: number,
): SqlStatement {
  return sql(
    `INSERT INTO quarry_rate_limit AS c (key, points, expire)
     SELECT k, p, e FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(k, p, e)
     ON CONFLICT (key) DO UPDATE SET
       points = CASE WHEN c.expire IS NULL OR c.expire <= $4 THEN excluded.points
                     ELSE c.points + excluded.points END,
       expire = CASE WHEN c.expire IS NULL OR c.expire <= $4 THEN excluded.expire ELSE c.expire END
     RETURNING key, points, expire::float8 AS expire`,
    [keys, points, expire, nowMs],
  );
}

/** Drops counters whose window ended before `beforeMs` (ms since the epoch). */
export function deleteExpiredCounters(beforeMs: number): SqlStatement {
  return sql('DELETE FROM quarry_rate_limit WHERE expire < $1', [beforeMs]);
}
