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

/**
 * Reserves up to `want` points (no more than `limit` in a window) of counter `key`: a counter whose
 * window ended by `nowMs` starts again, with the window end `expire` (ms since the epoch). Returns
 * `granted` (the points reserved now), `points` (the counter's total after) and `expire`; no row
 * when the counter does not exist yet (see {@link startCounter}). The sub-select locks the row and
 * reads it as it is after any concurrent reservation, so `granted` is exact.
 */
export function reserveFromCounter(
  key: string,
  want: number,
  limit: number,
  expire: number,
  nowMs: number,
): SqlStatement {
  return sql(
    `UPDATE quarry_rate_limit AS c SET
       points = CASE WHEN o.expire IS NULL OR o.expire <= $5 THEN LEAST($2::int, $3::int)
                     ELSE o.points + LEAST($2::int, GREATEST(0, $3::int - o.points)) END,
       expire = CASE WHEN o.expire IS NULL OR o.expire <= $5 THEN $4::bigint ELSE o.expire END
     FROM (SELECT key, points, expire FROM quarry_rate_limit WHERE key = $1 FOR UPDATE) AS o
     WHERE c.key = o.key
     RETURNING CASE WHEN o.expire IS NULL OR o.expire <= $5 THEN c.points
                    ELSE c.points - o.points END AS granted,
               c.points, c.expire::float8 AS expire`,
    [key, want, limit, expire, nowMs],
  );
}

/**
 * Starts counter `key` with `granted` points and the window end `expire`; no row when another
 * process started it first (reserve from it then).
 */
export function startCounter(key: string, granted: number, expire: number): SqlStatement {
  return sql(
    `INSERT INTO quarry_rate_limit (key, points, expire) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO NOTHING
     RETURNING points AS granted, points, expire::float8 AS expire`,
    [key, granted, expire],
  );
}
