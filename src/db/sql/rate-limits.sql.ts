/** The shared counters of the per-key rate limits (`quarry_rate_limit`, an UNLOGGED table). */
import { sql, type SqlStatement } from './statement';

/**
 * Adds `points[i]` to counter `keys[i]` (made with `expire[i]`, ms since the epoch, when new) and
 * returns every counter's total (`key`, `points`). Callers pass the keys sorted, so that two
 * processes adding to the same counters lock them in the same order and never deadlock.
 */
export function addToCounters(
  keys: readonly string[],
  points: readonly number[],
  expire: readonly number[],
): SqlStatement {
  return sql(
    `INSERT INTO quarry_rate_limit (key, points, expire)
     SELECT k, p, e FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(k, p, e)
     ON CONFLICT (key) DO UPDATE SET points = quarry_rate_limit.points + excluded.points
     RETURNING key, points`,
    [keys, points, expire],
  );
}

/** Drops counters whose window ended before `beforeMs` (ms since the epoch). */
export function deleteExpiredCounters(beforeMs: number): SqlStatement {
  return sql('DELETE FROM quarry_rate_limit WHERE expire < $1', [beforeMs]);
}
